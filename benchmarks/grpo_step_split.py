"""Where a GRPO step of the guide spends its time: sampling the group's completions or training.

Mirrors one step of the evidence preset's GRPO on the 0.5B LoRA guide (bfloat16 weights, bf16
autocast): 8 completions (2 questions × 4) sampled at temperature 1 up to 192 new tokens with
``generate`` on the LoRA model, as TRL does, then one forward and backward pass over prompt +
completion in micro-batches of 2 with gradient checkpointing and an AdamW step. Prints the
seconds of each part, for ``--steps`` steps after one warm-up.

    .venv/bin/python benchmarks/grpo_step_split.py --steps 2
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import gcop
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.guide_training import lora_config
from gcop.signatures import MathGuide
from gcop.tasks import gsm8k


def one_step(model, tokenizer, prompts: list[str], optimizer) -> dict[str, float]:
    """Sample the group, then train on it; the seconds each took."""
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    start = time.perf_counter()
    model.eval()
    model.gradient_checkpointing_disable()  # as TRL does while sampling, so the KV cache is used
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        sequences = model.generate(
            **batch, do_sample=True, temperature=1.0, max_new_tokens=192, top_p=1.0, use_cache=True
        )
    sampled = time.perf_counter()
    model.gradient_checkpointing_enable()
    model.train()
    mask = (sequences != tokenizer.pad_token_id).long()
    for rows in range(0, len(sequences), 2):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(input_ids=sequences[rows : rows + 2], attention_mask=mask[rows : rows + 2])
        out.logits.float().mean().backward()
    optimizer.step()
    optimizer.zero_grad()
    trained = time.perf_counter()
    new_tokens = int(mask[:, batch["input_ids"].shape[1] :].sum())
    return {"sample_s": sampled - start, "train_s": trained - sampled, "new_tokens": new_tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    from peft import get_peft_model

    lm = gcop.LocalLM(args.model, name="split-bench", dtype="bfloat16")
    guide = gcop.Guide(MathGuide, lm=lm, token_budget=96)
    model = get_peft_model(lm.model, lora_config(ExecTuneConfig()))
    model.gradient_checkpointing_enable()
    model.enable_input_require_grads()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    questions = gsm8k.load("train", n=2 * (args.steps + 1), seed=0)
    rows = []
    for step in range(args.steps + 1):  # the first is a warm-up
        pair = questions[2 * step : 2 * step + 2]
        messages = [guide.messages(question=question.question) for question in pair]
        prompts = [lm.chat_prompt(m) for m in messages for _ in range(4)]
        timing = one_step(model, lm.tokenizer, prompts, optimizer)
        print(f"step {step}{' (warm-up)' if step == 0 else ''}: {json.dumps(timing)}")
        rows += [timing] if step else []
    sample = sum(r["sample_s"] for r in rows) / len(rows)
    train = sum(r["train_s"] for r in rows) / len(rows)
    share = sample / (sample + train)
    print(f"mean: sampling {sample:.1f} s, training {train:.1f} s (sampling {share:.0%})")


if __name__ == "__main__":
    main()
