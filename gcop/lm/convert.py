"""Turn what a user passes as an LM (model string, ``dspy.LM``, ``LocalLM``) into a metered LM."""

from __future__ import annotations

import logging
from typing import Any

from gcop.cost import CostLedger

logger = logging.getLogger(__name__)

LMLike = Any  # str | dspy.LM | gcop.LocalLM; kept loose so importing this module stays cheap


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


def local_or_string(model: str, role: str, **kwargs: Any):
    """A ``gcop.LocalLM`` for a registry name or a local folder; any other model string (a
    LiteLLM route such as ``openai/gpt-4.1-mini``) is returned as it is.

    ``role`` names the local instance (``<model>-<role>``), so a guide and a core built from the
    same weights are served separately; ``kwargs`` go to ``LocalLM``.
    """
    from pathlib import Path

    from gcop.lm.registry import available_models

    if model in available_models() or Path(model).exists():
        from gcop.lm.local import LocalLM

        return LocalLM(model, name=f"{model.replace('/', '-')}-{role}", **kwargs)
    return model


def as_lm(lm: LMLike, *, ledger: CostLedger | None = None, role: str = "lm", **kwargs: Any):
    """A :class:`~gcop.lm.metered.MeteredLM` for ``lm``, recording into ``ledger`` under ``role``.

    ``kwargs`` are default LM settings (temperature, max_tokens, ...); settings already on a
    ``dspy.LM`` win over them.
    """
    import dspy

    from gcop.lm.metered import MeteredLM

    ledger = ledger if ledger is not None else CostLedger()
    if isinstance(lm, MeteredLM):
        metered = lm.copy()
        metered.ledger, metered.role = ledger, role
        return metered
    if isinstance(lm, dspy.LM):
        settings = {**kwargs, **lm.kwargs, "cache": lm.cache, "num_retries": lm.num_retries}
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
    return MeteredLM(model, ledger=ledger, role=role, **kwargs)
