"""Baselines ExecTune is compared with: the Advisor (GRPO on the task reward alone) and ICL (the
core shown the training pairs nearest to each task).

Exports load lazily so that ``import gcop.baselines`` does not import DSPy's models or torch.
"""

from gcop.lazy_exports import lazy_exports

_EXPORTS = {
    "Advisor": "gcop.baselines.advisor",
    "ICLPolicy": "gcop.baselines.icl",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("gcop.baselines", _EXPORTS)
