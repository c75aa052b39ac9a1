"""The reward GRPO trains the guide on: run the core on each sampled strategy, judge it, shape it.

:class:`GuideReward` is what TRL's ``GRPOTrainer`` calls with a batch of completions. It parses each
completion, runs the core on the parsed strategy (guided) and once per example without one
(unguided, cached), asks the judge, and hands the scores to the pure functions of
:mod:`gcop.optimizers.grpo.rewards`. Core and judge calls run concurrently; DSPy's cache keys
them by (example, strategy, sample) through ``rollout_id``, and the cost ledger records them.
Each call appends one row to :attr:`GuideReward.history` (reward, valid rate, judge score,
regression rate, core cost), from which the run's curves are plotted.
"""

from __future__ import annotations

import functools
import logging
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from gcop.cost import CostSummary, summarize
from gcop.optimizers.acceptance.calls import call_with_retries
from gcop.optimizers.acceptance.leakage import leaks_answer
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.groups import neutralize_failures, zero_advantage_share
from gcop.optimizers.grpo.judge import JudgeVerdict, StrategyJudge
from gcop.optimizers.grpo.rewards import (
    as_score,
    completion_text,
    rounded_mean,
    shaped_reward,
    task_reward,
)
from gcop.strategy import count_words, parse_strategy

logger = logging.getLogger(__name__)

RewardMode = Literal["shaped", "task"]


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


class GuideReward:
    """A TRL reward function ``(completions, example_index, **kwargs) -> list[float]``.

    Args:
        core: the :class:`gcop.Core` that executes strategies.
        trainset: the examples; the dataset's ``example_index`` column points into it.
        metric: ``metric(example, prediction, trace=None)``, scores the core's answers.
        config: weights α_fmt, λ_judge, μ; concurrency; core temperature.
        input_fields: the guide's input fields (the judge sees the task through them).
        token_budget: the format gate's strategy budget.
        count_tokens: how the gate counts a strategy's tokens (the guide's
            :meth:`~gcop.Guide.count_tokens`).
        mode: ``"shaped"`` (ExecTune, §A.8) or ``"task"`` (Advisor: task reward only, no format
            gate; an invalid completion's whole text is given to the core as the strategy).
        judge: a :class:`StrategyJudge` (shaped mode); ``None`` leaves the judge term at 0.
        core_samples: core runs per (example, strategy), averaged.
    """

    __name__ = "gcop_reward"  # TRL names its logged reward columns after this

    def __init__(
        self,
        *,
        core: Any,
        trainset: Sequence[Any],
        metric: Callable[..., Any],
        config: ExecTuneConfig,
        input_fields: Sequence[str],
        token_budget: int,
        count_tokens: Callable[[str], int] = count_words,
        mode: RewardMode = "shaped",
        judge: StrategyJudge | None = None,
        core_samples: int = 1,
    ) -> None:
        if mode not in ("shaped", "task"):
            raise ValueError(f"reward must be 'shaped' or 'task', got {mode!r}")
        if core_samples < 1:
            raise ValueError(f"core_samples must be ≥ 1, got {core_samples}")
        self.core, self.trainset, self.metric, self.config = core, list(trainset), metric, config
        self.input_fields, self.token_budget, self.mode = list(input_fields), token_budget, mode
        self.count_tokens = count_tokens
        self.judge = judge if mode == "shaped" else None
        self.core_samples = core_samples
        self.history: list[dict[str, Any]] = []
        self.core_errors = 0
        self._unguided: dict[int, float] = {}
        self._lock = threading.Lock()

    # --- TRL entry point -------------------------------------------------------------------

    def __call__(
        self,
        completions: Sequence[Any],
        example_index: Sequence[int],
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        start, marks = time.perf_counter(), self._ledger_marks()
        indices = [int(i) for i in example_index]
        texts = [completion_text(c) for c in completions]
        parses = [
            parse_strategy(t, token_budget=self.token_budget, count_tokens=self.count_tokens)
            for t in texts
        ]
        if self.mode == "task":  # Advisor: the core gets whatever the guide wrote
            strategies: list[str | None] = [
                p.strategy if p.valid else t for p, t in zip(parses, texts, strict=True)
            ]
        else:  # an invalid completion never reaches the core (it earns 0 anyway)
            strategies = [p.strategy if p.valid else None for p in parses]
        guided, verdicts = self._run(indices, strategies)
        outcomes = [guided.get((i, s), 0.0) for i, s in zip(indices, strategies, strict=True)]
        failed = [score is None for score in outcomes]  # the core never answered: no verdict
        task_scores = [0.0 if score is None else score for score in outcomes]
        if self.mode == "task":
            rewards = task_reward(completions, task_scores)
            unguided, judged, leaks = None, [], []
        else:
            # an unknown baseline (its calls failed) gives no non-regression penalty
            unguided = [self._unguided.get(i, t) for i, t in zip(indices, task_scores, strict=True)]
            judged = [verdicts.get((i, s)) for i, s in zip(indices, strategies, strict=True)]
            leaks = [
                p.valid and (v.leak if v is not None else leaks_answer(s, self.trainset[i]))
                for p, v, i, s in zip(parses, judged, indices, strategies, strict=True)
            ]
            rewards = shaped_reward(
                completions,
                task_scores,
                unguided,
                judge_scores=[v.score if v is not None else 0.0 for v in judged],
                leaks=leaks,
                alpha_fmt=self.config.alpha_fmt,
                lambda_judge=self.config.lambda_judge,
                mu=self.config.mu,
                token_budget=self.token_budget,
                count_tokens=self.count_tokens,
            )
        rewards = neutralize_failures(indices, rewards, failed)
        row = self._record(
            trainer_state, rewards, parses, task_scores, unguided, judged, leaks, marks
        )
        row["failed_samples"] = sum(failed)
        row["zero_advantage_groups"] = zero_advantage_share(indices, rewards)
        row["time_s"] = round(time.perf_counter() - start, 4)
        if log_metric is not None:
            for key in _LOGGED:
                if row.get(key) is not None:
                    log_metric(f"gcop/{key}", float(row[key]))
        return rewards

    # --- core and judge calls --------------------------------------------------------------

    def _run(self, indices: list[int], strategies: list[str | None]):
        """Guided scores per unique (example, strategy), unguided baselines, judge verdicts."""
        jobs = sorted({(i, s) for i, s in zip(indices, strategies, strict=True) if s is not None})
        baselines = [] if self.mode == "task" else sorted(set(indices) - set(self._unguided))
        judge_jobs = jobs if self.judge is not None and self.config.lambda_judge > 0 else []
        errors_before = self.core_errors
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            guided_f = {job: pool.submit(self._score, *job) for job in jobs}
            verdicts = self._baselines_and_verdicts(pool, baselines, judge_jobs)
            guided = {job: f.result() for job, f in guided_f.items()}
        self._check_answered((len(jobs) + len(baselines)) * self.core_samples, errors_before)
        return guided, verdicts

    def shaping_terms(
        self, indices: Sequence[int], jobs: Sequence[tuple[int, str]]
    ) -> tuple[list[float | None], dict[tuple[int, str], JudgeVerdict], dict[str, int]]:
        """What the shaped reward needs beside R_task, for rewards that score R_task themselves
        (a plan verifier's gate): the core's unguided score on each example of ``indices``
        (``None`` where unknown; run once per example and cached, and only with μ > 0), the
        judge's verdict on each ``(example index, strategy)`` job (only with a judge and
        λ_judge > 0), run concurrently, and what they cost: ``{"core_calls", "core_tokens",
        "judge_calls"}``."""
        baselines = sorted(set(indices) - set(self._unguided)) if self.config.mu > 0 else []
        judge_jobs = (
            sorted(set(jobs)) if self.judge is not None and self.config.lambda_judge > 0 else []
        )
        marks, errors_before = self._ledger_marks(), self.core_errors
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            verdicts = self._baselines_and_verdicts(pool, baselines, judge_jobs)
        self._check_answered(len(baselines) * self.core_samples, errors_before)
        core, judge = _spent(marks, "core"), _spent(marks, "judge")
        unguided = [self._unguided.get(i) if self.config.mu > 0 else None for i in indices]
        usage = {"core_calls": core.calls, "core_tokens": core.tokens, "judge_calls": judge.calls}
        return unguided, verdicts, usage

    def _baselines_and_verdicts(
        self, pool: ThreadPoolExecutor, baselines: list[int], judge_jobs: list[tuple[int, str]]
    ) -> dict[tuple[int, str], JudgeVerdict]:
        """Run the core alone on ``baselines`` (caching each score it answered) and the judge on
        ``judge_jobs`` in ``pool``; the judge's verdicts."""
        base_f = {i: pool.submit(self._score, i, None) for i in baselines}
        judge_f = {job: pool.submit(self._judge, *job) for job in judge_jobs}
        baseline = {i: f.result() for i, f in base_f.items()}
        self._unguided.update({i: v for i, v in baseline.items() if v is not None})
        return {job: f.result() for job, f in judge_f.items()}

    def execute(
        self, jobs: Sequence[tuple[int, str]]
    ) -> tuple[dict[tuple[int, str], float | None], dict[str, int]]:
        """The core's mean score on each ``(example index, strategy)`` job (``None`` where every
        call failed), run concurrently, and what they cost: ``{"core_calls", "core_tokens"}``.

        For rewards that decide themselves which plans the core carries out (a plan verifier's
        gate); no unguided baseline and no judge call."""
        jobs = sorted(set(jobs))
        marks, errors_before = self._ledger_marks(), self.core_errors
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            futures = {job: pool.submit(self._score, *job) for job in jobs}
            scores = {job: f.result() for job, f in futures.items()}
        self._check_answered(len(jobs) * self.core_samples, errors_before)
        usage = _spent(marks, "core")
        return scores, {"core_calls": usage.calls, "core_tokens": usage.tokens}

    def _check_answered(self, runs: int, errors_before: int) -> None:
        """Raise :class:`CoreUnavailable` when all ``runs`` core calls since ``errors_before``
        failed."""
        if runs and self.core_errors - errors_before == runs:
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
                prediction, failure, _ = call_with_retries(run, self.config.max_retries)
            except Exception as error:  # a failure that is not transient
                prediction, failure = None, f"{type(error).__name__}: {error}"
            if failure is not None:  # skipped; all calls of a step failing raises (in _run)
                with self._lock:
                    self.core_errors += 1
                logger.warning("core call failed on example %d: %s", index, failure)
                continue
            scores.append(as_score(self.metric(example, prediction)))
        return sum(scores) / len(scores) if scores else None

    def _judge(self, index: int, strategy: str) -> JudgeVerdict:
        example = self.trainset[index]
        task = {name: example[name] for name in self.input_fields}
        return self.judge.score(task, strategy, example, max_retries=self.config.max_retries)

    # --- bookkeeping -----------------------------------------------------------------------

    def _ledgers(self) -> list[Any]:
        ledgers = [self.core.ledger]
        judge_ledger = getattr(getattr(self.judge, "lm", None), "ledger", None)
        if judge_ledger is not None and judge_ledger is not self.core.ledger:
            ledgers.append(judge_ledger)
        return ledgers

    def _ledger_marks(self) -> list[tuple[Any, int]]:
        return [(ledger, len(ledger)) for ledger in self._ledgers()]

    def _record(self, state, rewards, parses, task_scores, unguided, judged, leaks, marks):
        core, judge = _spent(marks, "core"), _spent(marks, "judge")
        valid = [p.valid for p in parses]
        step = int(state.global_step) + 1 if state is not None else len(self.history) + 1
        row: dict[str, Any] = {
            "step": step,
            "reward": rounded_mean(rewards),
            "reward_std": round(statistics.pstdev(rewards), 6) if rewards else 0.0,
            "valid_rate": rounded_mean([float(v) for v in valid]),
            "task": rounded_mean(task_scores),
            "core_calls": core.calls,
            "core_cache_hits": core.cache_hits,
            "core_tokens": core.tokens,
            "core_errors": self.core_errors,
            "judge_calls": judge.calls,
        }
        if unguided is not None:
            kept = [k for k, ok in enumerate(valid) if ok]
            scores = [judged[k].score for k in kept if judged[k] is not None]
            row["unguided"] = rounded_mean(unguided)
            row["regression_rate"] = rounded_mean(
                [float(task_scores[k] < unguided[k]) for k in kept]
            )
            row["judge"] = rounded_mean(scores) if scores else None
            row["leak_rate"] = rounded_mean([float(leaks[k]) for k in kept])
        self.history.append(row)
        logger.debug(
            "GRPO step %d: reward %.3f, valid %.2f", step, row["reward"], row["valid_rate"]
        )
        return row

    def summary(self) -> dict[str, Any]:
        """JSON-able totals over the run so far."""
        return {
            "steps_logged": len(self.history),
            "core_errors": self.core_errors,
            "judge": self.judge.stats() if self.judge is not None else None,
            "unguided_mean": rounded_mean(list(self._unguided.values()))
            if self._unguided
            else None,
        }


# the step row's figures TRL logs beside its own (as gcop/<key>, where not None)
_LOGGED = ("valid_rate", "task", "judge", "regression_rate", "core_calls", "zero_advantage_groups")


def _spent(marks: list[tuple[Any, int]], role: str) -> CostSummary:
    """What the calls of ``role`` cost in the ledgers since their ``marks``."""
    return summarize(r for ledger, mark in marks for r in ledger.since(mark) if r.role == role)
