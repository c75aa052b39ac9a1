"""The folder a :class:`~gcop.GuideCorePolicy` is saved to, and its ``policy.json``.

``policy.json`` names the models and the core's settings, never a credential (API keys come from
the environment, or from the policy it is loaded into), lists the guide's weight files with their
sha256, and records what produced the policy: gcop's version, the models' identities, the training
configuration and artifacts. :func:`read_policy_folder` checks all of it before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

logger = logging.getLogger(__name__)

POLICY_FILE = "policy.json"
CORE_STATE_FILE = "core_program.json"
GUIDE_DIR = "guide"
FORMAT_VERSION = 3  # 1: before the format had a version (no weight hashes); 2: no guide_program
MAX_POLICY_BYTES = 64 << 20  # a policy.json holds settings and training summaries: a few MB

_SECRET_WORDS = {  # anywhere in a name
    "apikey",
    "auth",
    "authorization",
    "cookie",
    "credential",
    "credentials",
    "headers",
    "passwd",
    "password",
    "secret",
}
_SECRET_ENDINGS = {"key", "token"}  # as the last word: api_key, hf_token, not token_budget
_URL_KEYS = {"api_base", "base_url"}


class SavedPolicy(BaseModel):
    """The schema of ``policy.json``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format_version: int = Field(1, ge=1, le=FORMAT_VERSION)
    gcop_version: str | None = None
    guided: bool
    strict: bool = True
    core_model: str = Field(min_length=1)
    core_lm_kwargs: dict[str, str | int | float | bool | None] = {}
    guide_model: str | None = None
    guide_local_lm: str | None = None  # the guide's LocalLM folder, inside the policy folder
    guide_files: dict[str, str] = {}  # path inside the policy folder -> sha256
    models: dict[str, dict[str, Any]] = {}  # role -> identity (see model_identity)
    training_config: dict[str, Any] | None = None
    guide_program: dict[str, Any] | None = None  # the guide predictor's DSPy state (demos, ...)
    artifacts: dict[str, Any] = {}
    # how the policy turns strategies into answers, restored on load
    # (see gcop.modules.inference_settings)
    inference: dict[str, Any] = {}


def is_secret_name(name: str) -> bool:
    """True for a setting whose name says it holds a credential.

    >>> [is_secret_name(n) for n in ("api_key", "aws_secret_access_key", "hf_token", "headers")]
    [True, True, True, True]
    >>> [is_secret_name(n) for n in ("max_tokens", "token_budget", "api_base", "temperature")]
    [False, False, False, False]
    """
    words = re.split(r"[^a-z0-9]+", name.lower())
    return words[-1] in _SECRET_ENDINGS or any(word in _SECRET_WORDS for word in words)


def public_url(url: str) -> str:
    """``url`` without a user name, a password or a query parameter named like a secret.

    >>> public_url("https://me:pw@proxy.example/v1?api-key=sk-1&region=eu")
    'https://proxy.example/v1?region=eu'
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    public = urlencode([(k, v) for k, v in query if not is_secret_name(k)])
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, public, parts.fragment))


def scrub(value: Any) -> Any:
    """``value`` with every mapping entry named like a secret dropped, at any depth, and
    addresses (``api_base``) stripped of credentials."""
    if isinstance(value, dict):
        return {
            key: public_url(item) if key in _URL_KEYS and isinstance(item, str) else scrub(item)
            for key, item in value.items()
            if not (isinstance(key, str) and is_secret_name(key))
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def public_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The LM settings worth saving: plain values, no credentials."""
    plain = {k: v for k, v in kwargs.items() if isinstance(v, str | int | float | bool | None)}
    return scrub(plain)


def file_hashes(folder: Path, sub: str) -> dict[str, str]:
    """sha256 of every file under ``folder / sub``, keyed by its path relative to ``folder``."""
    return {
        path.relative_to(folder).as_posix(): _sha256(path)
        for path in sorted((folder / sub).rglob("*"))
        if path.is_file()
    }


def fingerprint(hashes: dict[str, str]) -> str:
    """One short hash for a set of files (their paths and contents)."""
    lines = "".join(f"{path} {digest}\n" for path, digest in sorted(hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def model_identity(model: str) -> dict[str, Any]:
    """What identifies ``model``: its name and, for a served ``gcop.LocalLM``, the source it was
    loaded from or the base model under its adapter, with the pinned sha256 the registry has."""
    from gcop.lm import provider, registry

    identity: dict[str, Any] = {"model": model}
    if not model.startswith(f"{provider.PROVIDER}/"):
        return identity
    try:
        spec = getattr(provider.get_backend(model), "spec", None)
    except ValueError:
        return identity
    description = spec() if callable(spec) else {}
    source, base = description.get("model"), description.get("base")
    for key, name in (("source", source), ("base", base if base != source else None)):
        if name is not None:
            identity[key] = name
            if name in registry.MODELS:
                identity[f"{key}_sha256"] = registry.MODELS[name].sha256
    return identity


def training_config(artifacts: dict[str, Any]) -> dict[str, Any] | None:
    """The training configuration in ``artifacts``: its ``config`` entry, else each phase's."""
    if isinstance(artifacts.get("config"), dict):
        return artifacts["config"]
    phases = {
        name: value["config"]
        for name, value in artifacts.items()
        if isinstance(value, dict) and isinstance(value.get("config"), dict)
    }
    return phases or None


def write_policy_file(folder: Path, saved: SavedPolicy) -> None:
    """Write ``policy.json`` in one step: a reader sees the old file or the new one."""
    text = json.dumps(saved.model_dump(), indent=2, default=str)
    tmp = folder / f".{POLICY_FILE}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / POLICY_FILE)


def read_policy_folder(folder: Path) -> SavedPolicy:
    """Read and check a saved policy: the schema, that every path stays inside ``folder``, and
    the guide's weights against their recorded sha256. Raises ``ValueError`` naming the problem."""
    state_file = folder / POLICY_FILE
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: pass the folder GuideCorePolicy.save wrote")
    if not state_file.is_file():
        raise ValueError(f"{folder} holds no saved policy ({POLICY_FILE} is missing)")
    size = state_file.stat().st_size
    if size > MAX_POLICY_BYTES:  # refused before it is read: it would be read whole
        raise ValueError(
            f"{state_file} is {size >> 20} MB, more than a saved policy's {MAX_POLICY_BYTES >> 20} "
            "MB; it is not a file GuideCorePolicy.save wrote"
        )
    try:
        saved = SavedPolicy.model_validate_json(state_file.read_bytes())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(
            f"{state_file} is not a saved gcop policy ({problems}); save the policy again with "
            "GuideCorePolicy.save"
        ) from None
    if not (folder / CORE_STATE_FILE).is_file():
        raise ValueError(f"{folder} is incomplete: {CORE_STATE_FILE} is missing; save it again")
    for path in [saved.guide_local_lm, *saved.guide_files]:
        if path is not None:
            _inside(folder, path)
    _check_files(folder, saved)
    return saved


def _inside(folder: Path, path: str) -> None:
    target = (folder / path).resolve()
    if Path(path).is_absolute() or not target.is_relative_to(folder.resolve()):
        raise ValueError(
            f"{folder / POLICY_FILE} points outside its folder ({path!r}); a saved policy only "
            "refers to files inside it, so it is refused"
        )


def _check_files(folder: Path, saved: SavedPolicy) -> None:
    if saved.guide_local_lm is not None and not saved.guide_files:
        logger.warning("%s predates weight hashes: the guide's weights are not verified", folder)
    for path, digest in saved.guide_files.items():
        file = folder / path
        if not file.is_file():
            raise ValueError(f"{file} is missing: copy the whole policy folder, or save it again")
        if _sha256(file) != digest:
            raise ValueError(
                f"{file} is corrupted (its sha256 differs from the one saved in {POLICY_FILE}); "
                "restore it from a copy, or save the policy again"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
