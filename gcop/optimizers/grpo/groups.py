"""GRPO's groups, the completions sampled for one example: what their rewards teach.

GRPO's advantage is a completion's reward minus its group's mean, so a group whose rewards are
equal teaches nothing, and a sample whose reward is set to its group's mean is left out.
"""

from __future__ import annotations

from collections.abc import Sequence


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


def _groups(indices: Sequence[int], rewards: Sequence[float]) -> dict[int, list[float]]:
    """Rewards grouped by the example their completion answers (GRPO's groups)."""
    groups: dict[int, list[float]] = {}
    for index, reward in zip(indices, rewards, strict=True):
        groups.setdefault(index, []).append(reward)
    return groups
