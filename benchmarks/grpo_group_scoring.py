"""What GRPO's backward pass costs with and without group scoring (one prompt pass per group,
rows without advantage left out): forward + backward over one step's rows.

One step as the long GSM8K run trains it: the 0.5B guide with a fresh LoRA (the evidence preset's
settings, bf16 autocast where the CPU has it), 4 training questions × 8 completions, the
completions being real symbolic reference plans (~40 tokens), ``--mixed`` of the 4 groups with
advantages ±1 and the rest flat (the run has ~60% flat groups). Four ways:

- ``trl``: TRL's scoring, every row, micro-batches of 8 over shuffled rows (as TRL shuffles);
- ``skip``: the same, rows without advantage left out;
- ``shared``: one prompt pass per group, every row, the step in one micro-batch;
- ``shared+skip``: both (what ``grpo_shared_prefix=True`` trains with).

    .venv/bin/python benchmarks/grpo_group_scoring.py --out runs/bench/group_scoring.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

import gcop
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.trainer import grpo_trainer
from gcop.signatures import MathGuide
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.planner import plan_from_reference

QUESTIONS, GENERATIONS = 4, 8


def step_inputs(trainer, mixed: int) -> dict:
    """The step's rows in TRL's layout: left-padded prompts, right-padded plan completions."""
    train = gsm8k.load("train", n=QUESTIONS * GENERATIONS, seed=0)
    prompts = [trainer.train_dataset[i]["prompt"] for i in range(QUESTIONS)]
    prompt_ids, _, _ = trainer._tokenize_prompts([p for p in prompts for _ in range(GENERATIONS)])
    tokenizer = trainer.processing_class
    plans = [plan_from_reference(ex.answer, style="symbolic") for ex in train]
    completions = [
        tokenizer(f"<strategy>\n{plan}\n</strategy>")["input_ids"] + [tokenizer.eos_token_id]
        for plan in plans
    ]
    width, length = max(map(len, prompt_ids)), max(map(len, completions))
    rows = len(completions)
    pad = tokenizer.pad_token_id
    prompt = torch.full((rows, width), pad, dtype=torch.long)
    completion = torch.full((rows, length), pad, dtype=torch.long)
    prompt_mask, completion_mask = torch.zeros_like(prompt), torch.zeros_like(completion)
    for i, (p, c) in enumerate(zip(prompt_ids, completions, strict=True)):
        prompt[i, width - len(p) :], prompt_mask[i, width - len(p) :] = torch.tensor(p), 1
        completion[i, : len(c)], completion_mask[i, : len(c)] = torch.tensor(c), 1
    advantages = torch.tensor(
        [(1.0 if i % 2 else -1.0) if i // GENERATIONS < mixed else 0.0 for i in range(rows)]
    )
    return {
        "prompt_ids": prompt,
        "prompt_mask": prompt_mask,
        "completion_ids": completion,
        "completion_mask": completion_mask,
        "advantages": advantages,
        "num_items_in_batch": completion_mask.sum(),
        "prompt_tokens": int(prompt_mask.sum()),
        "completion_tokens": int(completion_mask.sum()),
    }


def micro_batches(inputs: dict, size: int, shuffle: bool) -> list[dict]:
    rows = inputs["advantages"].numel()
    order = torch.randperm(rows, generator=torch.Generator().manual_seed(0)) if shuffle else None
    order = order if order is not None else torch.arange(rows)
    per_row = {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor) and v.dim() >= 1}
    return [
        {**{k: v[order[i : i + size]] for k, v in per_row.items()}, **_step_wide(inputs)}
        for i in range(0, rows, size)
    ]


def _step_wide(inputs: dict) -> dict:
    return {"num_items_in_batch": inputs["num_items_in_batch"]}


def timed_backward(trainer, batches: list[dict]) -> float:
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = len(batches)
    start = time.perf_counter()
    for batch in batches:
        trainer._compute_loss(trainer.model, batch).backward()
    seconds = time.perf_counter() - start
    trainer.model.zero_grad()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--mixed", type=int, default=2, help="groups (of 4) with advantages")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the result here (JSON)")
    args = parser.parse_args()
    guide = gcop.Guide(MathGuide, gcop.LocalLM(args.model), token_budget=96)
    config = ExecTuneConfig(grpo_generations=GENERATIONS, grpo_batch_size=QUESTIONS * GENERATIONS)

    def reward(completions, **kwargs):
        return [0.0] * len(completions)

    trainset = gsm8k.load("train", n=QUESTIONS, seed=0)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = grpo_trainer(guide, trainset, reward, config, scratch)
        inputs = step_inputs(trainer, args.mixed)
        ways = {
            "trl": (False, False, 8),
            "skip": (False, True, 8),
            "shared": (True, False, QUESTIONS * GENERATIONS),
            "shared+skip": (True, True, QUESTIONS * GENERATIONS),
        }
        skips = trainer.skips_flat_rows
        times: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.repeats + 1):  # the first round warms up
            for way, (share, skip, size) in ways.items():
                trainer.share_prefix = share
                trainer.skips_flat_rows = skips if skip else (lambda: False)
                times[way].append(timed_backward(trainer, micro_batches(inputs, size, size < 32)))
    result = {
        "model": args.model,
        "rows": QUESTIONS * GENERATIONS,
        "mixed_groups": args.mixed,
        "prompt_tokens": inputs["prompt_tokens"],
        "completion_tokens": inputs["completion_tokens"],
        "threads": torch.get_num_threads(),
        "seconds": {way: round(statistics.median(t[1:]), 2) for way, t in times.items()},
    }
    result["speedup"] = {
        way: round(result["seconds"]["trl"] / s, 2) for way, s in result["seconds"].items()
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
