"""Agreeing on one of several sampled strategies, keeping the core's own answer where a
strategy backs it, and asking the core again where its answer strays from the strategy sent:
the decisions a :class:`~gcop.modules.strategy_kit.StrategyKit` with ``samples > 1`` adds to a
guide–core policy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from typing import Any

import dspy

from gcop.modules.strategy_kit import StrategyKit
from gcop.strategy import StrategyParse

ABSTAINED = "abstained"  # how the reason of a guide that keeps no strategy begins
KEPT_ANSWER = "kept the core's answer"  # how the reason of a kept unguided answer begins
RETRY_TEMPERATURE = 0.7  # the core's temperature when asked again
RETRY_ROLLOUTS = 1000  # retry i is rollout RETRY_ROLLOUTS + i: uncached, apart from other trials


def plan_prediction(
    completion: str,
    parsed: StrategyParse,
    agreement: float | None = None,
    sample_keys: list[Hashable | None] | None = None,
) -> dspy.Prediction:
    """The guide's prediction for one kept ``completion``: ``strategy``, ``valid``, ``reason``,
    ``completion``, ``agreement`` (1.0 for a single valid sample) and ``sample_keys``."""
    if agreement is None:
        agreement = 1.0 if parsed.valid else 0.0
    return dspy.Prediction(
        strategy=parsed.strategy,
        valid=parsed.valid,
        reason=parsed.reason,
        completion=completion,
        agreement=agreement,
        sample_keys=sample_keys or [],
    )


def sample_key(kit: StrategyKit | None, parsed: StrategyParse) -> Hashable | None:
    """Where a parsed sample leads (the kit's consensus key); ``None`` for an invalid one or
    without a consensus."""
    if kit is None or kit.consensus is None or not parsed.valid:
        return None
    return kit.consensus(parsed.strategy)


def draws_at_once(kit: StrategyKit, samples: list[tuple[str, StrategyParse]]) -> int:
    """How many strategies the guide draws next, given the ``samples`` drawn so far: 0 once all
    ``kit.samples`` are drawn or no key can reach ``kit.min_agreement`` any more (the guide then
    abstains whatever the rest would say). Otherwise as many as can be drawn at once without
    drawing one that drawing one at a time, stopping at the first such point, would not: the
    slack ``most agreeing + still to draw - needed`` falls by at most one a draw, so its value
    plus one draws pass no point where drawing would have stopped.

    Two of five to agree: four at once, then at most one (two round trips, not five); all five
    to agree: one at a time, since any one sample may end the draws.
    """
    _, best = _most_common([sample_key(kit, parsed) for _, parsed in samples])
    left = kit.samples - len(samples)
    return max(0, min(left, best + left - _needed(kit) + 1))


def _most_common(keys: list[Hashable | None]) -> tuple[Hashable | None, int]:
    """The key most samples share and how many do (``(None, 0)`` with no valid sample)."""
    counts = Counter(key for key in keys if key is not None)
    return counts.most_common(1)[0] if counts else (None, 0)


def _needed(kit: StrategyKit) -> int:
    """How many of ``kit.samples`` strategies must share a key for the guide to keep one."""
    return next(
        count for count in range(kit.samples + 1) if count / kit.samples >= kit.min_agreement
    )


def agreed_plan(kit: StrategyKit, samples: list[tuple[str, StrategyParse]]) -> dspy.Prediction:
    """The first valid sample with the most common consensus key, if at least
    ``kit.min_agreement`` of the samples share it; an abstention (``valid=False``) otherwise.
    Fewer than ``kit.samples`` samples mean the draws stopped where no key could still reach
    ``min_agreement`` (:func:`draws_at_once`), and the reason says so."""
    keys = [sample_key(kit, parsed) for _, parsed in samples]
    top, count = _most_common(keys)
    agreement = count / len(samples)
    if top is None or agreement < kit.min_agreement:
        stopped = (
            ""
            if len(samples) == kit.samples
            else f", and {_needed(kit)} of {kit.samples} no longer can"
        )
        return dspy.Prediction(
            strategy="",
            valid=False,
            reason=f"{ABSTAINED}: {count} of {len(samples)} strategies agree{stopped}",
            completion="",
            agreement=agreement,
            sample_keys=keys,
        )
    kept = next(index for index, key in enumerate(keys) if key == top)
    completion, parsed = samples[kept]
    return plan_prediction(completion, parsed, agreement=agreement, sample_keys=keys)


def backed_answer(kit: StrategyKit, plan: dspy.Prediction, alone: Any) -> dict[str, Any] | None:
    """The fields a policy reports when the core's own answer ``alone`` stands because one of
    the guide's samples leads to it; ``None`` when none does (then the plan is sent)."""
    key = kit.answer_key(alone)
    if key is None or key not in plan.sample_keys:
        return None
    backing = f"{plan.sample_keys.count(key)} of {len(plan.sample_keys)} strategies lead to it"
    return {"strategy": "", "valid": False, "reason": f"{KEPT_ANSWER}: {backing}"}


def retries_left(kit: StrategyKit | None, strategy: str | None, prediction: Any) -> int:
    """How many times the core is asked again after ``prediction``, its answer to ``strategy``:
    ``kit.retries`` where the answer does not reach the strategy's consensus key, else 0 (also
    without a strategy, a key for it, or a kit that retries)."""
    if kit is None or not kit.retries or strategy is None or kit.consensus(strategy) is None:
        return 0
    return 0 if reaches(kit, strategy, prediction) else kit.retries


def reaches(kit: StrategyKit, strategy: str, prediction: Any) -> bool:
    """Whether the core's ``prediction`` reaches where ``strategy`` leads (``None``: no reply)."""
    return prediction is not None and kit.answer_key(prediction) == kit.consensus(strategy)


def retry_settings(attempt: int) -> dict[str, Any]:
    """The core's LM settings for its ``attempt``-th retry (from 1): sampled, not cached."""
    return {"rollout_id": RETRY_ROLLOUTS + attempt, "temperature": RETRY_TEMPERATURE}
