"""A calibration term for GRPO: charge the wrong plans other samples agree with.

A strategy kit that samples several plans and sends one only where enough of them agree (compute
the same ``consensus`` key) reads the guide's agreement as its confidence. A wrong plan that no
other sample shares costs the kit little: it abstains and the core answers alone. A wrong plan
others agree with is sent, and the core follows it. A plan verifier scores both 0, so GRPO
teaches nothing between them, and sharpening the guide where it is right sharpens it where it is
wrong too.

:class:`AgreementCharge` charges each wrong plan ``weight`` × the share of the *other* plans of its
group (the samples for one example) that compute its key. A lone wrong plan is not charged; a
group whose plans all agree on one wrong key is charged alike and stays flat; a group with some
wrong plans in agreement and others apart learns to move away from the shared wrong key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AgreementCharge:
    """Charges per completion for wrong plans that agree within their group.

    Args:
        key: the kit's ``consensus(strategy) -> key`` (``None``: no key, never charged).
        verdict: ``verdict(strategy, example) -> float | None``, the kit's check of a plan; a
            plan is wrong where it returns 0 (``None``: unknown, never charged).
        weight: the charge for a wrong plan every other plan of its group agrees with, ≥ 0.
    """

    key: Callable[[str], Hashable | None]
    verdict: Callable[[str, Any], float | None]
    weight: float

    def __post_init__(self) -> None:
        if not callable(self.key) or not callable(self.verdict):
            raise TypeError(
                "AgreementCharge needs the kit's consensus key and verifier: "
                "AgreementCharge(key=kit.consensus, verdict=kit.verifier, weight=...)"
            )
        if self.weight < 0:
            raise ValueError(f"the agreement charge's weight must be >= 0, got {self.weight}")

    def __call__(
        self,
        plans: Sequence[str],
        valid: Sequence[bool],
        indices: Sequence[int],
        examples: Sequence[Any],
    ) -> list[float]:
        """One charge per completion (≥ 0, to subtract from its reward): ``plans[k]`` is the
        parsed strategy of completion ``k``, ``valid[k]`` whether it parsed, ``indices[k]`` its
        example's index into ``examples``. Invalid plans are not charged (the format gate scores
        them already)."""
        keys = [self.key(plan) if ok else None for plan, ok in zip(plans, valid, strict=True)]
        wrong = [
            key is not None and self.verdict(plan, examples[index]) == 0
            for plan, key, index in zip(plans, keys, indices, strict=True)
        ]
        return agreement_charges(indices, keys, wrong, self.weight)


def agreement_charges(
    indices: Sequence[int],
    keys: Sequence[Hashable | None],
    wrong: Sequence[bool],
    weight: float,
) -> list[float]:
    """``weight`` × the share of the other completions of its group with the same key, for each
    wrong completion with a key; 0.0 for the rest.

    >>> agreement_charges([0, 0, 0, 0], [5, 5, 7, None], [True, True, True, False], 1.0)
    [0.333333, 0.333333, 0.0, 0.0]
    >>> agreement_charges([0, 0, 1, 1], [5, 5, 5, 5], [True, True, False, True], 0.5)
    [0.5, 0.5, 0.0, 0.5]
    """
    sizes = Counter(indices)
    shared = Counter((i, key) for i, key in zip(indices, keys, strict=True) if key is not None)
    charges = []
    for i, key, is_wrong in zip(indices, keys, wrong, strict=True):
        others = sizes[i] - 1
        if not is_wrong or key is None or others == 0:
            charges.append(0.0)
        else:
            charges.append(round(weight * (shared[(i, key)] - 1) / others, 6))
    return charges
