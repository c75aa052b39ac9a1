"""DAPO's dynamic sampling: fill a GRPO step with groups whose samples disagree.

A group whose samples all score alike (all right or all wrong) has zero advantage and teaches
nothing; on GSM8K with the plan verifier about 60% of groups are like that. Dynamic sampling
draws more questions for the step until it holds as many *mixed* groups as it has questions (or
it has drawn ``extra_draws`` more times), then trains on the mixed groups alone, so every step
takes a full-sized update. Its cost is the extra sampling; flat groups' backward passes are
skipped either way (:mod:`gcop.optimizers.grpo.group_scoring`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from gcop.optimizers.grpo.batch_rows import concat_rows, row_count, select_rows
from gcop.optimizers.grpo.groups import mixed_groups


def extra_questions(n_questions: int, n: int, seed: int, step: int, draw: int) -> list[int]:
    """The questions of a step's extra draw: ``n`` of ``n_questions`` at random, seeded by the
    run's seed, the step and the draw, so a resumed run draws the same ones.

    >>> extra_questions(100, 3, seed=0, step=5, draw=1) == extra_questions(100, 3, 0, 5, 1)
    True
    """
    return random.Random(f"{seed}-{step}-{draw}").sample(range(n_questions), n)


def fill_with_mixed_groups(
    batch: dict[str, Any],
    draw: Callable[[int], dict[str, Any]],
    *,
    group_size: int,
    extra_draws: int,
) -> tuple[dict[str, Any], int]:
    """Join ``batch`` (a scored step) with up to ``extra_draws`` more scored batches from
    ``draw(k)`` until it holds as many mixed groups as ``batch`` has groups; keep those alone.

    Returns the step's batch and the number of draws made. A step with no mixed group at all
    returns ``batch`` unchanged (it trains on nothing). The joined batch's token count is its own
    (the loss divides by the tokens of the rows it trains on).
    """
    target = row_count(batch) // group_size
    batches, mixed, draws = [batch], int(mixed_groups(batch["advantages"], group_size).sum()), 0
    while mixed < target and draws < extra_draws:
        draws += 1
        more = draw(draws)
        batches.append(more)
        mixed += int(mixed_groups(more["advantages"], group_size).sum())
    if mixed == 0:
        return batch, draws
    joined = concat_rows(batches)
    groups = mixed_groups(joined["advantages"], group_size)
    groups &= groups.cumsum(0) <= target  # the first `target` mixed groups
    kept = select_rows(joined, groups.repeat_interleave(group_size))
    kept["num_items_in_batch"] = kept["completion_mask"].sum()
    return kept, draws
