"""The acceptance certificate (§A.11): a lower bound on accepted strategies' success on the core.

Each proposed strategy ``s`` has an unknown success rate ``p(s)`` on the core. Acceptance runs
``k`` trials and accepts when their mean is at least τ. Hoeffding's inequality gives, for
``p(s) ≤ τ − ε``, ``P(accept) ≤ exp(−2kε²) = δ``. If a fraction ``α`` of proposals is accepted, at
most ``δ/α`` of the accepted ones can be that bad, so

    E[p(s) | accepted] ≥ (τ − ε)(1 − δ/α) ≥ τ − ε − δ/α.

``α`` is replaced by a lower confidence bound ``α_LB = α̂ − sqrt(log(1/β) / 2m)`` from the ``m``
decided proposals, which holds with probability at least ``1 − β``.

>>> cert = hoeffding_certificate(18, 20, k=16, tau=0.75, delta=0.05, beta=0.05)
>>> round(cert.bound, 3), cert.non_vacuous
(0.364, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

SUGGESTED_K_CAP = 10_000  # the largest k worth suggesting


@dataclass(frozen=True)
class Certificate:
    """What acceptance sampling guarantees about the accepted strategies (§A.11).

    ``bound`` is ``None`` when ``alpha_lb ≤ 0`` (no bound at all); ``non_vacuous`` is true only for
    a positive bound. ``suggested_k`` is the smallest number of trials per proposal that would make
    the bound positive at this ``alpha_lb`` (``None`` when no ``k ≤ 10,000`` would).
    """

    alpha_hat: float
    alpha_lb: float
    epsilon: float
    delta: float
    beta: float
    k: int
    tau: float
    m: int
    n_accepted: int
    bound: float | None
    non_vacuous: bool
    suggested_k: int | None

    def to_dict(self) -> dict:
        """A JSON-able dict of every field."""
        return asdict(self)

    def describe(self) -> str:
        """One paragraph saying what the certificate guarantees, or why it guarantees nothing."""
        head = (
            f"{self.n_accepted} of {self.m} decided proposals were accepted (α̂ = "
            f"{self.alpha_hat:.2f}; α ≥ {self.alpha_lb:.2f} with probability {1 - self.beta:.2f}). "
            f"With k = {self.k} trials per proposal, τ = {self.tau:.2f} and δ = {self.delta:.2f} "
            f"(ε = {self.epsilon:.2f}), "
        )
        if self.non_vacuous:
            body = (
                f"an accepted strategy's expected success rate on this core is at least "
                f"{self.bound:.3f} (§A.11)."
            )
        else:
            shown = "undefined, since α_LB ≤ 0" if self.bound is None else f"{self.bound:.3f}"
            body = f"the bound is vacuous ({shown})."
        if self.non_vacuous or self.suggested_k is None:
            tail = "" if self.non_vacuous else " More proposals (larger m) would tighten α_LB."
        else:
            tail = f" k ≥ {self.suggested_k} trials per proposal would make it non-vacuous."
        return head + body + tail


def hoeffding_certificate(
    n_accepted: int, n_proposals: int, k: int, tau: float, delta: float, beta: float
) -> Certificate:
    """The §A.11 certificate for ``n_accepted`` of ``n_proposals`` decided proposals.

    Args:
        n_accepted: proposals accepted (mean of ``k`` trial scores ≥ ``tau``).
        n_proposals: ``m``, the decided proposals (accepted or rejected; undecided ones excluded).
        k: trials per proposal; the planned ``k`` even when early stopping ran fewer.
        tau: the acceptance threshold τ.
        delta: δ = exp(−2kε²), the chance that a strategy with success ≤ τ − ε is accepted.
        beta: 1 − β is the confidence of the lower bound on the acceptance rate α.

    Early stopping ends a proposal's trials once no outcome of the remaining ones could change
    the verdict, so the accept decision is the one all ``k`` trials would give: the event
    "accepted" is unchanged, and so is this certificate with the planned ``k``.
    """
    _check(n_accepted, n_proposals, k, tau, delta, beta)
    epsilon = math.sqrt(math.log(1 / delta) / (2 * k))
    if n_proposals == 0:
        alpha_hat, alpha_lb = 0.0, 0.0
    else:
        alpha_hat = n_accepted / n_proposals
        alpha_lb = alpha_hat - math.sqrt(math.log(1 / beta) / (2 * n_proposals))
    bound = _bound(tau, epsilon, delta, alpha_lb)
    return Certificate(
        alpha_hat=alpha_hat,
        alpha_lb=alpha_lb,
        epsilon=epsilon,
        delta=delta,
        beta=beta,
        k=k,
        tau=tau,
        m=n_proposals,
        n_accepted=n_accepted,
        bound=bound,
        non_vacuous=bound is not None and bound > 0,
        suggested_k=_suggest_k(tau, delta, alpha_lb),
    )


def _bound(tau: float, epsilon: float, delta: float, alpha_lb: float) -> float | None:
    return tau - epsilon - delta / alpha_lb if alpha_lb > 0 else None


def _suggest_k(tau: float, delta: float, alpha_lb: float) -> int | None:
    """Smallest k with τ − sqrt(log(1/δ)/2k) − δ/α_LB > 0; δ is fixed, so only ε shrinks."""
    if alpha_lb <= 0:
        return None
    gap = tau - delta / alpha_lb  # what ε must stay below
    if gap <= 0:
        return None
    estimate = math.log(1 / delta) / (2 * gap * gap)
    if estimate > SUGGESTED_K_CAP:
        return None
    k = max(1, math.floor(estimate))

    def positive(trials: int) -> bool:
        bound = _bound(tau, math.sqrt(math.log(1 / delta) / (2 * trials)), delta, alpha_lb)
        return bound is not None and bound > 0

    while k > 1 and positive(k - 1):  # float rounding: settle on the exact smallest k
        k -= 1
    while not positive(k):
        k += 1
    return k if k <= SUGGESTED_K_CAP else None


def _check(n_accepted: int, n_proposals: int, k: int, tau: float, delta: float, beta: float):
    if n_proposals < 0 or not 0 <= n_accepted <= n_proposals:
        raise ValueError(
            f"need 0 ≤ n_accepted ≤ n_proposals, got n_accepted={n_accepted}, "
            f"n_proposals={n_proposals}"
        )
    if k < 1:
        raise ValueError(f"k (trials per proposal) must be ≥ 1, got {k}")
    if not 0 < tau <= 1:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    for name, value in (("delta", delta), ("beta", beta)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
