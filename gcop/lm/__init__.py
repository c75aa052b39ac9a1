"""Language models: in-process local models, the model registry, and metered LiteLLM LMs.

Exports load lazily so that ``import gcop.lm`` does not import torch or LiteLLM.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "as_lm": "gcop.lm.convert",
    "check_routable": "gcop.lm.convert",
    "MeteredLM": "gcop.lm.metered",
    "ChatCompletion": "gcop.lm.provider",
    "register_backend": "gcop.lm.provider",
    "unregister_backend": "gcop.lm.provider",
    "LocalLM": "gcop.lm.local",
    "resolve_model": "gcop.lm.model_cache",
    "available_models": "gcop.lm.registry",
    "tiny_model": "gcop.lm.tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gcop.lm' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
