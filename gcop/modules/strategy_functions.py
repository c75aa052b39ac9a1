"""Functions a policy applies to strategies (a core's ``render``, a guide's ``consensus``), by name.

``policy.json`` names them so that loading a saved policy restores them. Only registered
functions are restored, never an arbitrary name read from a file: gcop's own register
themselves when their module is imported (e.g. :mod:`gcop.tasks.gsm8k_plan_value`), yours with
:func:`register_strategy_function` before the policy is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])

_REGISTERED: dict[str, Callable[..., Any]] = {}


def qualified_name(function: Callable[..., Any] | None) -> str | None:
    """``module.qualname`` of ``function``, the name ``policy.json`` records (``None`` for none).

    >>> qualified_name(len)
    'builtins.len'
    """
    if function is None:
        return None
    return f"{function.__module__}.{getattr(function, '__qualname__', repr(function))}"


def register_strategy_function(function: Function) -> Function:
    """Let a saved policy that names ``function`` (as ``render`` or ``consensus``) restore it;
    usable as a decorator."""
    if not callable(function):
        raise TypeError(f"only a function can be registered, got {function!r}")
    _REGISTERED[qualified_name(function)] = function
    return function


def registered_strategy_function(name: str) -> Callable[..., Any] | None:
    """The registered function called ``name``, or ``None``. A name inside gcop imports its
    module first, so that gcop's own functions are found without an import of the caller's."""
    if name not in _REGISTERED and name.startswith("gcop."):
        module = name.rpartition(".")[0]
        try:
            importlib.import_module(module)
        except ImportError:
            return None
    return _REGISTERED.get(name)
