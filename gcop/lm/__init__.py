"""Language models: in-process local models, the model registry, and metered LiteLLM LMs.

Exports load lazily so that ``import gcop.lm`` does not import torch or LiteLLM.
"""

from gcop.lazy_exports import lazy_exports

_EXPORTS = {
    "as_lm": "gcop.lm.resolve",
    "check_routable": "gcop.lm.resolve",
    "MeteredLM": "gcop.lm.metered",
    "ChatCompletion": "gcop.lm.provider",
    "register_backend": "gcop.lm.provider",
    "unregister_backend": "gcop.lm.provider",
    "LocalLM": "gcop.lm.local",
    "shrink_adapter": "gcop.lm.adapter_rank",
    "resolve_model": "gcop.lm.model_cache",
    "available_models": "gcop.lm.registry",
    "tiny_model": "gcop.lm.tiny",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("gcop.lm", _EXPORTS)
