"""``ExecTune``: train a guide to write strategies this core can execute (accept → SFT → GRPO)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dspy

from gcop.lm.convert import LMLike, as_lm
from gcop.modules.policy import GuideCorePolicy
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.guide_training import require_trainable

logger = logging.getLogger(__name__)

Metric = Callable[..., Any]


class AcceptanceFailed(RuntimeError):
    """Acceptance sampling decided no task: every one met infrastructure failures (a core or
    teacher that did not answer), so there is nothing to train on."""


class ExecTune:
    """The ExecTune optimizer (DSPy teleprompter style).

    Args:
        metric: ``metric(example, prediction, trace=None) -> float | bool``, scores core outputs.
        teacher: the LM that proposes and refines strategies (LiteLLM string, ``dspy.LM`` or
            ``gcop.LocalLM``); can also be given to :meth:`compile`.
        config: the recipe's settings; paper defaults when omitted.
        run_dir: where acceptance results are persisted, so an interrupted compile resumes.

    After :meth:`compile`, ``self.sft_program_`` holds the policy after SFT (before GRPO): the
    "SFT only" baseline at no extra cost.
    """

    def __init__(
        self,
        metric: Metric,
        teacher: LMLike | None = None,
        config: ExecTuneConfig | None = None,
        run_dir: str | Path | None = None,
    ) -> None:
        if not callable(metric):
            raise TypeError("metric must be callable: metric(example, prediction, trace=None)")
        self.metric = metric
        self.teacher = teacher
        self.config = config or ExecTuneConfig()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.sft_program_: GuideCorePolicy | None = None

    def compile(
        self,
        program: GuideCorePolicy,
        *,
        trainset: Sequence[dspy.Example],
        teacher: LMLike | None = None,
        valset: Sequence[dspy.Example] | None = None,
    ) -> GuideCorePolicy:
        """Return a trained copy of ``program``; ``program`` itself is left unchanged.

        Raises :class:`AcceptanceFailed` before any training when infrastructure failures (a
        core or teacher that does not answer) left every task undecided.
        """
        teacher = teacher if teacher is not None else self.teacher
        trainset = self._check_inputs(program, trainset, teacher)
        student = copy.deepcopy(program)
        if self.config.sft:
            accepted = self._accept(student, trainset, teacher)
            student = self._sft(student, accepted)
            self.sft_program_ = copy.deepcopy(student)
        if self.config.grpo:
            student = self._grpo(student, trainset, teacher)
        return student

    def _accept(self, student: GuideCorePolicy, trainset: list, teacher: LMLike):
        """Phase 1: teacher proposals, k core trials each, accept or refine; certificate."""
        from gcop.optimizers.acceptance import run_acceptance

        teacher_lm = as_lm(
            teacher,
            ledger=student.ledger,
            role="teacher",
            temperature=self.config.teacher_temperature,
        )
        result = run_acceptance(
            student,
            trainset,
            teacher_lm=teacher_lm,
            metric=self.metric,
            config=self.config,
            run_dir=self.run_dir,
        )
        student.artifacts["acceptance"] = result.summary()
        if len(result.undecided) == len(trainset) and result.infra_errors:
            raise AcceptanceFailed(
                f"acceptance sampling decided none of the {len(trainset)} tasks: "
                f"{result.infra_errors} calls failed after retries (see the log); check that the "
                "core and teacher are reachable, then compile again (with the same run_dir, "
                "finished work is reused)"
            )
        if not result.accepted:
            logger.warning(
                "acceptance sampling accepted no strategy, so SFT is skipped and the guide stays "
                "as it was: lower tau, raise max_rounds or use a stronger teacher"
            )
        return result.accepted

    def _sft(self, student: GuideCorePolicy, accepted: list) -> GuideCorePolicy:
        """Phase 2: supervised fine-tuning of the guide on accepted (task, strategy) pairs."""
        from gcop.optimizers.sft import train_sft

        if not accepted:
            student.artifacts["sft"] = {"skipped": "no accepted strategies"}
            return student
        inputs = student.guide.signature.input_fields
        pairs = [({name: it.example[name] for name in inputs}, it.strategy) for it in accepted]
        student.guide, student.artifacts["sft"] = train_sft(student.guide, pairs, self.config)
        return student

    def _grpo(self, student: GuideCorePolicy, trainset: list, teacher: LMLike) -> GuideCorePolicy:
        """Phase 3: structure-aware GRPO with the shaped reward."""
        from gcop.optimizers.grpo import train_grpo

        judge = self.config.judge or teacher
        judge_lm = as_lm(judge, ledger=student.ledger, role="judge", temperature=0.0)
        student.guide, student.artifacts["grpo"] = train_grpo(
            student.guide,
            student.core,
            trainset,
            metric=self.metric,
            config=self.config,
            judge_lm=judge_lm,
            reward="shaped",
        )
        return student

    def _check_inputs(self, program: Any, trainset: Sequence, teacher: Any) -> list:
        require_trainable(program, "ExecTune.compile")
        if not trainset:
            raise ValueError("trainset is empty: pass a list of dspy.Example with inputs marked")
        if teacher is None and (self.config.sft or self.config.judge is None):
            raise ValueError("ExecTune needs a teacher LM: ExecTune(..., teacher='openai/...')")
        fields = set(program.guide.signature.input_fields)
        for index, example in enumerate(trainset):
            missing = fields - set(example.keys())
            if missing:
                raise ValueError(
                    f"trainset[{index}] lacks the field(s) {sorted(missing)} the guide reads"
                )
            if not getattr(example, "_input_keys", None):  # checked now, not after paid calls
                raise ValueError(
                    f"trainset[{index}] marks no inputs: "
                    "use dspy.Example(...).with_inputs('question')"
                )
        return list(trainset)
