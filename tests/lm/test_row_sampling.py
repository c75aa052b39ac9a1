"""Row sampling: each row draws from its own top-p distribution, with its own random stream."""

from __future__ import annotations

import math

import pytest
import torch

from gcop.lm.row_sampling import CANDIDATES, draw

VOCAB = 3 * CANDIDATES  # wider than the candidate set, so both paths run


def peaked_row() -> torch.Tensor:
    """Probabilities 0.5, 0.3, 0.15 on tokens 7, 11, 3; the other 0.05 spread over the rest."""
    probabilities = torch.full((VOCAB,), 0.05 / (VOCAB - 3))
    probabilities[[7, 11, 3]] = torch.tensor([0.5, 0.3, 0.15])
    return probabilities.log()


def draws(row: torch.Tensor, top_p: float, n: int) -> list[int]:
    generators = [torch.Generator().manual_seed(seed) for seed in range(n)]
    logits = row.expand(n, -1)
    return draw(logits, torch.full((n,), top_p), generators).tolist()


def test_a_peaked_row_samples_its_top_p_tokens_in_proportion():
    """top-p 0.9 keeps tokens 7, 11, 3 (0.95 of the mass) and renormalizes them."""
    tokens = draws(peaked_row(), 0.9, 3000)
    assert set(tokens) == {7, 11, 3}
    for token, probability in ((7, 0.5), (11, 0.3), (3, 0.15)):
        assert tokens.count(token) / len(tokens) == pytest.approx(probability / 0.95, abs=0.03)


def test_a_flat_row_sorts_its_whole_vocabulary():
    """Uniform logits: the top half of the (tied) vocabulary is kept, beyond the candidates."""
    tokens = draws(torch.zeros(VOCAB), 0.5, 2000)
    assert len(set(tokens)) > CANDIDATES
    assert len(set(tokens)) <= math.ceil(VOCAB * 0.5) + 1


def test_top_p_one_keeps_every_token():
    tokens = draws(peaked_row(), 1.0, 3000)
    assert len(set(tokens) - {7, 11, 3}) > 50  # the 0.05 tail is reachable
    assert tokens.count(7) / len(tokens) == pytest.approx(0.5, abs=0.03)


def test_a_row_draws_the_same_token_alone_and_beside_other_rows():
    rows = torch.stack([peaked_row(), torch.zeros(VOCAB), peaked_row().flip(0)])
    for seed in range(20):
        together = draw(
            rows,
            torch.tensor([0.9, 0.5, 1.0]),
            [torch.Generator().manual_seed(seed + offset) for offset in (0, 100, 200)],
        )
        for r, top_p in enumerate((0.9, 0.5, 1.0)):
            alone = draw(
                rows[r : r + 1],
                torch.tensor([top_p]),
                [torch.Generator().manual_seed(seed + 100 * r)],
            )
            assert together[r] == alone[0]
