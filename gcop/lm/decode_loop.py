"""Decode a left-padded batch one token at a time, each row leaving the batch when it ends.

``model.generate`` keeps every row until the longest one ends, so rows that finished early still
cost a forward pass at every step: 39–49% of a guide's decoded row-steps in the quick demo, whose
five sampled plans per question differ in length. Here a finished row leaves the batch, with its
attention-mask row and its key/value cache (``batch_select_indices``), so each step computes
only the rows still writing. Positions come from the attention mask, as in ``generate``, so a row
reads the same tokens at the same positions either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gcop.extras import optional_imports


@dataclass
class Decoded:
    """Each row's new tokens (its last one the token that ended it) and why it ended."""

    tokens: list[list[int]]
    reasons: list[str]
    row_steps: int  # forward passes summed over rows: the decoding work done


def decode(
    model: Any,
    input_ids: Any,
    attention: Any,
    *,
    cache: Any | None,
    choose: Callable[[Any, list[int]], Any],
    ended: Callable[[int, list[int]], str | None],
) -> Decoded:
    """Decode until every row has ended.

    ``cache`` holds the key/value cache of the first ``cache.get_seq_length()`` columns (a shared
    prefix) or is ``None``; ``choose(logits, active)`` picks the next token of each row in
    ``active`` (indices of the original rows); ``ended(row, tokens)`` says why a row stops after
    ``tokens`` (``"stop"``, ``"length"``) or ``None`` to go on. Every row must end in finitely many
    steps (a token budget).
    """
    with optional_imports():
        import torch

    rows = input_ids.shape[0]
    positions = (attention.cumsum(-1) - 1).masked_fill(attention == 0, 0)
    cached = cache.get_seq_length() if cache is not None else 0
    step_ids, step_positions = input_ids[:, cached:], positions[:, cached:]
    active = list(range(rows))
    tokens: list[list[int]] = [[] for _ in range(rows)]
    reasons = [""] * rows
    row_steps = 0
    with torch.no_grad():
        while True:
            output = model(
                input_ids=step_ids,
                attention_mask=attention,
                position_ids=step_positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = output.cache
            row_steps += len(active)
            next_ids = choose(output.logits[:, -1].float(), active)[:, None]
            chosen = next_ids[:, 0].tolist()
            keep = []
            for i, (row, token) in enumerate(zip(active, chosen, strict=True)):
                tokens[row].append(token)
                reason = ended(row, tokens[row])
                if reason is None:
                    keep.append(i)
                else:
                    reasons[row] = reason
            if not keep:
                break
            next_positions = step_positions[:, -1:] + 1
            if len(keep) < len(active):
                index = torch.tensor(keep, device=input_ids.device)
                cache.batch_select_indices(index)
                attention, next_ids, next_positions = (
                    attention[index],
                    next_ids[index],
                    next_positions[index],
                )
                active = [active[i] for i in keep]
            attention = torch.cat([attention, attention.new_ones((len(active), 1))], dim=-1)
            step_ids, step_positions = next_ids, next_positions
    return Decoded(tokens, reasons, row_steps)
