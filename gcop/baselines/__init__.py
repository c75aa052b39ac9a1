"""Baselines ExecTune is compared with: the Advisor (GRPO on the task reward alone) and ICL (the
core shown the training pairs nearest to each task).

Exports load lazily so that ``import gcop.baselines`` does not import DSPy's models or torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Advisor": "gcop.baselines.advisor",
    "ICLPolicy": "gcop.baselines.icl",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gcop.baselines' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
