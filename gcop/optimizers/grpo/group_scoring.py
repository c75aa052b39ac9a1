"""GRPO's loss computed the way its rows come: in groups that share a prompt.

TRL scores each row as one full sequence (prompt + completion), so a group of G completions runs
its prompt forward and backward G times. A guide's prompt is about four times its plan (GSM8K:
~144 tokens against ~40), so on a CPU that repeated prompt is most of the training step.
:func:`prefix_shared_logps` runs each distinct prompt once, hands its key/value cache (which keeps
its gradient) to the rows that continue it, and runs only the completions on top: the same
log-probabilities from about a third of the tokens.

Rows whose advantage is zero (a group whose samples all scored alike) add nothing to the gradient
when the loss has no KL term (``beta=0``) and normalises by the whole step's token count
(``loss_type`` "dapo", TRL's default, or "cispo"); :class:`GroupScoringGRPOTrainer` leaves them
out of the forward pass then, so a step costs what its informative groups cost.

This module imports TRL; :func:`gcop.optimizers.grpo.trainer.grpo_trainer` imports it when a run
starts.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer

# loss types whose per-step normaliser does not depend on which rows a micro-batch holds
_ROW_SUM_LOSSES = ("dapo", "cispo")


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
    ids, mask = _left_padded(list(unique), prompt_ids)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)

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
    logits = head(hidden[scored]).float() / temperature
    log_probs = torch.log_softmax(logits, dim=-1)
    chosen = log_probs.gather(1, completion_ids[scored][:, None]).squeeze(1)
    logps = torch.zeros(scored.shape, dtype=chosen.dtype, device=chosen.device)
    logps = logps.masked_scatter(scored, chosen)
    if not compute_entropy:
        return logps, None
    with torch.no_grad():  # a metric: no gradient flows through it
        entropy = -(log_probs.exp() * log_probs).sum(-1)
    return logps, torch.zeros_like(logps).masked_scatter(scored, entropy)


def _left_padded(prompts: list[tuple[int, ...]], like: torch.Tensor):
    width = max(len(p) for p in prompts)
    ids = torch.zeros((len(prompts), width), dtype=like.dtype, device=like.device)
    mask = torch.zeros_like(ids)
    for i, prompt in enumerate(prompts):
        ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=like.dtype)
        mask[i, width - len(prompt) :] = 1
    return ids, mask


class GroupScoringGRPOTrainer(GRPOTrainer):
    """TRL's ``GRPOTrainer`` that scores rows with :func:`prefix_shared_logps` (when
    ``share_prefix``) and skips rows that carry no gradient (when that is exact)."""

    def __init__(self, *args: Any, share_prefix: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.share_prefix = share_prefix

    def skips_flat_rows(self) -> bool:
        """Whether rows with zero advantage can be left out without changing the gradient."""
        return (
            self.beta == 0.0
            and self.loss_type in _ROW_SUM_LOSSES
            and self.top_entropy_quantile == 1.0
            and not getattr(self, "_entropy_bonus_enabled", False)
            and not self.aux_loss_enabled
        )

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        advantages = inputs["advantages"]
        if self.skips_flat_rows() and advantages.dim() == 1:
            keep = advantages != 0
            if not bool(keep.any()):
                keep[0] = True  # an all-flat micro-batch keeps one row: a zero loss to step on
            if not bool(keep.all()):
                inputs = _rows(inputs, keep)
        return super()._compute_loss(model, inputs)

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **multimodal: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        text_only = all(value is None for value in multimodal.values())
        if not (self.share_prefix and text_only and not compute_aux_loss):
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **multimodal,
            )
        with self.accelerator.autocast():
            logps, entropies = prefix_shared_logps(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                temperature=self.temperature,
                compute_entropy=compute_entropy,
            )
        return logps, entropies, None


def _rows(inputs: dict[str, Any], keep: torch.Tensor) -> dict[str, Any]:
    """The micro-batch's entries for the rows in ``keep``; step-wide values (the token count the
    loss divides by) stay as they are."""
    size = keep.numel()
    return {
        name: value[keep]
        if isinstance(value, torch.Tensor) and value.dim() >= 1 and value.size(0) == size
        else value
        for name, value in inputs.items()
    }
