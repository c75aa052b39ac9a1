"""The core's and the judge's calls behind GRPO's rewards: run concurrently, cached, metered.

:class:`CoreRuns` runs the core on ``(example index, strategy)`` jobs (``strategy=None``: the core
alone, the unguided baseline, cached per example) and the judge on strategies, in a thread pool.
DSPy's cache keys the core's calls by (example, strategy, sample) through ``rollout_id``, and the
cost ledgers record them. A failed call is retried when transient and otherwise skipped, except
when every call of a step failed: then :class:`CoreUnavailable` stops the run.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gcop.cost import CostSummary, summarize
from gcop.lm.retries import call_with_retries
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.judge import JudgeVerdict, StrategyJudge
from gcop.optimizers.grpo.rewards import as_score

logger = logging.getLogger(__name__)

Job = tuple[int, str]  # (example index, strategy)


def core_inputs(example: Any) -> dict[str, Any]:
    """The fields of ``example`` marked as inputs (what the core is called with)."""
    keys = getattr(example, "_input_keys", None)
    if not keys:
        raise ValueError(
            "trainset examples must mark their inputs: dspy.Example(...).with_inputs('question')"
        )
    return {key: example[key] for key in keys}


class CoreUnavailable(RuntimeError):
    """Every core call of a GRPO step failed: the core did not answer, so no step can be
    scored. Finished work (acceptance records, GRPO checkpoints) is kept."""


class CoreRuns:
    """The core and judge calls of one reward.

    Args:
        core: the :class:`gcop.Core` that executes strategies.
        trainset: the examples the jobs' indices point into.
        metric: ``metric(example, prediction, trace=None)``, scores the core's answers.
        config: concurrency, retries, the core's temperature.
        input_fields: the guide's input fields (the judge sees the task through them).
        judge: a :class:`StrategyJudge`, or ``None``.
        core_samples: core runs per job, averaged.
    """

    def __init__(
        self,
        *,
        core: Any,
        trainset: Sequence[Any],
        metric: Callable[..., Any],
        config: ExecTuneConfig,
        input_fields: Sequence[str],
        judge: StrategyJudge | None = None,
        core_samples: int = 1,
    ) -> None:
        if core_samples < 1:
            raise ValueError(f"core_samples must be ≥ 1, got {core_samples}")
        self.core, self.trainset, self.metric, self.config = core, list(trainset), metric, config
        self.input_fields, self.judge, self.core_samples = list(input_fields), judge, core_samples
        self.errors = 0
        self.unguided: dict[int, float] = {}  # the core alone's score per example it answered
        self._lock = threading.Lock()

    def run(
        self, jobs: Sequence[Job], baselines: Sequence[int], judge_jobs: Sequence[Job]
    ) -> tuple[dict[Job, float | None], dict[Job, JudgeVerdict]]:
        """The core's score on each job (``None`` where every call failed), the core alone on
        each example of ``baselines`` (into :attr:`unguided`) and the judge's verdict on each of
        ``judge_jobs``, all at once."""
        errors_before = self.errors
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            guided_f = {job: pool.submit(self._score, *job) for job in jobs}
            base_f = {i: pool.submit(self._score, i, None) for i in baselines}
            judge_f = {job: pool.submit(self._judge, *job) for job in judge_jobs}
            guided = {job: f.result() for job, f in guided_f.items()}
            baseline = {i: f.result() for i, f in base_f.items()}
            verdicts = {job: f.result() for job, f in judge_f.items()}
        self.unguided.update({i: v for i, v in baseline.items() if v is not None})
        self._check_answered((len(jobs) + len(baselines)) * self.core_samples, errors_before)
        return guided, verdicts

    def execute(self, jobs: Sequence[Job]) -> tuple[dict[Job, float | None], dict[str, int]]:
        """The core's mean score on each job (``None`` where every call failed) and what the
        calls cost: ``{"core_calls", "core_tokens"}``. No baseline, no judge: for rewards that
        decide themselves which plans the core carries out (a plan verifier's gate)."""
        marks = self.ledger_marks()
        scores, _ = self.run(sorted(set(jobs)), [], [])
        usage = spent(marks, "core")
        return scores, {"core_calls": usage.calls, "core_tokens": usage.tokens}

    def ledger_marks(self) -> list[tuple[Any, int]]:
        """Where the core's and the judge's ledgers stand now (for :func:`spent`)."""
        ledgers = [self.core.ledger]
        judge_ledger = getattr(getattr(self.judge, "lm", None), "ledger", None)
        if judge_ledger is not None and judge_ledger is not self.core.ledger:
            ledgers.append(judge_ledger)
        return [(ledger, len(ledger)) for ledger in ledgers]

    def _check_answered(self, runs: int, errors_before: int) -> None:
        """Raise :class:`CoreUnavailable` when all ``runs`` core calls since ``errors_before``
        failed."""
        if runs and self.errors - errors_before == runs:
            raise CoreUnavailable(
                f"all {runs} core calls of this GRPO step failed (see the warnings above): "
                "check the core LM's model string, key and server; finished work (acceptance "
                "records in the run folder, GRPO checkpoints) is kept, so rerunning the same "
                "command resumes from it"
            )

    def _score(self, index: int, strategy: str | None) -> float | None:
        """Mean metric score of the core on example ``index`` (``strategy=None``: unguided) over
        the samples the core answered; ``None`` when every call failed (an infrastructure failure
        says nothing about the strategy)."""
        example = self.trainset[index]
        inputs = core_inputs(example)
        scores = []
        for sample in range(self.core_samples):
            settings = {"rollout_id": sample, "temperature": self.config.core_temperature}
            try:  # transient failures are retried, with backoff
                run = functools.partial(self.core, strategy=strategy, lm_kwargs=settings, **inputs)
                attempted = call_with_retries(run, self.config.max_retries)
                prediction, failure = attempted.value, attempted.error
            except Exception as error:  # a failure that is not transient
                prediction, failure = None, f"{type(error).__name__}: {error}"
            if failure is not None:  # skipped; all calls of a step failing raises
                with self._lock:
                    self.errors += 1
                logger.warning("core call failed on example %d: %s", index, failure)
                continue
            scores.append(as_score(self.metric(example, prediction)))
        return sum(scores) / len(scores) if scores else None

    def _judge(self, index: int, strategy: str) -> JudgeVerdict:
        example = self.trainset[index]
        task = {name: example[name] for name in self.input_fields}
        return self.judge.score(task, strategy, example, max_retries=self.config.max_retries)


def spent(marks: list[tuple[Any, int]], role: str) -> CostSummary:
    """What the calls of ``role`` cost in the ledgers since their ``marks``."""
    return summarize(r for ledger, mark in marks for r in ledger.since(mark) if r.role == role)
