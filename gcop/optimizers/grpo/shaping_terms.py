"""The shaped reward's terms beside R_task where a plan verifier's gate scores R_task itself.

Under the gate (:class:`~gcop.optimizers.grpo.plan_reward.PlanReward` with ``gate=True``) R_task
is the core's outcome on a right plan, so the rest of r = 1[valid]·(R_task + α_fmt + λ·J −
μ·max(0, R_unguided − R_task)) applies as in the core reward: the core alone on each question
(μ > 0) and the judge on each valid plan (λ_judge > 0, with a judge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gcop.optimizers.acceptance.leakage import leaks_answer
from gcop.optimizers.grpo.core_runs import Job, spent
from gcop.optimizers.grpo.judge import JudgeVerdict
from gcop.optimizers.grpo.rewards import rounded_mean


@dataclass(frozen=True)
class ShapingTerms:
    """The terms per completion (``None``: the term is 0), what they cost, and their step means
    for the log."""

    unguided: list[float] | None = None
    judge_scores: list[float] | None = None
    leaks: list[bool] | None = None
    usage: dict[str, int] = field(default_factory=dict)
    unguided_mean: float | None = None
    judge_mean: float | None = None


NO_TERMS = ShapingTerms()  # outside the gate: no hinge, no judge


def gate_shaping_terms(
    core_reward: Any,
    indices: list[int],
    plans: list[str],
    valid: list[bool],
    task_scores: list[float],
) -> ShapingTerms:
    """The core alone on each example and the judge on each valid plan, through ``core_reward``
    (a :class:`~gcop.optimizers.grpo.guide_reward.GuideReward`), as its weights ask (nothing is
    called with μ = 0 and λ_judge = 0)."""
    jobs = [(i, p) for i, p, ok in zip(indices, plans, valid, strict=True) if ok]
    baselines, verdicts, usage = _baselines_and_verdicts(core_reward, indices, jobs)
    # an unknown baseline (μ = 0, or its calls failed) gives no non-regression penalty
    unguided = [t if u is None else u for u, t in zip(baselines, task_scores, strict=True)]
    known = [u for u in baselines if u is not None]
    unguided_mean = rounded_mean(known) if known else None
    if not verdicts:  # no judge: no judge term, no leak check
        return ShapingTerms(unguided, usage=usage, unguided_mean=unguided_mean)
    judged = [verdicts.get((i, p)) for i, p in zip(indices, plans, strict=True)]
    leaks = [
        ok and (v.leak if v is not None else leaks_answer(p, core_reward.trainset[i]))
        for ok, v, i, p in zip(valid, judged, indices, plans, strict=True)
    ]
    return ShapingTerms(
        unguided,
        judge_scores=[v.score if v is not None else 0.0 for v in judged],
        leaks=leaks,
        usage=usage,
        unguided_mean=unguided_mean,
        judge_mean=rounded_mean([v.score for v in verdicts.values()]),
    )


def _baselines_and_verdicts(
    core_reward: Any, indices: list[int], jobs: list[Job]
) -> tuple[list[float | None], dict[Job, JudgeVerdict], dict[str, int]]:
    """The core's unguided score on each example of ``indices`` (``None`` where unknown; run
    once per example and cached, and only with μ > 0), the judge's verdict on each job (only
    with a judge and λ_judge > 0), run concurrently, and what they cost: ``{"core_calls",
    "core_tokens", "judge_calls"}``."""
    calls, config = core_reward.calls, core_reward.config
    baselines = sorted(set(indices) - set(calls.unguided)) if config.mu > 0 else []
    judged = core_reward.judge is not None and config.lambda_judge > 0
    marks = calls.ledger_marks()
    _, verdicts = calls.run([], baselines, sorted(set(jobs)) if judged else [])
    core, judge = spent(marks, "core"), spent(marks, "judge")
    unguided = [calls.unguided.get(i) if config.mu > 0 else None for i in indices]
    usage = {"core_calls": core.calls, "core_tokens": core.tokens, "judge_calls": judge.calls}
    return unguided, verdicts, usage
