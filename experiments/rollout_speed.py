"""Sampling a GRPO step's groups: TRL's ``generate`` over repeated prompts against gcop's
shared-prefix rollout (one prefill per prompt), on a saved guide, in one process.

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE .venv/bin/python experiments/rollout_speed.py \\
        runs/grpo_long/sft_guide --questions 4 --generations 8
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import gcop
from gcop.modules.guide import guide_messages
from gcop.optimizers.grpo.rollout import sample_rows
from gcop.signatures import MathGuide
from gcop.tasks import gsm8k


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("guide")
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--temperature", type=float, default=0.8)
    args = parser.parse_args()
    local = gcop.LocalLM.load(args.guide)
    model, tokenizer = local.model.eval(), local.tokenizer
    questions = gsm8k.load("train", n=args.questions, seed=1)
    prompts = [
        tokenizer.apply_chat_template(
            guide_messages(MathGuide, {"question": ex.question}),
            tokenize=False,
            add_generation_prompt=True,
        )
        for ex in questions
    ]
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    eos = {tokenizer.eos_token_id, *([model.generation_config.eos_token_id] or [])}
    results = {}
    with torch.no_grad():
        torch.manual_seed(0)
        start = time.perf_counter()
        tokenizer.padding_side = "left"
        batch = tokenizer(
            [p for p in prompts for _ in range(args.generations)],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        out = model.generate(
            **batch,
            do_sample=True,
            temperature=args.temperature,
            top_k=0,
            max_new_tokens=args.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
        )
        new = out[:, batch["input_ids"].shape[1] :]
        lengths = [(row != tokenizer.pad_token_id).sum().item() for row in new]
        results["trl_generate"] = {
            "s": round(time.perf_counter() - start, 1),
            "mean_tokens": sum(lengths) / len(lengths),
        }
        torch.manual_seed(0)
        start = time.perf_counter()
        rows = [i for i in range(len(ids)) for _ in range(args.generations)]
        tokens, _ = sample_rows(
            model,
            ids,
            rows,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            eos_ids=eos,
            pad_id=tokenizer.pad_token_id,
        )
        results["shared_prefix"] = {
            "s": round(time.perf_counter() - start, 1),
            "mean_tokens": sum(map(len, tokens)) / len(tokens),
        }
    results["rows"] = len(rows)
    results["prompt_tokens"] = sum(map(len, ids)) / len(ids)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
