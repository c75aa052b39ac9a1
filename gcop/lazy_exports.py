"""Lazy exports for a package's ``__init__``: names load on first use, so importing the package
stays cheap (no torch, transformers, trl or LiteLLM until a model is needed)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package`` that imports ``exports[name]`` (a module path)
    on first use and returns its ``name``.

    >>> getattr_ = lazy_exports("demo", {"dumps": "json"})
    >>> getattr_("dumps").__module__
    'json'
    >>> getattr_("loads")
    Traceback (most recent call last):
    ...
    AttributeError: module 'demo' has no attribute 'loads'
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(exports[name]), name)

    return __getattr__
