"""Prefill the prompt prefix all rows of a batch share once, instead of once per row.

Batched rows often open alike: the same system prompt, the ICL baseline's worked examples, the k
trials of one acceptance prompt, a guide's samples for one task. The shared tokens go first in
every row and are prefilled as one row, their key/value cache repeated for the batch; each row's
own tokens follow, left-padded, so ``generate`` prefills only those. Positions come from the
attention mask, so a row reads exactly the tokens it would read unshared.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from gcop.extras import optional_imports

MIN_SHARED_TOKENS = 32  # below this a separate prefill call costs about what it saves


def shared_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all ``prompts`` share, leaving each at least one of its own; 0 for
    a single prompt or fewer than :data:`MIN_SHARED_TOKENS`.

    >>> shared_prefix_length([[1] * 40 + [2], [1] * 40 + [3, 4]])
    40
    >>> shared_prefix_length([[1] * 40, [1] * 40])  # each keeps its last token
    39
    >>> shared_prefix_length([[1] * 10 + [2], [1] * 10 + [3]])
    0
    """
    if len(prompts) < 2:
        return 0
    common = len(os.path.commonprefix([list(prompt) for prompt in prompts]))
    shared = min(common, min(len(prompt) for prompt in prompts) - 1)
    return shared if shared >= MIN_SHARED_TOKENS else 0


def shared_prefix_cache(model: Any, prefix: Sequence[int], rows: int) -> Any | None:
    """The key/value cache of ``prefix``, prefilled once and repeated for ``rows`` rows; ``None``
    for a model whose cache cannot be repeated (it then prefills every row in full)."""
    with optional_imports():
        import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        output = model(input_ids=torch.tensor([list(prefix)], device=device), use_cache=True)
    cache = getattr(output, "cache", None)
    if not hasattr(cache, "batch_repeat_interleave"):
        return None
    cache.batch_repeat_interleave(rows)
    return cache
