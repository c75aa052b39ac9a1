"""GRPO's groups, the completions sampled for one example: what their rewards teach.

GRPO's advantage is a completion's reward minus its group's mean, so a group whose rewards are
equal teaches nothing, and a sample whose reward is set to its group's mean is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def neutralize_failures(
    indices: Sequence[int], rewards: Sequence[float], failed: Sequence[bool]
) -> list[float]:
    """Give each failed sample the mean reward of its group's answered samples, so its GRPO
    advantage is 0: a sample the core never answered teaches the guide nothing.

    >>> failed = [False, False, True, True, True]
    >>> neutralize_failures([0, 0, 0, 1, 1], [1.0, 0.0, 0.0, 0.0, 0.0], failed)
    [1.0, 0.0, 0.5, 0.0, 0.0]
    """
    kept = [(i, r) for i, r, bad in zip(indices, rewards, failed, strict=True) if not bad]
    answered = _groups([i for i, _ in kept], [r for _, r in kept])
    group_mean = {i: sum(values) / len(values) for i, values in answered.items()}
    return [
        group_mean.get(i, 0.0) if bad else reward
        for i, reward, bad in zip(indices, rewards, failed, strict=True)
    ]


def zero_advantage_share(indices: Sequence[int], rewards: Sequence[float]) -> float:
    """The share of groups (completions of one example) whose rewards are all equal.

    GRPO's advantage is a reward minus its group's mean, so such a group teaches nothing; when
    every group is like this the loss is 0 and the step changes nothing.

    >>> zero_advantage_share([0, 0, 1, 1], [0.3, 0.3, 0.0, 1.0])
    0.5
    """
    groups = _groups(indices, rewards)
    flat = [values for values in groups.values() if max(values) - min(values) < 1e-9]
    return round(len(flat) / len(groups), 6) if groups else 0.0


def advantage_changed_share(
    indices: Sequence[int], rewards: Sequence[float], other: Sequence[float], tol: float = 1e-6
) -> float:
    """The share of groups whose advantages differ between two rewards of the same completions:
    what a reward term changes in GRPO's gradient (compare the reward with and without it).

    Advantages here are GRPO's normalized ones, reward minus the group mean over the group's
    standard deviation (0 in a flat group), without TRL's 1e-4 guard, so a reward and any
    increasing affine map of it within a group count as equal.

    >>> advantage_changed_share([0, 0, 1, 1], [1.0, 0.0, 1.0, 0.0], [1.5, -0.5, 0.2, 0.2])
    0.5
    """
    first, second = _groups(indices, rewards), _groups(indices, other)
    changed = [
        any(abs(a - b) > tol for a, b in zip(_advantages(r), _advantages(second[i]), strict=True))
        for i, r in first.items()
    ]
    return round(sum(changed) / len(changed), 6) if changed else 0.0


def _advantages(rewards: list[float]) -> list[float]:
    """Rewards minus their mean, over their standard deviation; all 0 when they are equal."""
    mean = sum(rewards) / len(rewards)
    spread = (sum((r - mean) ** 2 for r in rewards) / len(rewards)) ** 0.5
    return [0.0 if spread < 1e-12 else (r - mean) / spread for r in rewards]


def mixed_groups(advantages: torch.Tensor, group_size: int) -> torch.Tensor:
    """Per group of ``group_size`` consecutive rows: whether its advantages differ.

    Equal rewards give every row of a group one advantage, but not always exactly 0: a float32
    mean of equal rewards such as 0.1 is off in the last bit. So a group is flat where its
    advantages are equal, not where they are 0.

    >>> mixed_groups(torch.tensor([0.0, 0.0, 0.5, -0.5, 7e-5, 7e-5]), 2).tolist()
    [False, True, False]
    """
    grouped = advantages.view(-1, group_size)
    return (grouped != grouped[:, :1]).any(dim=1)


def zero_flat_groups(advantages: torch.Tensor, group_size: int) -> torch.Tensor:
    """``advantages`` with every flat group's rows set to exactly 0, which is what GRPO means
    for them (and what lets a trainer leave them out of the backward pass).

    >>> zero_flat_groups(torch.tensor([7e-5, 7e-5, 0.5, -0.5]), 2).tolist()
    [0.0, 0.0, 0.5, -0.5]
    """
    mixed = mixed_groups(advantages, group_size).repeat_interleave(group_size)
    return torch.where(mixed, advantages, torch.zeros_like(advantages))


def _groups(indices: Sequence[int], rewards: Sequence[float]) -> dict[int, list[float]]:
    """Rewards grouped by the example their completion answers (GRPO's groups)."""
    groups: dict[int, list[float]] = {}
    for index, reward in zip(indices, rewards, strict=True):
        groups.setdefault(index, []).append(reward)
    return groups
