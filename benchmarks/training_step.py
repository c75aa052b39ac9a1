"""LoRA SFT step time of the guide: float32 (the old configuration) against bfloat16 weights with
bf16 autocast (the default where the CPU computes bfloat16 natively), same pairs, same settings.

    .venv/bin/python benchmarks/training_step.py                 # qwen2.5-coder-0.5b, 4 steps each
    .venv/bin/python benchmarks/training_step.py --model tiny    # seconds, a smoke run

Pairs are GSM8K training questions with their numeric reference plans; LoRA r = 16 on all linear
layers, batch 8, as the presets train. Times include TRL's set-up, the same for both.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gcop
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.sft import train_sft
from gcop.signatures import MathGuide
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k_planner import plan_from_reference

CONFIGS = {
    "before (float32)": {"dtype": "float32", "bf16": False},
    "after (bfloat16 + autocast)": {"dtype": "bfloat16", "bf16": True},
}


def step_times(model: str, dtype: str, bf16: bool, pairs: list, steps: int) -> dict:
    """Train ``steps`` SFT steps; returns the training wall time and the losses."""
    lm = gcop.LocalLM(model, name=f"train-bench-{dtype}", dtype=dtype)
    guide = gcop.Guide(MathGuide, lm=lm, token_budget=96)
    config = ExecTuneConfig(sft_batch_size=8, sft_args={"max_steps": steps, "bf16": bf16})
    _, summary = train_sft(guide, pairs, config)
    return {"train_time_s": summary["train_time_s"], "losses": summary["loss_history"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/training_step.json"))
    args = parser.parse_args()

    examples = gsm8k.load("train", n=8 * args.steps, seed=0)
    pairs = [({"question": ex.question}, plan_from_reference(ex.answer)) for ex in examples]
    results = {}
    for label, settings in CONFIGS.items():
        results[label] = step_times(args.model, pairs=pairs, steps=args.steps, **settings)
        per_step = results[label]["train_time_s"] / args.steps
        print(f"{label:30s} {per_step:6.1f} s/step  losses {results[label]['losses']}")
    before, after = (results[label]["train_time_s"] for label in CONFIGS)
    print(f"speed-up {before / after:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"model": args.model, "steps": args.steps, "date": time.strftime("%Y-%m-%d")}
    args.out.write_text(json.dumps({**record, "results": results}, indent=2))


if __name__ == "__main__":
    main()
