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
SUGGESTED_M_CAP = 100_000  # the largest number of proposals worth suggesting


@dataclass(frozen=True)
class Certificate:
    """What acceptance sampling guarantees about the accepted strategies (§A.11).

    ``alpha_lb`` and ``bound`` lie in [0, 1]; ``bound`` is 0 when the certificate is vacuous
    (``non_vacuous`` is false), e.g. whenever ``alpha_lb`` is 0. ``suggested_k`` trials per
    proposal over ``suggested_m`` decided proposals (``None``: this ``m``) is the design with the
    fewest core trials (m·k) that makes the bound positive if the acceptance rate stays α̂; no k
    helps while ``alpha_lb`` ≤ δ/τ. Both are ``None`` when no design with k ≤ 10,000 and
    m ≤ 100,000 does.
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
    bound: float
    non_vacuous: bool
    suggested_k: int | None
    suggested_m: int | None = None

    def to_dict(self) -> dict:
        """A JSON-able dict of every field."""
        return asdict(self)

    def describe(self) -> str:
        """One paragraph saying what the certificate guarantees, or why it guarantees nothing."""
        head = (
            f"{self.n_accepted} of {self.m} decided proposals were accepted (α̂ = "
            f"{self.alpha_hat:.2f}; α ≥ {_unit(self.alpha_lb):.2f} with probability "
            f"{1 - self.beta:.2f}). With k = {self.k} trials per proposal, τ = {self.tau:.2f} "
            f"and δ = {self.delta:.2f} (ε = {self.epsilon:.2f}), "
        )
        if self.non_vacuous:
            return head + (
                f"an accepted strategy's expected success rate on this core is at least "
                f"{self.bound:.3f} (§A.11)."
            )
        body = "the bound is vacuous: it only says the success rate is at least 0."
        if self.suggested_k is None:
            limit = self.delta / self.tau
            why = (
                f"α̂ ≤ δ/τ = {limit:.3f}"
                if self.alpha_hat <= limit
                else f"within k ≤ {SUGGESTED_K_CAP:,} and m ≤ {SUGGESTED_M_CAP:,}"
            )
            tail = (
                f" At this acceptance rate no number of trials or proposals would make it "
                f"informative ({why}); a teacher whose strategies the core executes more often "
                "would."
            )
        elif self.suggested_m is None:
            tail = f" k ≥ {self.suggested_k} trials per proposal would make it informative."
        else:
            tail = (
                f" At this acceptance rate, {self.suggested_m} decided proposals (not {self.m}) "
                f"with k = {self.suggested_k} trials each would make it informative with the "
                "fewest core trials."
            )
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
    epsilon = _epsilon(delta, k)
    alpha_hat = n_accepted / n_proposals if n_proposals else 0.0
    alpha_lb = _alpha_lb(alpha_hat, n_proposals, beta)
    bound = _bound(tau, epsilon, delta, alpha_lb)
    suggested_m, suggested_k = _suggest_design(alpha_hat, n_proposals, tau, delta, beta)
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
        non_vacuous=bound > 0,
        suggested_k=suggested_k,
        suggested_m=None if suggested_m == n_proposals else suggested_m,
    )


def _unit(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _epsilon(delta: float, k: int) -> float:
    return math.sqrt(math.log(1 / delta) / (2 * k))


def _alpha_lb(alpha_hat: float, m: int, beta: float) -> float:
    """α_LB = α̂ − sqrt(log(1/β) / 2m), clipped to [0, 1] (0 without proposals)."""
    return _unit(alpha_hat - math.sqrt(math.log(1 / beta) / (2 * m))) if m else 0.0


def _bound(tau: float, epsilon: float, delta: float, alpha_lb: float) -> float:
    """τ − ε − δ/α_LB clipped to [0, 1]: 0 says nothing (and is all that α_LB = 0 allows)."""
    return _unit(tau - epsilon - delta / alpha_lb) if alpha_lb > 0 else 0.0


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
        return _bound(tau, _epsilon(delta, trials), delta, alpha_lb) > 0

    while k > 1 and positive(k - 1):  # float rounding: settle on the exact smallest k
        k -= 1
    while not positive(k):
        k += 1
    return k if k <= SUGGESTED_K_CAP else None


def _suggest_design(
    alpha_hat: float, m: int, tau: float, delta: float, beta: float
) -> tuple[int | None, int | None]:
    """``(proposals, k)`` with at least ``m`` proposals that makes the bound positive if α̂ stays
    as observed, using the fewest core trials (proposals × k); ``(None, None)`` if none does."""
    k_floor = _suggest_k(tau, delta, alpha_hat)  # the k needed even if α were known exactly
    if k_floor is None:
        return None, None
    # α_LB must exceed δ/τ before any k helps: log(1/β) / 2m < (α̂ − δ/τ)².
    first = math.floor(math.log(1 / beta) / (2 * (alpha_hat - delta / tau) ** 2)) + 1
    best: tuple[int, int] | None = None
    for proposals in range(max(first, m), SUGGESTED_M_CAP + 1):
        if best is not None and proposals * k_floor >= best[0] * best[1]:
            break  # no larger design can use fewer trials
        k = _suggest_k(tau, delta, _alpha_lb(alpha_hat, proposals, beta))
        if k is not None and (best is None or proposals * k < best[0] * best[1]):
            best = (proposals, k)
    return best if best is not None else (None, None)


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
