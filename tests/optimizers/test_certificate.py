"""The §A.11 certificate: arithmetic, edge cases, and a simulation of what it promises."""

import json
import math
import random

import pytest

from gcop.optimizers.acceptance.certificate import hoeffding_certificate


def test_arithmetic_matches_hand_computed_values():
    cert = hoeffding_certificate(18, 20, k=16, tau=0.75, delta=0.05, beta=0.05)
    # α̂ = 0.9; α_LB = 0.9 − sqrt(ln 20 / 40) = 0.626334; ε = sqrt(ln 20 / 32) = 0.305968
    assert cert.alpha_hat == 0.9
    assert cert.alpha_lb == pytest.approx(0.626334, abs=1e-6)
    assert cert.epsilon == pytest.approx(0.305968, abs=1e-6)
    # bound = 0.75 − 0.305968 − 0.05 / 0.626334 = 0.364202
    assert cert.bound == pytest.approx(0.364202, abs=1e-6)
    assert cert.non_vacuous and cert.m == 20 and cert.k == 16
    # smallest k with 0.75 − sqrt(ln 20 / 2k) − 0.079830 > 0: ln 20 / (2 · 0.670170²) = 3.335 → 4
    assert cert.suggested_k == 4


def test_vacuous_bound_suggests_a_larger_k():
    cert = hoeffding_certificate(6, 10, k=4, tau=0.75, delta=0.05, beta=0.05)
    # α_LB = 0.6 − sqrt(ln 20 / 20) = 0.212977; τ − ε − δ/α_LB = 0.75 − 0.611937 − 0.234767 < 0
    assert cert.alpha_lb == pytest.approx(0.212977, abs=1e-6)
    assert cert.bound == 0.0 and not cert.non_vacuous  # clipped: a success rate is never < 0
    gap = 0.75 - 0.05 / cert.alpha_lb  # ε must drop below this
    assert cert.suggested_k == math.floor(math.log(20) / (2 * gap**2)) + 1 == 6
    assert cert.suggested_m is None  # more proposals would cost more trials than k = 6 here
    assert "vacuous" in cert.describe() and "k ≥ 6" in cert.describe()
    shown = hoeffding_certificate(6, 10, k=6, tau=0.75, delta=0.05, beta=0.05)
    assert shown.non_vacuous  # the suggestion works
    assert not hoeffding_certificate(6, 10, k=5, tau=0.75, delta=0.05, beta=0.05).non_vacuous


def informative(alpha_hat, m, k, tau=0.75, delta=0.05, beta=0.05):
    """The §A.11 bound, written out: is τ − ε(k) − δ/α_LB(m) positive?"""
    alpha_lb = alpha_hat - math.sqrt(math.log(1 / beta) / (2 * m))
    epsilon = math.sqrt(math.log(1 / delta) / (2 * k))
    return alpha_lb > 0 and tau - epsilon - delta / alpha_lb > 0


def test_negative_alpha_lower_bound_is_clipped_and_the_cheapest_fix_is_named():
    cert = hoeffding_certificate(1, 10, k=4, tau=0.75, delta=0.05, beta=0.05)
    # α_LB = 0.1 − sqrt(ln 20 / 20) = −0.287, which used to print as "α ≥ -0.29"
    assert cert.alpha_lb == 0.0 and cert.bound == 0.0 and not cert.non_vacuous
    text = cert.describe()
    assert "α ≥ 0.00" in text and "-0.29" not in text and "vacuous" in text
    m, k = cert.suggested_m, cert.suggested_k
    assert (m, k) == (4453, 79)
    assert f"{m} decided proposals (not 10) with k = {k} trials" in text
    assert informative(0.1, m, k) and not informative(0.1, m, k - 1)
    # no other design with at least 10 proposals needs fewer core trials (m·k)
    k_exact = math.floor(math.log(20) / (2 * (0.75 - 0.05 / 0.1) ** 2)) + 1  # α known: k ≥ 24
    for other_m in range(10, m * k // k_exact + 1):
        alpha_lb = 0.1 - math.sqrt(math.log(20) / (2 * other_m))
        if alpha_lb <= 0.05 / 0.75:
            continue  # ε would have to be negative: no k helps
        other_k = math.floor(math.log(20) / (2 * (0.75 - 0.05 / alpha_lb) ** 2)) + 1
        assert other_m * other_k >= m * k, (other_m, other_k)


def test_no_design_helps_when_few_proposals_are_accepted():
    for n_accepted, m in ((1, 20), (0, 0), (5, 100)):
        cert = hoeffding_certificate(n_accepted, m, k=4, tau=0.75, delta=0.05, beta=0.05)
        assert cert.bound == 0.0 and not cert.non_vacuous
        assert cert.suggested_k is None and cert.suggested_m is None
        assert "vacuous" in cert.describe() and "α̂ ≤ δ/τ = 0.067" in cert.describe()


def test_more_proposals_can_be_the_cheaper_fix():
    # α_LB = 0.3 − 0.273672 = 0.026328 < δ/τ: no k helps with 20 proposals
    cert = hoeffding_certificate(6, 20, k=4, tau=0.75, delta=0.05, beta=0.05)
    assert (cert.suggested_m, cert.suggested_k) == (57, 10)
    assert informative(0.3, 57, 10) and not informative(0.3, 20, 10_000)


def test_certificate_is_json_and_describes_itself():
    cert = hoeffding_certificate(18, 20, k=16, tau=0.75, delta=0.05, beta=0.05)
    assert json.loads(json.dumps(cert.to_dict()))["bound"] == pytest.approx(cert.bound)
    text = cert.describe()
    assert "18 of 20" in text and "at least 0.364" in text


@pytest.mark.parametrize(
    "bad",
    [
        dict(n_accepted=3, n_proposals=2),
        dict(n_accepted=-1),
        dict(k=0),
        dict(tau=0.0),
        dict(delta=1.0),
        dict(beta=0.0),
    ],
)
def test_bad_arguments_raise_value_errors(bad):
    args = dict(n_accepted=1, n_proposals=2, k=4, tau=0.75, delta=0.05, beta=0.05)
    with pytest.raises(ValueError):
        hoeffding_certificate(**{**args, **bad})


@pytest.mark.parametrize("k,m", [(16, 200), (32, 100)])
def test_simulated_accepted_strategies_beat_the_bound(k, m):
    """Strategies with true success p ~ Beta(4, 1); k Bernoulli trials; accept if mean ≥ τ."""
    tau, delta, beta = 0.75, 0.05, 0.05
    holds = checked = 0
    for seed in range(200):
        rng = random.Random(seed)
        true_p = [rng.betavariate(4, 1) for _ in range(m)]
        accepted = [p for p in true_p if sum(rng.random() < p for _ in range(k)) / k >= tau]
        cert = hoeffding_certificate(len(accepted), m, k=k, tau=tau, delta=delta, beta=beta)
        if not cert.non_vacuous:
            continue
        checked += 1
        holds += sum(accepted) / len(accepted) >= cert.bound
    assert checked >= 100
    assert holds >= 0.95 * checked
