"""GRPO's groups sampled with one prefill per prompt: a TRL ``rollout_func``.

TRL's own sampling (``generate`` over the step's rows) repeats each prompt ``num_generations``
times, so the prompt's forward pass (prefill) runs once per completion. A guide's prompt is about
four times longer than its plan (GSM8K: ~144 tokens against ~40), so on a CPU the prefill is most
of the sampling. :func:`shared_prefix_rollout` runs each distinct prompt once, copies its
key/value cache to the rows that continue it, and samples all rows together, token by token, as
``generate`` would (plain sampling at the trainer's temperature; stops at EOS or
``max_completion_length``). The per-token log-probabilities it returns are those of the sampling
distribution (logits / temperature), as TRL expects of a rollout function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def shared_prefix_rollout(prompts: list[Any], trainer: Any) -> dict[str, list]:
    """Sample one completion per entry of ``prompts`` (TRL's ``rollout_func`` contract); equal
    prompts share one prefill."""
    import torch

    prompt_ids, _, _ = trainer._tokenize_prompts(prompts)
    prompt_ids = [list(map(int, ids)) for ids in prompt_ids]
    unique: dict[tuple[int, ...], int] = {}
    rows = [unique.setdefault(tuple(ids), len(unique)) for ids in prompt_ids]
    model = trainer.model
    was_training = model.training
    model.eval()  # gradient checkpointing turns the KV cache off in training mode
    try:
        with torch.no_grad():
            completions, logprobs = sample_rows(
                model,
                [list(ids) for ids in unique],
                rows,
                max_new_tokens=trainer.max_completion_length,
                temperature=trainer.temperature,
                eos_ids=set(_as_list(trainer.eos_token_ids)),
                pad_id=trainer._tokenizer.pad_token_id,
            )
    finally:
        model.train(was_training)
    return {"prompt_ids": prompt_ids, "completion_ids": completions, "logprobs": logprobs}


def sample_rows(
    model: Any,
    prompts: list[list[int]],
    rows: list[int],
    *,
    max_new_tokens: int,
    temperature: float,
    eos_ids: set[int],
    pad_id: int,
) -> tuple[list[list[int]], list[list[float]]]:
    """Prefill each of ``prompts`` once (left-padded), then sample a completion for each entry
    of ``rows`` (an index into ``prompts``); returns token ids and their log-probabilities."""
    import torch

    device = next(model.parameters()).device
    ids, mask, positions = left_padded(prompts, pad_id, device)
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
    )
    index = torch.tensor(rows, device=device)
    cache = out.cache
    cache.reorder_cache(index)  # one copy of its prompt's cache per row
    logits = out.logits[index, -1, :].float()
    mask, next_position = mask[index], positions[index, -1] + 1
    n = len(rows)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    tokens: list[list[int]] = [[] for _ in range(n)]
    logps: list[list[float]] = [[] for _ in range(n)]
    eos = torch.tensor(sorted(eos_ids), device=device)
    for _ in range(max_new_tokens):
        log_probs = torch.log_softmax(logits / temperature, dim=-1)
        token = torch.multinomial(log_probs.exp(), 1).squeeze(1)
        chosen = log_probs.gather(1, token[:, None]).squeeze(1)
        for r in (~done).nonzero().flatten().tolist():
            tokens[r].append(int(token[r]))
            logps[r].append(float(chosen[r]))
        done |= torch.isin(token, eos)
        if bool(done.all()):
            break
        token = torch.where(done, torch.full_like(token, pad_id), token)
        mask = torch.cat([mask, (~done).long()[:, None]], dim=1)
        out = model(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=next_position[:, None],
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        cache, logits, next_position = (
            out.cache,
            out.logits[:, -1, :].float(),
            next_position + 1,
        )
    return tokens, logps


def left_padded(prompts: Sequence[Sequence[int]], pad_id: int, device: Any):
    """``prompts`` as one left-padded batch: token ids, attention mask, and each token's position
    counted from its own prompt's first token."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros_like(ids)
    for i, prompt in enumerate(prompts):
        ids[i, width - len(prompt) :] = torch.tensor(prompt, device=device)
        mask[i, width - len(prompt) :] = 1
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def _as_list(value: Any) -> list[int]:
    return list(value) if isinstance(value, list | tuple | set) else [value]
