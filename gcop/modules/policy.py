"""``GuideCorePolicy``: the guide writes a strategy, the core executes it."""

from __future__ import annotations

import asyncio
import copy
import logging
from pathlib import Path
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from gcop.cost import CostLedger, attach_cost, cost_scope, summarize
from gcop.lm.resolve import LMLike
from gcop.modules.core import Core
from gcop.modules.guide import Guide
from gcop.modules.inference_settings import restore_inference
from gcop.modules.plan_consensus import backed_answer, reaches, retries_left, retry_settings
from gcop.modules.policy_file import read_policy_folder
from gcop.modules.policy_saving import save_policy, saved_core, saved_guide
from gcop.modules.strategy_adapter import plan_kept_on_parse_failure
from gcop.modules.strategy_kit import UNRENDERED, StrategyKit

logger = logging.getLogger(__name__)


class GuideCorePolicy(dspy.Module):
    """A guide–core policy (GCoP).

    Args:
        guide: the :class:`Guide`; ``None`` gives the core alone (the core-only baseline).
        core: a :class:`Core`, or an existing DSPy program to wrap (then ``core_lm`` is its LM,
            and replies must carry DSPy's field markers: build ``Core(program, lm,
            lenient=True)`` to keep those that do not).
        core_lm: the LM for a wrapped program (ignored when ``core`` is already a ``Core``);
            ``None``: the LM DSPy is configured with (``dspy.configure(lm=...)``).
        guided: ``False`` runs the core without the guide (unguided mode, for baselines).
        strict: ``True`` (ExecTune) sends only a parsed, valid strategy block to the core and runs
            it unguided otherwise; ``False`` (the Advisor baseline, trained without a format
            gate) sends an unparsable completion to the core as it is.
        kit: the task's :class:`~gcop.modules.strategy_kit.StrategyKit`, given to the guide
            (sampling, consensus) and the core (``render``); ``None`` keeps whatever kit they
            were built with. With an ``answer_key`` the core first answers alone, and where one
            of the guide's sampled strategies leads to that same answer it is kept and no
            strategy is sent: the guide steers only where none of its plans backs the core's
            own answer. With ``retries`` too, a core whose answer to the strategy sent does not
            reach it is asked again (sampled), and the first reply that does is kept.
    """

    def __init__(
        self,
        guide: Guide | None,
        core: Core | dspy.Module,
        *,
        core_lm: LMLike | None = None,
        guided: bool = True,
        strict: bool = True,
        kit: StrategyKit | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(core, Core):
            core_lm = core_lm if core_lm is not None else dspy.settings.lm
            if core_lm is None:
                raise ValueError(
                    "wrapping a DSPy program as the core needs its LM: pass core_lm=<model> or "
                    "configure one with dspy.configure(lm=...)"
                )
            core = Core(core, core_lm)
        if kit is not None:
            guide, core = _applying_kit(kit, guide, core)
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
            plan = self.guide(**inputs) if self.guided else None
            alone = self._unguided(inputs) if self._checks_answer(plan) else None
            prediction, fields = self._kept_answer(plan, alone) or self._guided(plan, inputs)
        return attach_cost(dspy.Prediction(**{**prediction, **fields}), summarize(calls))

    async def aforward(self, **inputs: Any) -> dspy.Prediction:
        """Async :meth:`forward`, for ``await policy.acall(...)``. The guide (a local model, in
        the usual case) runs in a worker thread; the core takes DSPy's async LM path."""
        with cost_scope() as calls:
            plan = await asyncio.to_thread(self.guide, **inputs) if self.guided else None
            alone = await self._aunguided(inputs) if self._checks_answer(plan) else None
            kept = self._kept_answer(plan, alone)
            prediction, fields = kept or await self._aguided(plan, inputs)
        return attach_cost(dspy.Prediction(**{**prediction, **fields}), summarize(calls))

    def _guided(self, plan: dspy.Prediction | None, inputs: dict) -> tuple[dspy.Prediction, dict]:
        """The core's answer with what the plan hands it (asked again, with the kit's
        ``retries``, where it strays from the plan), and the fields reporting the plan."""
        fields, strategy = self._plan_fields(plan), self._core_strategy(plan)
        with plan_kept_on_parse_failure(fields):
            prediction = self.core(strategy=strategy, **inputs)
        for attempt in range(1, retries_left(self.kit, strategy, prediction) + 1):
            again = self._parsed(strategy=strategy, lm_kwargs=retry_settings(attempt), **inputs)
            if reaches(self.kit, strategy, again):
                return again, fields
        return prediction, fields

    async def _aguided(self, plan: dspy.Prediction | None, inputs: dict) -> tuple:
        fields, strategy = self._plan_fields(plan), self._core_strategy(plan)
        with plan_kept_on_parse_failure(fields):
            prediction = await self.core.acall(strategy=strategy, **inputs)
        for attempt in range(1, retries_left(self.kit, strategy, prediction) + 1):
            settings = retry_settings(attempt)
            again = await self._aparsed(strategy=strategy, lm_kwargs=settings, **inputs)
            if reaches(self.kit, strategy, again):
                return again, fields
        return prediction, fields

    @property
    def kit(self) -> StrategyKit | None:
        """The kit this policy applies (its guide's, or its core's without a guide)."""
        return self.guide.kit if self.guide is not None else self.core.kit

    def _checks_answer(self, plan: dspy.Prediction | None) -> bool:
        """Whether the core answers alone first, to be compared with the guide's samples."""
        return plan is not None and self.kit is not None and self.kit.answer_key is not None

    def _unguided(self, inputs: dict) -> dspy.Prediction | None:
        """The core's answer without a plan; ``None`` for a reply that cannot be parsed."""
        return self._parsed(strategy=None, **inputs)

    async def _aunguided(self, inputs: dict) -> dspy.Prediction | None:
        return await self._aparsed(strategy=None, **inputs)

    def _parsed(self, **call: Any) -> dspy.Prediction | None:
        """The core's answer to ``call``; ``None`` for a reply that cannot be parsed."""
        try:
            return self.core(**call)
        except AdapterParseError:
            return None

    async def _aparsed(self, **call: Any) -> dspy.Prediction | None:
        try:
            return await self.core.acall(**call)
        except AdapterParseError:
            return None

    def _kept_answer(
        self, plan: dspy.Prediction | None, alone: dspy.Prediction | None
    ) -> tuple[dspy.Prediction, dict[str, Any]] | None:
        """``(alone, the fields to report)`` where the core's own answer stands: the guide sends
        nothing, or one of its sampled strategies leads to that answer; ``None`` otherwise (or
        without an unguided answer)."""
        if alone is None:
            return None
        if self._core_strategy(plan) is None:
            return alone, self._plan_fields(plan)
        fields = backed_answer(self.kit, plan, alone)
        return None if fields is None else (alone, fields)

    def _core_strategy(self, plan: dspy.Prediction | None) -> str | None:
        """What the core is handed: a valid strategy; ``None`` (run unguided) for no plan or, in
        strict mode, an invalid one; outside strict mode, an invalid plan's whole completion."""
        if plan is None:
            return None
        if plan.valid:
            return plan.strategy
        return None if self.strict else plan.completion.strip()

    def _plan_fields(self, plan: dspy.Prediction | None) -> dict[str, Any]:
        """The ``strategy``, ``valid`` and ``reason`` a prediction reports about the guide."""
        if plan is None:
            return {"strategy": "", "valid": False, "reason": "unguided"}
        strategy = self._core_strategy(plan) or plan.strategy
        reason = plan.reason
        if plan.valid and not self.core.renders(strategy):
            reason = f"{UNRENDERED}: the kit's render cannot use this plan; the core ran alone"
        return {"strategy": strategy, "valid": plan.valid, "reason": reason}

    def stats(self) -> dict[str, int]:
        """Counts to report beside accuracy (costs are in :attr:`ledger`): ``lenient_rescues``,
        the core replies kept by a lenient parse although they lacked DSPy's field markers, and
        ``unrendered``, the strategies the kit's ``render`` could not carry out."""
        return {"lenient_rescues": self.core.lenient_rescues, "unrendered": self.core.unrendered}

    def unguided(self) -> GuideCorePolicy:
        """A copy that runs the core alone (same core, same ledger)."""
        other = copy.deepcopy(self)
        other.guided = False
        return other

    def with_kit(self, kit: StrategyKit | None) -> GuideCorePolicy:
        """A copy whose guide and core apply ``kit`` (``None``: no kit) instead of this one's."""
        other = copy.deepcopy(self)
        other.guide, other.core = _applying_kit(kit, other.guide, other.core)
        return other

    def with_core(self, lm: LMLike, **lm_kwargs: Any) -> GuideCorePolicy:
        """A copy whose core runs on another LM; the (trained) guide is kept."""
        other = copy.deepcopy(self)
        other.core = self.core.with_lm(lm, **lm_kwargs)
        return other

    def save(self, path: str | Path) -> Path:
        """Write the policy to a folder: models, core program state, guide weights (a LoRA
        guide's adapter alone, over its named base model), artifacts. Unlike DSPy's
        ``Module.save``, a ``.json`` or ``.pkl`` path is refused: one state file cannot hold the
        guide's weights.

        No credential is written (``api_key``, headers, passwords in ``api_base``, any setting
        named like a secret): a loaded policy takes its keys from the environment. ``policy.json``
        also records gcop's version, the models' identities and the training configuration.
        """
        return save_policy(self, path)

    def load(self, path: str | Path, *, keep_core_lm: bool = False) -> GuideCorePolicy:
        """Restore what :meth:`save` wrote into this policy (same signatures), and return it.

        ``keep_core_lm=True`` keeps this policy's core LM instead of the saved one (the core
        program's state is still loaded): the saved guide then steers another core. On the
        saved core model the saved sampling settings (token budget, temperature) apply either
        way, with this policy's server settings (address, key, timeout). How the
        saved policy turned strategies into answers (the core's format, the strategy kit) is
        restored too
        (:mod:`~gcop.modules.inference_settings`). The folder
        is checked (schema, paths, guide weights) and every part is rebuilt before any is
        swapped in: on an error this policy is left as it was.
        """
        folder = Path(path)
        saved = read_policy_folder(folder)
        core = saved_core(self.core, folder, saved, keep_lm=keep_core_lm)
        guide = saved_guide(self.guide, folder, saved)
        guide, core = restore_inference(saved.inference, guide, core, folder=folder)
        self.core, self.guide = core, guide
        self.guided = saved.guided and guide is not None
        self.strict = saved.strict
        self.artifacts = saved.artifacts
        return self


def _applying_kit(
    kit: StrategyKit | None, guide: Guide | None, core: Core
) -> tuple[Guide | None, Core]:
    """``guide`` and ``core`` as copies that apply ``kit``; the ones passed in keep theirs."""
    if kit is not None and not isinstance(kit, StrategyKit):
        raise TypeError(f"kit must be a gcop.StrategyKit or None, got {kit!r}")
    core = copy.copy(core)
    core.kit = kit
    if guide is not None:
        guide = guide.with_lm(_guide_lm(guide), kit=kit)
    return guide, core


def _guide_lm(guide: Guide) -> Any:
    """The model a guide serves: its local model (trainable) if it has one, else its LM."""
    return guide.local_lm if guide.local_lm is not None else guide.lm
