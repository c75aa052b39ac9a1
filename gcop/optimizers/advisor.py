"""``Advisor``: the advisor-model baseline, GRPO on the task reward alone.

The guide is trained from scratch (no acceptance sampling, no SFT) against the core's task score
only: no format gate or bonus, no judge, no non-regression term. It shares ExecTune's GRPO code
(:func:`gcop.optimizers.grpo.train_grpo` with ``reward="task"``), so the two differ only in what
the paper says they differ in.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

import dspy

from gcop.modules.policy import GuideCorePolicy
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.guide_training import require_trainable

logger = logging.getLogger(__name__)


class Advisor:
    """The Advisor baseline optimizer (DSPy teleprompter style).

    Args:
        metric: ``metric(example, prediction, trace=None) -> float | bool``.
        config: GRPO settings (steps, group size, learning rate, LoRA); the SFT, acceptance and
            reward-shaping fields are ignored. Paper defaults when omitted.
    """

    def __init__(self, metric: Callable[..., Any], config: ExecTuneConfig | None = None) -> None:
        if not callable(metric):
            raise TypeError("metric must be callable: metric(example, prediction, trace=None)")
        if config is not None and not isinstance(config, ExecTuneConfig):
            raise TypeError(f"config must be an ExecTuneConfig, got {type(config).__name__}")
        self.metric = metric
        self.config = config or ExecTuneConfig(sft=False)

    def compile(
        self,
        program: GuideCorePolicy,
        *,
        trainset: Sequence[dspy.Example],
        valset: Sequence[dspy.Example] | None = None,
    ) -> GuideCorePolicy:
        """Return a copy of ``program`` whose guide is GRPO-trained on the task reward.

        ``valset`` is accepted for parity with :meth:`gcop.ExecTune.compile` and not used.
        """
        from gcop.optimizers.grpo import train_grpo

        require_trainable(program, "Advisor.compile")
        student = copy.deepcopy(program)
        student.strict = False  # trained without a format gate: the core gets the raw text
        student.guide, student.artifacts["advisor"] = train_grpo(
            student.guide,
            student.core,
            list(trainset),
            metric=self.metric,
            config=self.config,
            reward="task",
        )
        return student
