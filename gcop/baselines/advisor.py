"""``Advisor``: the advisor-model baseline, GRPO on the task reward alone.

The guide is trained from scratch (no acceptance sampling, no SFT) against the core's task score
only: no format gate or bonus, no judge, no non-regression term. It shares ExecTune's GRPO code
(:func:`gcop.optimizers.grpo.trainer.train_grpo` with ``reward="task"``), so the two differ only
in what the paper says they differ in.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

import dspy

from gcop.modules.policy import GuideCorePolicy
from gcop.modules.strategy_kit import StrategyKit
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.guide_training import require_trainable
from gcop.optimizers.validation import check_examples, pick_checkpoint

logger = logging.getLogger(__name__)


def advice_kit(kit: StrategyKit) -> StrategyKit:
    """``kit`` as the Advisor uses it, in training and after: one text, read by the core as it
    is. Sampling with consensus, a render and an answer key all want the structured strategies
    ExecTune's guide is taught to write; an advisor's free text would rarely pass them, and the
    core would then run alone."""
    return kit.with_settings(samples=1, render=None, answer_key=None)


class Advisor(dspy.teleprompt.Teleprompter):
    """The Advisor baseline optimizer, a DSPy ``Teleprompter``.

    Args:
        metric: ``metric(example, prediction, trace=None) -> float | bool``.
        config: GRPO settings (steps, group size, learning rate, LoRA); the SFT, acceptance and
            reward-shaping fields are ignored. Paper defaults when omitted.
    """

    def __init__(self, metric: Callable[..., Any], config: ExecTuneConfig | None = None) -> None:
        super().__init__()
        if not callable(metric):
            raise TypeError("metric must be callable: metric(example, prediction, trace=None)")
        if config is not None and not isinstance(config, ExecTuneConfig):
            raise TypeError(f"config must be an ExecTuneConfig, got {type(config).__name__}")
        self.metric = metric
        self.config = config or ExecTuneConfig(sft=False)

    def compile(
        self,
        student: GuideCorePolicy,
        *,
        trainset: Sequence[dspy.Example],
        teacher: Any = None,
        valset: Sequence[dspy.Example] | None = None,
    ) -> GuideCorePolicy:
        """Return a copy of ``student`` whose guide is GRPO-trained on the task reward;
        ``student`` itself is left unchanged.

        Advisor learns from the task reward alone, so ``teacher`` must be ``None``. With a
        ``valset``, the trained policy is scored on it with the metric, in
        ``artifacts["validation"]``.
        """
        from gcop.optimizers.grpo.trainer import train_grpo

        require_trainable(student, "Advisor.compile")
        if teacher is not None:
            raise ValueError("Advisor learns from the task reward alone and takes no teacher")
        if valset is not None:
            valset = check_examples(valset, student.guide.signature.input_fields, "valset")
        if student.kit is None:
            program = copy.deepcopy(student)
        else:
            program = student.with_kit(advice_kit(student.kit))  # a copy
        program.strict = False  # trained without a format gate: the core gets the raw text
        program.guide, program.artifacts["advisor"] = train_grpo(
            program.guide,
            program.core,
            list(trainset),
            metric=self.metric,
            config=self.config,
            reward="task",
        )
        if valset is None:
            return program
        return pick_checkpoint(
            [("advisor", program)], valset, self.metric, num_threads=self.config.concurrency
        )
