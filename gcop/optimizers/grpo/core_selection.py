"""Which plans of a plan-reward step the core carries out, and the gate's product reward.

The plan verifier scores every plan of a step at no core call (:mod:`.plan_reward`); the core
carries out three kinds of plan:

- the plans of ``share`` of the step's groups, drawn at random each step, whose reward the core's
  replaces (so that what the core can carry out stays in the loop);
- every group holding a plan the verifier could not check;
- with the *gate*, each plan the verifier finds right, outside those groups: R_task is then
  the product, verifier score × the core's score, and a wrong plan costs no call.
"""

from __future__ import annotations

import math
import random
from typing import Any

from gcop.optimizers.grpo.core_runs import CoreRuns
from gcop.optimizers.grpo.rewards import rounded_mean


def core_group_count(n_groups: int, share: float, rng: random.Random) -> int:
    """How many of ``n_groups`` go to the core: ``share · n_groups``, its fraction drawn at random
    so that the expected count is exact.

    >>> core_group_count(8, 0.25, random.Random(0))
    2
    >>> core_group_count(8, 0.0, random.Random(0)), core_group_count(8, 1.0, random.Random(0))
    (0, 8)
    """
    expected = share * n_groups
    whole = math.floor(expected)
    return min(n_groups, whole + int(rng.random() < expected - whole))


def draw_core_groups(
    indices: list[int],
    scores: list[float | None],
    *,
    share: float,
    gate: bool,
    seed: int,
    step: int,
) -> set[int]:
    """The groups (example indices) the core executes whole: ``share`` of them drawn with
    ``seed`` and ``step`` (none with ``gate``), and every group with a plan the verifier could
    not check (score ``None``)."""
    unchecked = {i for i, s in zip(indices, scores, strict=True) if s is None}
    if gate:
        return unchecked
    groups = list(dict.fromkeys(indices))
    rng = random.Random(f"{seed}-{step}")
    return unchecked | set(rng.sample(groups, core_group_count(len(groups), share, rng)))


def gated_scores(
    calls: CoreRuns,
    plans: list[str],
    indices: list[int],
    scores: list[float],
    whole_groups: set[int],
) -> tuple[list[float], list[bool], dict[str, Any]]:
    """R_task = verifier score × the core's score on each plan the verifier finds right (outside
    ``whole_groups``, which the core reward scores whole); which of those the core never
    answered; and the step's gate figures: the share of the distinct right plans the core
    carried out (``carried_rate``), and the calls it took."""
    right = [
        k
        for k, (i, s) in enumerate(zip(indices, scores, strict=True))
        if s > 0 and i not in whole_groups
    ]
    results, usage = calls.execute([(indices[k], plans[k]) for k in right])
    products, failed = list(scores), [False] * len(scores)
    for k in right:
        outcome = results[(indices[k], plans[k])]
        failed[k] = outcome is None
        products[k] = 0.0 if outcome is None else scores[k] * outcome
    answered = [outcome for outcome in results.values() if outcome is not None]
    carried = rounded_mean(answered) if answered else None
    return products, failed, {**usage, "carried_rate": carried}
