"""``ExecTune``: train a guide to write strategies this core can execute (accept → SFT → GRPO)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dspy

from gcop.lm.resolve import LMLike, as_lm, resolve_lm
from gcop.modules.policy import GuideCorePolicy
from gcop.optimizers.acceptance.records import AcceptedStrategy
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.agreement_charge import AgreementCharge
from gcop.optimizers.guide_training import require_trainable
from gcop.optimizers.validation import check_examples, check_paired_valset, pick_checkpoint
from gcop.provenance import training_provenance

logger = logging.getLogger(__name__)

Metric = Callable[..., Any]


class AcceptanceFailed(RuntimeError):
    """Acceptance sampling decided no task: every one met infrastructure failures (a core or
    teacher that did not answer), so there is nothing to train on."""


class ExecTune(dspy.teleprompt.Teleprompter):
    """The ExecTune optimizer, a DSPy ``Teleprompter``.

    Args:
        metric: ``metric(example, prediction, trace=None) -> float | bool``, scores core outputs.
        teacher: the LM that proposes and refines strategies (LiteLLM string, ``dspy.LM`` or
            ``gcop.LocalLM``); can also be given to :meth:`compile`. Unlike DSPy's teacher
            programs, it is an LM: a ``dspy.Module`` is refused.
        config: the recipe's settings; paper defaults when omitted.
        run_dir: where acceptance results are persisted, so an interrupted compile resumes.
        plan_verifier: the task's check of a plan, ``verifier(strategy, example) -> float | None``
            (None: it cannot tell); GRPO then scores most groups with it, at no core call, and
            ``config.grpo_core_share`` of them with the core, or with ``config.grpo_core_gate``
            the core on every right plan (see
            :mod:`gcop.optimizers.grpo.plan_reward`). None: the student's kit's verifier with
            ``config.grpo_plan_reward``, else every group is core-executed.

    After :meth:`compile`, ``self.sft_program_`` holds the policy after SFT (before GRPO): the
    "SFT only" baseline at no extra cost.
    """

    def __init__(
        self,
        metric: Metric,
        teacher: LMLike | None = None,
        config: ExecTuneConfig | None = None,
        run_dir: str | Path | None = None,
        plan_verifier: Callable[[str, Any], float | None] | None = None,
    ) -> None:
        super().__init__()
        if plan_verifier is not None and not callable(plan_verifier):
            raise TypeError("plan_verifier must be callable: verifier(strategy, example) -> float")
        if not callable(metric):
            raise TypeError("metric must be callable: metric(example, prediction, trace=None)")
        self.metric = metric
        self.teacher = _teacher_lm(teacher)
        self.config = config or ExecTuneConfig()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.plan_verifier = plan_verifier
        self.sft_program_: GuideCorePolicy | None = None

    def compile(
        self,
        student: GuideCorePolicy,
        *,
        trainset: Sequence[dspy.Example],
        teacher: LMLike | None = None,
        valset: Sequence[dspy.Example] | None = None,
    ) -> GuideCorePolicy:
        """Return a trained copy of ``student``; ``student`` itself is left unchanged.

        With a ``valset``, the policy after each phase is scored on it with the metric and
        ``config.valset_rule`` picks the one returned: by default the SFT phase unless GRPO beats
        it in a paired test; the scores and tests are in ``artifacts["validation"]``. Raises
        :class:`AcceptanceFailed` before any training when infrastructure failures (a core or
        teacher that does not answer) left every task undecided.
        """
        teacher = _teacher_lm(teacher) if teacher is not None else self.teacher
        trainset, valset = self._check_inputs(student, trainset, valset, teacher)
        program = copy.deepcopy(student)
        program.artifacts["config"] = self.config.model_dump(mode="json")
        program.artifacts["provenance"] = training_provenance(trainset, valset)
        checkpoints = []
        if self.config.sft:
            accepted = self._run_acceptance(program, trainset, teacher)
            program = self._sft(program, accepted)
            self.sft_program_ = copy.deepcopy(program)
            checkpoints.append(("sft", self.sft_program_))
        if self.config.grpo:
            program = self._grpo(program, trainset, teacher)
            checkpoints.append(("grpo", program))
        if valset is None:
            return program
        return pick_checkpoint(
            checkpoints,
            valset,
            self.metric,
            num_threads=self.config.concurrency,
            rule=self.config.valset_rule,
            p_value=self.config.valset_p,
        )

    def accept(
        self,
        student: GuideCorePolicy,
        *,
        trainset: Sequence[dspy.Example],
        teacher: LMLike | None = None,
    ) -> list[AcceptedStrategy]:
        """Phase 1 alone: the (task, strategy) pairs the core executes well enough, i.e. the
        SFT data :meth:`compile` would train on. Decisions are kept in ``run_dir``, so a later
        compile with the same ``run_dir`` reuses them; ``student`` is left unchanged."""
        teacher = _teacher_lm(teacher) if teacher is not None else self.teacher
        trainset, _ = self._check_inputs(student, trainset, None, teacher)
        return self._run_acceptance(copy.deepcopy(student), trainset, teacher)

    def _run_acceptance(
        self, student: GuideCorePolicy, trainset: list, teacher: LMLike
    ) -> list[AcceptedStrategy]:
        """Phase 1: teacher proposals, k core trials each, accept or refine; certificate."""
        from gcop.optimizers.acceptance.run import run_acceptance

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
        from gcop.optimizers.grpo.trainer import train_grpo

        student.guide, student.artifacts["grpo"] = train_grpo(
            student.guide,
            student.core,
            trainset,
            metric=self.metric,
            config=self.config,
            judge_lm=self.config.judge or teacher,
            reward="shaped",
            plan_verifier=self._plan_verifier(student),
            agreement=self._agreement_charge(student),
        )
        return student

    def _agreement_charge(self, student: GuideCorePolicy) -> AgreementCharge | None:
        """With ``config.grpo_agreement_charge``: the charge on wrong plans that agree, from the
        student's kit (its consensus key and verifier)."""
        if self.config.grpo_agreement_charge == 0:
            return None
        verifier = self._plan_verifier(student)
        consensus = getattr(student.kit, "consensus", None)
        if verifier is None or consensus is None:
            kit = student.kit.name if student.kit is not None else None
            raise ValueError(
                f"ExecTuneConfig(grpo_agreement_charge>0) needs a plan verifier and a strategy "
                f"kit with a consensus key, and the student's kit ({kit!r}) lacks one: build the "
                "policy with its task's kit (Task.policy) and set grpo_plan_reward=True, or set "
                "grpo_agreement_charge=0"
            )
        return AgreementCharge(consensus, verifier, self.config.grpo_agreement_charge)

    def _plan_verifier(self, student: GuideCorePolicy) -> Callable[[str, Any], Any] | None:
        """The check GRPO scores plans with: the one given to :class:`ExecTune`, else, with
        ``config.grpo_plan_reward``, the verifier of the student's strategy kit."""
        if self.plan_verifier is not None or not self.config.grpo_plan_reward:
            return self.plan_verifier
        verifier = getattr(student.kit, "verifier", None)
        if verifier is None:
            kit = student.kit.name if student.kit is not None else None
            raise ValueError(
                f"ExecTuneConfig(grpo_plan_reward=True) needs a strategy kit with a verifier, and "
                f"the student's kit ({kit!r}) has none: build the policy with its task's kit "
                "(Task.policy), pass ExecTune(plan_verifier=...), or set grpo_plan_reward=False"
            )
        return verifier

    def _check_inputs(
        self, program: Any, trainset: Sequence, valset: Sequence | None, teacher: Any
    ) -> tuple[list, list | None]:
        require_trainable(program, "ExecTune.compile")
        if self.config.grpo:
            self._plan_verifier(program)  # a missing verifier stops here, before any call
            self._agreement_charge(program)  # and a missing consensus key
        fields = program.guide.signature.input_fields
        trainset = check_examples(trainset, fields, "trainset")
        if valset is not None:
            valset = check_examples(valset, fields, "valset")
            if self.config.sft and self.config.grpo and self.config.valset_rule == "paired":
                check_paired_valset(valset, self.config.valset_p)
        if teacher is None and (self.config.sft or self.config.judge is None):
            raise ValueError("ExecTune needs a teacher LM: ExecTune(..., teacher='openai/...')")
        return trainset, valset


def _teacher_lm(teacher: LMLike | None) -> LMLike | None:
    """``teacher`` resolved (:func:`~gcop.lm.resolve.resolve_lm`), unless it is a DSPy program:
    ExecTune's teacher writes strategies, so it is an LM, not a program whose traces become
    demos as in DSPy's own optimizers."""
    if isinstance(teacher, dspy.Module):
        raise TypeError(
            "ExecTune's teacher is the LM that proposes strategies (a LiteLLM model string, "
            f"dspy.LM or gcop.LocalLM), not a DSPy program; got {type(teacher).__name__}"
        )
    return resolve_lm(teacher, "teacher") if teacher is not None else None
