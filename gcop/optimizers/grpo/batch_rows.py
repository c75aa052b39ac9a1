"""Rows of a GRPO step's batch, in TRL's layout: pick some, or join several batches into one.

TRL hands a step's samples around as a dict: per-row tensors (prompts left-padded, completions
and their per-token values right-padded, one advantage a row) beside step-wide values (the token
count the loss divides by).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

# per-row tensors whose padding is on the left (prompts); the others are padded on the right
_LEFT_PADDED = ("prompt_ids", "prompt_mask")


def row_count(batch: dict[str, Any]) -> int:
    return int(batch["advantages"].size(0))


def select_rows(batch: dict[str, Any], keep: torch.Tensor) -> dict[str, Any]:
    """The batch's entries for the rows in ``keep`` (a boolean mask); step-wide values stay."""
    size = keep.numel()
    return {name: value[keep] if _per_row(value, size) else value for name, value in batch.items()}


def concat_rows(batches: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One batch holding every row of ``batches``, padded to common widths; step-wide values are
    taken from the first (the caller sets what the joined batch needs)."""
    first = batches[0]
    joined = dict(first)
    for name, value in first.items():
        if not _per_row(value, row_count(first)):
            continue
        parts = [batch[name] for batch in batches]
        if value.dim() == 2:
            width = max(part.size(1) for part in parts)
            left = name in _LEFT_PADDED
            parts = [_pad(part, width, left) for part in parts]
        joined[name] = torch.cat(parts, dim=0)
    return joined


def _per_row(value: Any, size: int) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() >= 1 and value.size(0) == size


def _pad(part: torch.Tensor, width: int, left: bool) -> torch.Tensor:
    missing = width - part.size(1)
    return torch.nn.functional.pad(part, (missing, 0) if left else (0, missing))
