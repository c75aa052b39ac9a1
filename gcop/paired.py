"""Paired comparison of two recipes scored on the same examples: exact McNemar test.

Two recipes evaluated on the same problems disagree on some of them; only those discordant
problems carry evidence. Under the null hypothesis that neither recipe is better, each discordant
problem is a fair coin flip, so the two-sided p-value is an exact binomial tail.

>>> test = mcnemar([1, 1, 1, 0, 1, 1], [0, 0, 0, 0, 1, 1])
>>> test.a_only, test.b_only, round(test.p_value, 3)
(3, 0, 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PairedTest:
    """How often only ``a`` or only ``b`` solved a problem, and the exact two-sided p-value."""

    a: str
    b: str
    a_only: int
    b_only: int
    p_value: float

    @property
    def winner(self) -> str | None:
        if self.a_only == self.b_only:
            return None
        return self.a if self.a_only > self.b_only else self.b


def mcnemar(
    a_scores: Sequence[float], b_scores: Sequence[float], *, a: str = "a", b: str = "b"
) -> PairedTest:
    """Exact McNemar test on per-example scores (a score ≥ 0.5 counts as solved)."""
    if len(a_scores) != len(b_scores):
        raise ValueError(
            f"paired scores must cover the same examples: got {len(a_scores)} and {len(b_scores)}"
        )
    a_only = sum(1 for x, y in zip(a_scores, b_scores, strict=True) if x >= 0.5 > y)
    b_only = sum(1 for x, y in zip(a_scores, b_scores, strict=True) if y >= 0.5 > x)
    return PairedTest(
        a, b, a_only, b_only, binomial_two_sided(min(a_only, b_only), a_only + b_only)
    )


def binomial_two_sided(k: int, n: int) -> float:
    """P(X ≤ k or X ≥ n − k) for X ~ Binomial(n, 1/2), with k ≤ n/2; 1.0 when n = 0.

    >>> binomial_two_sided(0, 5)
    0.0625
    """
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def wins_needed(discordant: int, p_value: float = 0.05) -> int | None:
    """The fewest of ``discordant`` examples (those two recipes disagree on) that one recipe must
    win for the exact test to reach ``p < p_value``; ``None`` where even winning all cannot.

    >>> wins_needed(18), wins_needed(5), wins_needed(6)
    (14, None, 6)
    """
    for wins in range((discordant + 1) // 2, discordant + 1):
        if binomial_two_sided(discordant - wins, discordant) < p_value:
            return wins
    return None


def fewest_discordant(p_value: float = 0.05) -> int:
    """The fewest disagreements on which one recipe winning them all reaches ``p < p_value``: a
    paired comparison on fewer examples can never be significant.

    >>> fewest_discordant(0.05), fewest_discordant(0.01)
    (6, 8)
    """
    discordant = 1
    while wins_needed(discordant, p_value) is None:
        discordant += 1
    return discordant


def comparisons_table(tests: Sequence[PairedTest], accuracy: dict[str, float]) -> str:
    """Markdown: each pair, who won where they disagree, the p-value, and the headroom share.

    ``accuracy`` maps recipe names to accuracies; when it holds ``core-only``, ``ExecTune`` and
    the reference-plan ceiling, a last line says what share of the ceiling's lift over the core
    ExecTune captured.
    """
    lines = [
        "| comparison (a vs b) | only a solved | only b solved | exact McNemar p |",
        "|---|---|---|---|",
    ]
    lines += [f"| {t.a} vs {t.b} | {t.a_only} | {t.b_only} | {t.p_value:.3g} |" for t in tests]
    base, ours = accuracy.get("core-only"), accuracy.get("ExecTune")
    ceiling = accuracy.get("reference-plan ceiling")
    if None not in (base, ours, ceiling) and ceiling > base:
        share = (ours - base) / (ceiling - base)
        lines += [
            "",
            f"ExecTune captured {share:.0%} of the headroom between core-only and the "
            "reference-plan ceiling.",
        ]
    return "\n".join(lines)
