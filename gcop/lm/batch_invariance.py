"""Compute every row of a batch exactly as it would be computed alone.

In bfloat16 a greedy reply depended on which other requests shared its batch (12 of 16 GSM8K
replies of 48 tokens equal to a sequential run; see docs/engine.md). Two things change a row's
numbers with the batch. Each is a float32 rounding difference, which a bfloat16 result rounds to
a neighbouring value and the following layers and tokens amplify:

- A linear layer given a single row (a request decoding alone, the lm head after a one-row
  prefill) takes a matrix-vector path that sums long rows (``in_features`` >= 2048: the MLP's down
  projection) in another order than the matrix product taken for two rows or more. Measured with
  torch 2.13 on an AMD EPYC with AVX-512 BF16: from two rows on, a row's result is the same for
  any row count and position (the tests check it wherever they run).
- Attention over a left-padded row reads its keys shifted by the padding (or by the gap between
  a shared prefix and the row's own tokens), so the reductions over keys group the same terms
  differently; the fused SDPA kernels also choose their blocking by the number of keys.

:func:`each_row_as_alone` serves a model inside a ``with`` block with single rows computed as the
first of two copies and an attention that gathers each row's keys to the front (padding last,
where its weights are exactly zero and change no sum) and computes it as a matrix product for
the scores, a float32 softmax and products of the weights and values over blocks of keys,
whose per-row results stay the same for any number of rows, queries or trailing masked keys. (One
product over all keys did not beyond 1024 keys: a long prompt beside a longer one got other bits;
see :func:`_weighted_values`.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gcop.extras import optional_imports
from gcop.lm.hf_import import HF_IMPORT_LOCK

ATTENTION = "gcop_batch_invariant"
SCORE_BUDGET = 1 << 27  # attention scores held at once; queries run in chunks beyond
KEY_BLOCK = 1024  # keys one product of weights and values sums (see _weighted_values)
_LAYOUT = "_gcop_front_layout"
_SINGLE_ROW = "_gcop_single_row_shape"  # on a doubled input: the shape of the row it doubles


@contextmanager
def each_row_as_alone(model: Any) -> Iterator[None]:
    """Inside the block, ``model`` computes each row as it would alone (see the module doc)."""
    with optional_imports():
        import torch

    _register()
    configs = _attention_configs(model)
    before = [config._attn_implementation for config in configs]
    hooks = []
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            hooks.append(module.register_forward_pre_hook(_two_rows_at_least))
            hooks.append(module.register_forward_hook(_first_row_only))
    for config in configs:
        config._attn_implementation = ATTENTION
    try:
        yield
    finally:
        for config, implementation in zip(configs, before, strict=True):
            config._attn_implementation = implementation
        for hook in hooks:
            hook.remove()


def _attention_configs(model: Any) -> list[Any]:
    """The configs whose ``_attn_implementation`` the model's attention layers read."""
    configs = {id(module.config): module.config for module in model.modules() if _reads(module)}
    return list(configs.values())


def _reads(module: Any) -> bool:
    config = getattr(module, "config", None)
    return config is not None and hasattr(config, "_attn_implementation_internal")


def _two_rows_at_least(module: Any, args: tuple) -> tuple | None:
    """A linear layer's input as two copies of its row when it has a single row."""
    rows = args[0]
    if rows.numel() != rows.shape[-1]:
        return None
    twice = rows.reshape(1, -1).repeat(2, 1)
    setattr(twice, _SINGLE_ROW, rows.shape)
    return (twice, *args[1:])


def _first_row_only(module: Any, args: tuple, output: Any) -> Any:
    """The first copy's output, in the single row's shape (untouched for other inputs)."""
    shape = getattr(args[0], _SINGLE_ROW, None)
    return None if shape is None else output[:1].reshape(*shape[:-1], -1)


def row_invariant_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention whose result for a row does not depend on the batch's padding or other rows.

    ``query`` is ``(rows, heads, queries, dim)``, ``key`` and ``value`` ``(rows, kv_heads, keys,
    dim)``, ``attention_mask`` a boolean ``(rows, 1, queries, keys)`` (True: attend). Each row's
    attended keys are gathered to the front in order, so a key at position ``p`` sits at index
    ``p`` as it would with no padding; the padding follows with weight exactly zero. The query
    heads that share a key head are stacked as rows of one product (two or more rows: see the
    module doc on single rows).
    """
    with optional_imports():
        import torch

    rows, heads, queries, dim = query.shape
    kv_heads, keys = key.shape[1], key.shape[2]
    group = heads // kv_heads
    flat, masked = _front_layout(attention_mask, kv_heads)
    key = key.reshape(-1, dim).index_select(0, flat).view(rows, kv_heads, keys, dim)
    value = value.reshape(-1, dim).index_select(0, flat).view(rows, kv_heads, keys, dim)
    scale = dim**-0.5 if scaling is None else scaling
    grouped = (query * scale).reshape(rows, kv_heads, group, queries, dim)
    lowest = torch.finfo(query.dtype).min
    step = max(1, SCORE_BUDGET // max(1, rows * heads * keys))
    pieces = []
    for start in range(0, queries, step):
        part = grouped[:, :, :, start : start + step]
        count = part.shape[3]
        scores = part.reshape(rows, kv_heads, group * count, dim) @ key.transpose(2, 3)
        scores = scores.view(rows, kv_heads, group, count, keys)
        scores.masked_fill_(masked[:, None, :, start : start + count], lowest)
        # float32: bfloat16's softmax sums in chunks that trailing masked keys can shift
        weights = scores.float().softmax(dim=-1).to(value.dtype)
        weights = weights.view(rows, kv_heads, group * count, keys)
        pieces.append(_weighted_values(weights, value).view(rows, heads, count, dim))
    output = torch.cat(pieces, dim=2) if len(pieces) > 1 else pieces[0]
    return output.transpose(1, 2).contiguous(), None


def _weighted_values(weights: Any, value: Any) -> Any:
    """``weights @ value`` as products over blocks of at most :data:`KEY_BLOCK` keys, their sum
    in float32 (one block: the product itself, as before blocks existed).

    A product's blocking over the keys changes with their number: on an AMD EPYC with torch 2.13
    a row's 810 attended keys gave other bits alone than beside a row of 1106 keys (its 296
    trailing keys masked), and a long ICL prompt thus got another greedy reply in another batch.
    Up to 1024 keys, trailing masked keys changed no bit (600 random shapes, 1 and 2 threads).
    So a row's keys are summed in the same blocks whatever follows them, and a block of masked
    keys adds exactly zero.
    """
    keys = weights.shape[-1]
    if keys <= KEY_BLOCK:
        return weights @ value
    total = None
    for start in range(0, keys, KEY_BLOCK):
        part = (
            weights[..., start : start + KEY_BLOCK] @ value[:, :, start : start + KEY_BLOCK]
        ).float()
        total = part if total is None else total.add_(part)
    return total.to(value.dtype)


def _front_layout(attention_mask: Any, kv_heads: int) -> tuple[Any, Any]:
    """Where each row's attended keys go (indices into the ``(rows * kv_heads * keys)`` key rows,
    attended keys first in order) and the mask in that layout, inverted (True: masked out).

    Every layer of a forward pass gets the same mask, so the layout is kept on the mask tensor.
    """
    with optional_imports():
        import torch

    kept = getattr(attention_mask, _LAYOUT, None)
    if kept is not None and kept[0] == kv_heads:
        return kept[1], kept[2]
    rows, _, queries, keys = attention_mask.shape
    mask = attention_mask[:, :1].expand(rows, 1, queries, keys)
    attended = mask.any(dim=-2)[:, 0]  # (rows, keys): keys some query of the row reads
    order = torch.sort((~attended).to(torch.uint8), dim=-1, stable=True).indices
    masked = ~mask.gather(-1, order[:, None, None, :].expand(rows, 1, queries, keys))
    # Row (r, h, j) of the gathered keys is row (r, h, order[r, j]): one copy of whole rows.
    heads_first = torch.arange(rows * kv_heads, device=order.device).view(rows, kv_heads, 1)
    flat = (heads_first * keys + order[:, None, :]).flatten()
    setattr(attention_mask, _LAYOUT, (kv_heads, flat, masked))
    return flat, masked


def _register() -> None:
    with HF_IMPORT_LOCK, optional_imports():
        from transformers import AttentionInterface
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    if ATTENTION in AttentionInterface._global_mapping:
        return

    def full_mask(*args: Any, **kwargs: Any) -> Any:
        return sdpa_mask(*args, **{**kwargs, "allow_is_causal_skip": False})

    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, full_mask)
    AttentionInterface.register(ATTENTION, row_invariant_attention)
