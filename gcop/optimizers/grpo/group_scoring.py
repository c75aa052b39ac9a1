"""GRPO's loss computed the way its rows come: in groups that share a prompt.

TRL scores each row as one full sequence (prompt + completion), so a group of G completions runs
its prompt forward and backward G times. A guide's prompt is about four times its plan (GSM8K:
~144 tokens against ~40), so on a CPU that repeated prompt is most of the training step.
:func:`prefix_shared_logps` runs each distinct prompt once, hands its key/value cache (which keeps
its gradient) to the rows that continue it, and runs only the completions on top: the same
log-probabilities from about a third of the tokens.

Used by :class:`gcop.optimizers.grpo.guide_trainer.GuideGRPOTrainer`, which also leaves rows
without advantage out of the pass where that leaves the gradient as it is.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from gcop.optimizers.grpo.rollout import left_padded

_CHUNK_TOKENS = 256  # completion tokens whose logits exist at once (152k vocabulary: ~155 MB)


def prefix_shared_logps(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    *,
    temperature: float,
    compute_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probabilities (and entropies) of the last ``logits_to_keep`` tokens of each
    row, at ``temperature``, as a full forward pass gives them; rows with equal prompts share one
    prompt pass. Prompts are left-padded, completions right-padded (TRL's layout)."""
    prompt_ids, prompt_mask = input_ids[:, :-logits_to_keep], attention_mask[:, :-logits_to_keep]
    completion_ids = input_ids[:, -logits_to_keep:]
    completion_mask = attention_mask[:, -logits_to_keep:]
    prompts = [
        tuple(ids[mask.bool()].tolist()) for ids, mask in zip(prompt_ids, prompt_mask, strict=True)
    ]
    unique: dict[tuple[int, ...], int] = {}
    rows = [unique.setdefault(prompt, len(unique)) for prompt in prompts]
    rows = torch.tensor(rows, device=input_ids.device)
    ids, mask, positions = left_padded(list(unique), pad_id=0, device=input_ids.device)

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(base, base.base_model_prefix)
    head = base.get_output_embeddings()
    prompt_out = backbone(
        input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True
    )
    cache = prompt_out.cache
    cache.reorder_cache(rows)  # each row continues its own prompt's cache (a differentiable copy)
    completion_out = backbone(
        input_ids=completion_ids,
        attention_mask=torch.cat([mask[rows], completion_mask], dim=1),
        position_ids=positions[rows, -1:] + 1 + torch.arange(logits_to_keep, device=ids.device),
        cache=cache,
        use_cache=True,
    )
    # the hidden state before each completion token predicts it: the prompt's last, then its own
    hidden = torch.cat(
        [prompt_out.last_hidden_state[rows, -1:], completion_out.last_hidden_state[:, :-1]], dim=1
    )
    scored = completion_mask.bool()
    chosen, entropy = _token_scores(head, hidden[scored], completion_ids[scored], temperature)
    logps = torch.zeros(scored.shape, dtype=chosen.dtype, device=chosen.device)
    logps = logps.masked_scatter(scored, chosen)
    if not compute_entropy:
        return logps, None
    return logps, torch.zeros_like(logps).masked_scatter(scored, entropy)


def _token_scores(
    head: Any, hidden: torch.Tensor, tokens: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's log-probability under ``head`` at ``temperature``, and its distribution's
    entropy (a metric, no gradient), in chunks of rows whose logits are recomputed in the backward
    pass rather than kept: a 152k-word vocabulary's logits for a step's ~1,300 tokens are ~0.8 GB
    per copy."""
    chosen, entropy = [], []
    for start in range(0, hidden.size(0), _CHUNK_TOKENS):
        part = slice(start, start + _CHUNK_TOKENS)
        args = (head, hidden[part], tokens[part], temperature)
        if torch.is_grad_enabled():
            scores = checkpoint(_chunk_scores, *args, use_reentrant=False)
        else:
            scores = _chunk_scores(*args)
        chosen.append(scores[0])
        entropy.append(scores[1])
    return torch.cat(chosen), torch.cat(entropy)


def _chunk_scores(head: Any, hidden: torch.Tensor, tokens: torch.Tensor, temperature: float):
    log_probs = torch.log_softmax(head(hidden).float() / temperature, dim=-1)
    chosen = log_probs.gather(1, tokens[:, None]).squeeze(1)
    with torch.no_grad():
        entropy = -(log_probs.exp() * log_probs).sum(-1)
    return chosen, entropy
