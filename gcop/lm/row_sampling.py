"""Sampling row by row inside one batch, each row with its own settings.

Sampling is Gumbel-max: adding Gumbel noise from a per-row ``torch.Generator`` to the
(temperature-scaled, top-p-filtered) logits and taking the argmax draws exactly from the softmax.
A row's draw depends on its own logits and generator only, so a seeded row samples the same text
whatever else is in its batch.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from gcop.extras import optional_imports

if TYPE_CHECKING:
    from gcop.lm.generation import GenRequest


class RowSampler:
    """Picks each row's next token: the argmax for greedy rows, a Gumbel-max draw for the rows
    with ``temperature > 0``, each from its own random stream."""

    def __init__(self, rows: list[tuple[GenRequest, int]]) -> None:
        with optional_imports():
            import torch

        self.temperature = [request.temperature for request, _ in rows]
        self.top_p = [request.top_p for request, _ in rows]
        self.generators: list[Any] = []
        for request, sample in rows:
            if request.greedy:
                self.generators.append(None)
                continue
            seed = secrets.randbits(62) if request.seed is None else request.seed
            stream = (seed * 1_000_003 + sample) % (1 << 63)
            self.generators.append(torch.Generator().manual_seed(stream))

    def choose(self, logits: Any, active: list[int]) -> Any:
        """The next token of each row in ``active`` (row indices), given their ``logits``."""
        with optional_imports():
            import torch

        tokens = logits.argmax(dim=-1)
        sampled = [i for i, r in enumerate(active) if self.generators[r] is not None]
        if sampled:
            rows = [active[i] for i in sampled]
            temperature = torch.tensor([self.temperature[r] for r in rows], device=logits.device)
            top_p = torch.tensor([self.top_p[r] for r in rows], device=logits.device)
            scaled = logits[sampled].float() / temperature[:, None]
            tokens[sampled] = draw(scaled, top_p, [self.generators[r] for r in rows])
        return tokens


CANDIDATES = 256  # a row samples among this many most likely tokens when they hold its top-p


def draw(logits, top_p, generators) -> Any:
    """One token per row of ``logits``: Gumbel-max over the row's top-p tokens, its noise from
    its own generator (the whole vocabulary where ``top_p`` is 1).

    The kept set nearly always lies among the few most likely tokens, so a row whose
    :data:`CANDIDATES` most likely tokens reach its ``top_p`` draws noise for those alone;
    sorting and drawing for a 150k-token vocabulary at every step took a quarter of a LoRA
    guide's sampling time. Only rows with flatter distributions sort their whole row.
    """
    with optional_imports():
        import torch

    top, index = logits.topk(min(CANDIDATES, logits.shape[-1]), dim=-1)
    peak = top[:, :1]
    mass = (logits - peak).exp().sum(dim=-1, keepdim=True)
    probabilities = (top - peak).exp() / mass
    before = probabilities.cumsum(dim=-1) - probabilities  # mass ahead of each candidate
    narrow = (before[:, -1] + probabilities[:, -1] >= top_p) & (top_p < 1)
    chosen = torch.empty(len(logits), dtype=torch.long, device=logits.device)
    for r, generator in enumerate(generators):
        if narrow[r]:
            kept = top[r].masked_fill(before[r] >= top_p[r], float("-inf"))
            chosen[r] = index[r, _gumbel_argmax(kept, generator)]
        else:
            row = logits[r] if top_p[r] >= 1 else _sorted_top_p(logits[r], top_p[r])
            chosen[r] = _gumbel_argmax(row, generator)
    return chosen


def _gumbel_argmax(logits, generator) -> int:
    """A draw from ``softmax(logits)``: the argmax of the logits plus Gumbel noise."""
    with optional_imports():
        import torch

    noise = torch.rand(logits.shape[-1], generator=generator).to(logits.device)
    gumbel = -torch.log(-torch.log(noise.clamp(1e-20, 1.0 - 1e-7)))
    return int((logits + gumbel).argmax())


def _sorted_top_p(logits, top_p):
    """``logits`` (one row) with the tokens outside its top-p set at -inf, by sorting it."""
    with optional_imports():
        import torch

    ordered, order = logits.sort(descending=True)
    probabilities = ordered.softmax(dim=-1)
    drop = probabilities.cumsum(dim=-1) - probabilities >= top_p  # mass before this token
    ordered = ordered.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
