"""Sampling row by row inside a greedy ``generate`` call, each row with its own settings.

Sampling is Gumbel-max on top of greedy decoding: adding Gumbel noise from a per-row
``torch.Generator`` to the (temperature-scaled, top-p-filtered) logits and taking the argmax draws
exactly from the softmax, so a seeded row samples the same text whatever else is in its batch.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gcop.lm.generation import GenRequest


class RowSampler:
    """Turns greedy decoding into sampling for the rows with ``temperature > 0`` (Gumbel-max)."""

    def __init__(self, rows: list[tuple[GenRequest, int]]) -> None:
        import torch

        self.index = [r for r, (request, _) in enumerate(rows) if not request.greedy]
        self.temperature = torch.tensor([rows[r][0].temperature for r in self.index])
        self.top_p = torch.tensor([rows[r][0].top_p for r in self.index])
        self.generators = []
        for r in self.index:
            request, sample = rows[r]
            seed = secrets.randbits(62) if request.seed is None else request.seed
            stream = (seed * 1_000_003 + sample) % (1 << 63)
            self.generators.append(torch.Generator().manual_seed(stream))

    def __call__(self, input_ids, scores):
        import torch

        index = torch.tensor(self.index, device=scores.device)
        logits = scores[index].float() / self.temperature.to(scores.device)[:, None]
        if bool((self.top_p < 1).any()):
            logits = top_p_filter(logits, self.top_p.to(scores.device))
        noise = torch.stack(
            [torch.rand(scores.shape[-1], generator=g) for g in self.generators]
        ).to(scores.device)
        gumbel = -torch.log(-torch.log(noise.clamp(1e-20, 1.0 - 1e-7)))
        scores = scores.clone().float()
        scores[index] = logits + gumbel
        return scores


def top_p_filter(logits, top_p):
    """Keep the smallest set of tokens whose probability reaches ``top_p`` (per row)."""
    import torch

    ordered, order = logits.sort(dim=-1, descending=True)
    cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
    drop = cumulative - ordered.softmax(dim=-1) >= top_p[:, None]  # mass before this token
    ordered = ordered.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
