"""Early stopping for acceptance sampling: when is a proposal's k-trial verdict already fixed?

Scores lie in [0, 1], so after ``n`` of ``k`` trials with score sum ``total`` the final sum lies in
``[total, total + (k − n)]``. Once both ends fall on the same side of ``τ·k`` the verdict cannot
change: with k = 4 and τ = 0.75, three successes accept and two failures reject. Stopping there
gives exactly the decision all ``k`` trials would give, so the §A.11 certificate still holds.

>>> verdict(3.0, 3, k=4, tau=0.75), verdict(0.0, 2, k=4, tau=0.75), verdict(1.0, 2, k=4, tau=0.75)
(<Verdict.ACCEPTED: 'accepted'>, <Verdict.REJECTED: 'rejected'>, None)
>>> results_to_decide(0.0, 0, k=4, tau=0.75)  # two results could already reject
2
"""

from __future__ import annotations

from gcop.optimizers.acceptance.records import Verdict


def verdict(total: float, n: int, *, k: int, tau: float, early_stop: bool = True) -> Verdict | None:
    """``accepted`` / ``rejected`` once the mean of all ``k`` scores is settled, else ``None``.

    Without ``early_stop`` a verdict needs all ``k`` trials.
    """
    if n < k and not early_stop:
        return None
    if total / k >= tau:
        return Verdict.ACCEPTED
    if (total + (k - n)) / k < tau:
        return Verdict.REJECTED
    return None


def results_to_decide(total: float, n: int, *, k: int, tau: float) -> int:
    """The fewest further results after which the verdict could be settled.

    Launching exactly this many trials at once never spends a call that sequential early stopping
    would have skipped: no verdict is possible before all of them are back.
    """
    for more in range(1, k - n + 1):
        if (total + more) / k >= tau or (total + (k - n - more)) / k < tau:
            return more
    return k - n
