"""Turn what a user passes as an LM (model string, ``dspy.LM``, ``LocalLM``) into a metered LM.

Every LM built here sends each request once: DSPy's own retries are off (``num_retries=0``), since
gcop retries transient failures itself, with backoff, and records each attempt in the ledger (see
:mod:`gcop.lm.retries`). Every request has a timeout (:func:`default_timeout`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gcop.cost import CostLedger

logger = logging.getLogger(__name__)

LMLike = Any  # str | dspy.LM | gcop.LocalLM; kept loose so importing this module stays cheap

LOCAL_TIMEOUT_S = 20.0  # a server on this machine: two timeouts and a backoff well within a minute
API_TIMEOUT_S = 300.0  # a hosted API: room for long generations
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def server_address(model: str, settings: dict[str, Any] | None = None) -> str | None:
    """Where requests for ``model`` go: the ``api_base``/``base_url`` setting, else the address
    the environment gives its provider (``OPENAI_API_BASE``, ``HOSTED_VLLM_API_BASE``, ... or
    ``<PROVIDER>_BASE_URL``, as DSPy and LiteLLM read them); ``None`` for the provider's own
    endpoint and for in-process ``local/<name>`` models.

    >>> server_address("openai/m", {"api_base": "http://127.0.0.1:8000/v1"})
    'http://127.0.0.1:8000/v1'
    >>> server_address("local/tiny-core") is None
    True
    """
    from gcop.lm import provider

    if model.startswith(f"{provider.PROVIDER}/"):
        return None
    settings = settings or {}
    explicit = settings.get("api_base") or settings.get("base_url")
    if explicit:
        return str(explicit)
    prefix = (model.split("/", 1)[0] if "/" in model else "openai").upper()
    names = (f"{prefix}_API_BASE", f"{prefix}_BASE_URL")
    return next((os.environ[name] for name in names if os.environ.get(name)), None)


def default_timeout(model: str, api_base: str | None = None) -> float | None:
    """Seconds a request to ``model`` may take before it fails, by one rule for every route.

    ``LOCAL_TIMEOUT_S`` for a server on this machine, whether named by ``api_base`` or by the
    environment (:func:`server_address`), ``API_TIMEOUT_S`` for anything else, ``None`` for
    in-process ``local/<name>`` models (no socket that could hang; their generation is bounded
    by ``max_tokens``). Pass ``timeout=`` to override. A server that lets one request time out is
    twice in a row is not asked again at once (:mod:`gcop.lm.unanswered`), so a hung local server
    releases a run within a minute: two timeouts and one backoff.

    >>> default_timeout("openai/gpt-4.1-mini")
    300.0
    >>> default_timeout("openai/my-model", "http://127.0.0.1:8000/v1")
    20.0
    >>> default_timeout("local/smollm2-135m") is None
    True
    """
    from gcop.lm import provider

    if model.startswith(f"{provider.PROVIDER}/"):
        return None
    address = server_address(model, {"api_base": api_base})
    host = urlsplit(address).hostname if address else None
    return LOCAL_TIMEOUT_S if host in _LOCAL_HOSTS else API_TIMEOUT_S


def missing_keys(model: str) -> list[str]:
    """The credentials LiteLLM expects in the environment for ``model`` that are not set.

    ``[]`` for ``local/<name>`` models and for providers that need none; a server address with a
    default (``OLLAMA_API_BASE``) is not a missing credential.
    """
    import litellm

    from gcop.lm import provider

    if model.startswith(f"{provider.PROVIDER}/"):
        return []
    missing = litellm.validate_environment(model).get("missing_keys") or []
    return [name for name in missing if "BASE" not in name and "URL" not in name]


def check_routable(model: str) -> None:
    """Raise ``ValueError`` when LiteLLM cannot route ``model`` (e.g. a typo in the provider)."""
    import litellm

    from gcop.lm import provider

    if model.startswith(f"{provider.PROVIDER}/"):
        provider.get_backend(model)
        return
    try:
        litellm.get_llm_provider(model)
    except Exception as error:
        raise ValueError(
            f"LiteLLM cannot route model {model!r}: use 'provider/model' such as "
            "'openai/gpt-4.1-mini', 'anthropic/claude-3-5-haiku-latest', or 'local/<name>' "
            f"for an in-process gcop.LocalLM ({error})"
        ) from None


_NAMED_BACKENDS: dict[str, Callable[[], str]] = {}


def register_named_backend(name: str, serve: Callable[[], str]) -> None:
    """Let every role name ``name`` (e.g. a task's offline teacher, ``symbolic-planner``):
    ``serve()`` registers the backend on first use and returns its ``local/<name>`` string."""
    if not callable(serve):
        raise TypeError(f"serve must be a function returning a model string, got {serve!r}")
    _NAMED_BACKENDS[name] = serve


def named_backends() -> dict[str, Callable[[], str]]:
    """Offline backends a role may name, as registered (:func:`register_named_backend`): a
    task's privileged teachers register theirs when the task is imported."""
    return dict(_NAMED_BACKENDS)


def resolve_lm(lm: LMLike, role: str, **local_kwargs: Any) -> LMLike:
    """The one resolver of what a user names as an LM, for every role (guide, core, teacher,
    judge).

    A ``dspy.LM`` or a ``gcop.LocalLM`` is returned as it is; a named offline backend
    (:func:`named_backends`, e.g. ``reference-planner``) is registered and its ``local/<name>``
    string returned; a registry name (``tiny``, ``smollm2-135m``) or a local model folder
    becomes a ``gcop.LocalLM`` named ``<model>-<role>`` (so a guide and a core built from the
    same weights are served apart; ``local_kwargs`` go to it); any other string is a LiteLLM
    model string (``openai/gpt-4.1-mini``, ``hosted_vllm/...``), returned as it is.
    :func:`as_lm` then meters whatever this returns.
    """
    if not isinstance(lm, str):
        return lm
    backends = named_backends()
    if lm in backends:
        return backends[lm]()
    if is_local_model(lm):
        from gcop.lm.local import LocalLM

        return LocalLM(lm, name=f"{lm.replace('/', '-')}-{role}", **local_kwargs)
    return lm


def is_local_model(name: str) -> bool:
    """Whether ``name`` is a model gcop serves in-process as a ``gcop.LocalLM``: a registry name
    (``tiny``, ``qwen2.5-coder-0.5b``) or a local model folder."""
    from gcop.lm.registry import available_models

    return name in available_models() or Path(name).exists()


def model_string(lm: LMLike) -> str:
    """The LiteLLM model string behind a resolved LM (a string, ``LocalLM`` or ``dspy.LM``)."""
    return getattr(lm, "model_string", None) or getattr(lm, "model", lm)


def as_lm(lm: LMLike, *, ledger: CostLedger | None = None, role: str = "lm", **kwargs: Any):
    """A :class:`~gcop.lm.metered.MeteredLM` for ``lm``, recording into ``ledger`` under ``role``.

    ``lm`` is anything :func:`resolve_lm` takes. ``kwargs`` are default LM settings
    (temperature, max_tokens, timeout, ...); settings already on a ``dspy.LM`` win over them.
    The result never retries on its own (``num_retries=0``): use ``ExecTuneConfig.max_retries``.
    """
    import dspy

    from gcop.lm.metered import MeteredLM

    ledger = ledger if ledger is not None else CostLedger()
    lm = resolve_lm(lm, role)
    if isinstance(lm, MeteredLM):
        metered = lm.copy(**_request_settings(lm.model, lm.kwargs))
        metered.ledger, metered.role = ledger, role
        return metered
    if isinstance(lm, dspy.LM):
        settings = {**kwargs, **lm.kwargs, "cache": lm.cache}
        settings |= _request_settings(lm.model, settings)
        return MeteredLM(lm.model, ledger=ledger, role=role, model_type=lm.model_type, **settings)
    if isinstance(lm, dspy.BaseLM):
        logger.warning("%s is not a dspy.LM: its calls are not metered", type(lm).__name__)
        return lm
    model = getattr(lm, "model_string", lm)
    if not isinstance(model, str):
        raise TypeError(
            f"an LM must be a LiteLLM model string, a dspy.LM or a gcop.LocalLM, got {type(lm)!r}"
        )
    check_routable(model)
    return MeteredLM(model, ledger=ledger, role=role, **kwargs | _request_settings(model, kwargs))


def _request_settings(model: str, settings: dict[str, Any]) -> dict[str, Any]:
    """No retries below gcop's own, and a timeout unless ``settings`` sets one."""
    extra: dict[str, Any] = {"num_retries": 0}
    address = settings.get("api_base") or settings.get("base_url")
    timeout = settings.get("timeout") or default_timeout(model, address)
    if timeout is not None:
        extra["timeout"] = timeout
    return extra
