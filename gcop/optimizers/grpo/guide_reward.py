"""The reward GRPO trains the guide on: run the core on each sampled strategy, judge it, shape it.

:class:`GuideReward` is what TRL's ``GRPOTrainer`` calls with a batch of completions. It parses each
completion, runs the core on the parsed strategy (guided) and once per example without one
(unguided, cached), asks the judge (all through :class:`~gcop.optimizers.grpo.core_runs.CoreRuns`:
concurrent, cached, metered), and hands the scores to the pure functions of
:mod:`gcop.optimizers.grpo.rewards`.
Each call appends one row to :attr:`GuideReward.history` (reward, valid rate, judge score,
regression rate, core cost), from which the run's curves are plotted.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from gcop.optimizers.acceptance.leakage import leaks_answer
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.core_runs import CoreRuns, spent
from gcop.optimizers.grpo.groups import neutralize_failures, zero_advantage_share
from gcop.optimizers.grpo.judge import StrategyJudge
from gcop.optimizers.grpo.rewards import (
    completion_text,
    rounded_mean,
    shaped_reward,
    task_reward,
)
from gcop.strategy import count_words, parse_strategy

logger = logging.getLogger(__name__)

RewardMode = Literal["shaped", "task"]


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
        self.judge = judge if mode == "shaped" else None
        self.calls = CoreRuns(
            core=core,
            trainset=trainset,
            metric=metric,
            config=config,
            input_fields=input_fields,
            judge=self.judge,
            core_samples=core_samples,
        )
        self.trainset, self.config = self.calls.trainset, config
        self.token_budget, self.mode, self.count_tokens = token_budget, mode, count_tokens
        self.history: list[dict[str, Any]] = []

    @property
    def core_errors(self) -> int:
        """The core calls that failed so far (skipped; a step where all fail stops the run)."""
        return self.calls.errors

    # --- TRL entry point -------------------------------------------------------------------

    def __call__(
        self,
        completions: Sequence[Any],
        example_index: Sequence[int],
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        start, marks = time.perf_counter(), self.calls.ledger_marks()
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
            known = self.calls.unguided
            unguided = [known.get(i, t) for i, t in zip(indices, task_scores, strict=True)]
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
        baselines = [] if self.mode == "task" else sorted(set(indices) - set(self.calls.unguided))
        judge_jobs = jobs if self.judge is not None and self.config.lambda_judge > 0 else []
        return self.calls.run(jobs, baselines, judge_jobs)

    # --- bookkeeping -----------------------------------------------------------------------

    def _record(self, state, rewards, parses, task_scores, unguided, judged, leaks, marks):
        core, judge = spent(marks, "core"), spent(marks, "judge")
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
            "unguided_mean": rounded_mean(list(self.calls.unguided.values()))
            if self.calls.unguided
            else None,
        }


# the step row's figures TRL logs beside its own (as gcop/<key>, where not None)
_LOGGED = ("valid_rate", "task", "judge", "regression_rate", "core_calls", "zero_advantage_groups")
