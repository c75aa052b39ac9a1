"""Optional dependencies: which extra installs each, and the error that says so.

``pip install gcop`` brings what a guide–core policy needs with API models (DSPy, LiteLLM,
pydantic); ``gcop[local]`` adds in-process models (torch, transformers, peft, gguf) and
``gcop[train]`` the trainers (TRL, datasets, accelerate). Code that imports one of them does so
inside :func:`optional_imports`, so a missing one ends in an ``ImportError`` naming the extra.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

# top-level module -> the extra that installs it (see pyproject.toml)
EXTRAS = {
    "torch": "local",
    "transformers": "local",
    "peft": "local",
    "gguf": "local",
    "filelock": "local",
    "trl": "train",
    "datasets": "train",
    "accelerate": "train",
    "vllm": "vllm",
}
# what each extra adds over the ones it includes
EXTRA_MODULES = {
    extra: [module for module, home in EXTRAS.items() if home == extra]
    for extra in ("local", "train", "vllm")
}
INCLUDES = {"local": (), "train": ("local",), "vllm": ("train", "local")}


def missing_message(module: str, extra: str) -> str:
    """The one line a missing optional dependency reports.

    >>> print(missing_message("trl", "train"))
    trl is not installed; it comes with gcop's [train] extra: pip install "gcop[train]"
    """
    install = f'pip install "gcop[{extra}]"'
    return f"{module} is not installed; it comes with gcop's [{extra}] extra: {install}"


@contextmanager
def optional_imports() -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` for an optional dependency into one naming its extra.

    >>> import sys
    >>> saved = sys.modules.get("trl")
    >>> sys.modules["trl"] = None  # as if trl were not installed
    >>> try:
    ...     with optional_imports():
    ...         import trl
    ... except ModuleNotFoundError as error:
    ...     print(error)
    trl is not installed; it comes with gcop's [train] extra: pip install "gcop[train]"
    >>> if saved is None:  # trl was not imported before: importable again, not blocked
    ...     del sys.modules["trl"]
    ... else:
    ...     sys.modules["trl"] = saved
    """
    try:
        yield
    except ModuleNotFoundError as error:
        top = (error.name or "").partition(".")[0]
        if top not in EXTRAS:
            raise
        raise ModuleNotFoundError(missing_message(top, EXTRAS[top]), name=top) from error


def require_extra(extra: str) -> None:
    """Raise the same error as :func:`optional_imports` unless every module of ``extra`` (and of
    the extras it includes) can be imported: a check before work that would need them later."""
    if extra not in INCLUDES:
        raise ValueError(f"unknown extra {extra!r}: one of {sorted(INCLUDES)}")
    for name in (*INCLUDES[extra], extra):
        for module in EXTRA_MODULES[name]:
            if importlib.util.find_spec(module) is None:
                raise ModuleNotFoundError(missing_message(module, extra), name=module)
