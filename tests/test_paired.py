"""Exact McNemar test: counts of discordant pairs and binomial p-values checked by hand."""

from __future__ import annotations

import math

import pytest

from gcop.paired import (
    binomial_two_sided,
    comparisons_table,
    fewest_discordant,
    mcnemar,
    wins_needed,
)


def test_counts_only_discordant_problems():
    test = mcnemar([1, 1, 0, 0, 1, 0.0], [1, 0, 1, 0, 0, 0.0], a="x", b="y")
    assert (test.a_only, test.b_only, test.winner) == (2, 1, "x")
    assert test.p_value == pytest.approx(1.0)  # 3 discordant, 2 vs 1: no evidence


def test_p_value_matches_the_binomial_tail():
    # 10 discordant pairs all one way: 2 * 0.5**10
    assert mcnemar([1] * 10 + [0] * 5, [0] * 15).p_value == pytest.approx(2 / 1024)
    # 20 discordant, 15 vs 5: 2 * sum_{i<=5} C(20, i) / 2**20
    expected = 2 * sum(math.comb(20, i) for i in range(6)) / 2**20
    scores_a = [1] * 15 + [0] * 5
    scores_b = [0] * 15 + [1] * 5
    assert mcnemar(scores_a, scores_b).p_value == pytest.approx(expected)
    assert binomial_two_sided(0, 0) == 1.0
    assert mcnemar([1, 0], [1, 0]).winner is None


def test_unpaired_lengths_are_refused():
    with pytest.raises(ValueError, match="same examples"):
        mcnemar([1, 0], [1])


def test_table_reports_headroom_share():
    tests = [mcnemar([1, 1, 0, 0], [0, 0, 0, 0], a="ExecTune", b="core-only")]
    accuracy = {"core-only": 0.30, "ExecTune": 0.41, "reference-plan ceiling": 0.52}
    table = comparisons_table(tests, accuracy)
    assert "| ExecTune vs core-only | 2 | 0 | 0.5 |" in table
    assert "captured 50% of the headroom" in table


@pytest.mark.parametrize(
    ("discordant", "p_value", "needed"),
    [(0, 0.05, None), (5, 0.05, None), (6, 0.05, 6), (8, 0.05, 8), (18, 0.05, 14), (100, 0.05, 61)],
)
def test_wins_needed_is_the_first_split_under_the_level(discordant, p_value, needed):
    assert wins_needed(discordant, p_value) == needed
    if needed is not None:  # one fewer win is not significant
        assert binomial_two_sided(discordant - needed, discordant) < p_value
        assert binomial_two_sided(discordant - needed + 1, discordant) >= p_value


def test_fewest_discordant_is_where_a_clean_sweep_first_counts():
    assert fewest_discordant(0.05) == 6 and fewest_discordant(0.01) == 8
    assert binomial_two_sided(0, 5) >= 0.05 > binomial_two_sided(0, 6)
