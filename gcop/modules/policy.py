"""``GuideCorePolicy``: the guide writes a strategy, the core executes it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import dspy

from gcop.cost import CostLedger, cost_scope, summarize
from gcop.lm.convert import LMLike
from gcop.modules.core import Core
from gcop.modules.guide import Guide

POLICY_FILE = "policy.json"
CORE_STATE_FILE = "core_program.json"
GUIDE_DIR = "guide"


class GuideCorePolicy(dspy.Module):
    """A guide–core policy (GCoP).

    Args:
        guide: the :class:`Guide`; ``None`` gives the core alone (the core-only baseline).
        core: a :class:`Core`, or an existing DSPy program to wrap (then ``core_lm`` is its LM).
        core_lm: the LM for a wrapped program (ignored when ``core`` is already a ``Core``).
        guided: ``False`` runs the core without the guide (unguided mode, for baselines).
        strict: ``True`` (ExecTune) sends only a parsed, valid strategy block to the core and runs
            it unguided otherwise; ``False`` (the Advisor baseline, trained without a format
            gate) sends an unparsable completion to the core as it is.
    """

    def __init__(
        self,
        guide: Guide | None,
        core: Core | dspy.Module,
        *,
        core_lm: LMLike | None = None,
        guided: bool = True,
        strict: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(core, Core):
            if core_lm is None:
                raise ValueError("wrapping a DSPy program as the core needs core_lm=<model>")
            core = Core(core, core_lm)
        self.guide = guide
        self.core = core
        self.guided = guided and guide is not None
        self.strict = strict
        self.ledger: CostLedger = core.ledger
        if guide is not None:
            guide.lm.ledger = self.ledger
        self.artifacts: dict[
            str, Any
        ] = {}  # certificate, training summaries: saved with the policy

    def forward(self, **inputs: Any) -> dspy.Prediction:
        """Guide (if guided) then core. The prediction carries the core's own output fields plus
        ``strategy``, ``valid``, ``reason`` and ``cost`` (a :class:`gcop.cost.CostSummary`)."""
        with cost_scope() as calls:
            strategy, valid, reason = "", False, "unguided"
            if self.guided:
                plan = self.guide(**inputs)
                strategy, valid, reason = plan.strategy, plan.valid, plan.reason
                if not valid and not self.strict:
                    strategy = plan.completion.strip()
            # In strict mode an invalid strategy never reaches the core: it runs unguided.
            prediction = self.core(
                strategy=strategy if valid or not self.strict else None, **inputs
            )
        fields = dict(prediction.items())
        fields.update(strategy=strategy, valid=valid, reason=reason, cost=summarize(calls))
        return dspy.Prediction(**fields)

    def unguided(self) -> GuideCorePolicy:
        """A copy that runs the core alone (same core, same ledger)."""
        other = copy.deepcopy(self)
        other.guided = False
        return other

    def with_core(self, lm: LMLike, **lm_kwargs: Any) -> GuideCorePolicy:
        """A copy whose core runs on another LM; the (trained) guide is kept."""
        other = copy.deepcopy(self)
        other.core = self.core.with_lm(lm, **lm_kwargs)
        return other

    def save(self, path: str | Path) -> Path:
        """Write the policy to a folder: models, core program state, guide weights, artifacts."""
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"cannot save the policy to {folder}: it is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "guided": self.guided,
            "strict": self.strict,
            "core_model": self.core.lm.model,
            "core_lm_kwargs": _jsonable(self.core.lm.kwargs),
            "artifacts": self.artifacts,
        }
        if self.guide is not None:
            state["guide_model"] = self.guide.lm.model
            if self.guide.local_lm is not None:
                self.guide.local_lm.save(folder / GUIDE_DIR)
                state["guide_local_lm"] = GUIDE_DIR
        self.core.program.save(str(folder / CORE_STATE_FILE))
        (folder / POLICY_FILE).write_text(json.dumps(state, indent=2, default=str))
        return folder

    def load(self, path: str | Path) -> GuideCorePolicy:
        """Restore what :meth:`save` wrote into this policy (same signatures), and return it."""
        folder = Path(path)
        state_file = folder / POLICY_FILE
        if not state_file.is_file():
            raise ValueError(f"{folder} holds no saved policy ({POLICY_FILE} is missing)")
        state = json.loads(state_file.read_text())
        self.guided = state["guided"] and self.guide is not None
        self.strict = state.get("strict", True)
        self.artifacts = state.get("artifacts", {})
        self.core.program.load(str(folder / CORE_STATE_FILE))
        if self.core.lm.model != state["core_model"]:
            self.core = self.core.with_lm(state["core_model"], **state["core_lm_kwargs"])
        if self.guide is not None and state.get("guide_local_lm"):
            from gcop.lm.local import LocalLM

            local = LocalLM.load(folder / state["guide_local_lm"])
            settings = dict(self.guide.lm.kwargs)
            self.guide = Guide(
                self.guide.signature,
                local,
                token_budget=self.guide.token_budget,
                ledger=self.ledger,
                **settings,
            )
        return self


def _jsonable(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if isinstance(v, str | int | float | bool | None)}
