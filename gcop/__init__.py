"""gcop: steer black-box LLMs with a small trained guide model (ExecTune, guide–core policies).

Public names load on first use, so ``import gcop`` stays cheap (no torch, transformers, trl or
LiteLLM until a model is actually needed).
"""

from importlib import import_module
from typing import Any

from gcop.lazy_exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Guide": "gcop.modules.guide",
    "Core": "gcop.modules.core",
    "GuideCorePolicy": "gcop.modules.policy",
    "StrategyKit": "gcop.modules.strategy_kit",
    "register_kit": "gcop.modules.strategy_kit",
    "Task": "gcop.tasks.task",
    "LocalLM": "gcop.lm.local",
    "CostLedger": "gcop.cost",
    "net_utility": "gcop.cost",
    "parse_strategy": "gcop.strategy",
    "ExecTune": "gcop.optimizers.exectune",
    "ExecTuneConfig": "gcop.optimizers.config",
    "Advisor": "gcop.baselines.advisor",
}
_SUBMODULES = {
    "signatures",
    "tasks",
    "lm",
    "optimizers",
    "baselines",
    "strategy",
    "cost",
    "sandbox",
    "evaluate",
    "report",
}

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


_exported = lazy_exports("gcop", _EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f"gcop.{name}")
    return _exported(name)
