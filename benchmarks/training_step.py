"""LoRA training step time and peak memory of the guide, the old configuration against the default.

SFT: float32 at batch 8 (the old configuration), bfloat16 weights with bf16 autocast at batch 8,
and the default, which also takes the batch of 8 in micro-batches of 2 (gradient accumulation).
GRPO (``--phase grpo``): the same three configurations with the evidence preset's group
settings (8 completions a step, sampled together, 4 per question, up to 192 tokens) and a
constant reward, so the time is the guide's own (generation and update), not the core's, and
a fourth: the default without TRL's gradient checkpointing (on by default in GRPO). Each
configuration trains in a fresh process, so its peak resident memory is its own; ``--only``
runs some of them.

    .venv/bin/python benchmarks/training_step.py                 # qwen2.5-coder-0.5b, 4 steps each
    .venv/bin/python benchmarks/training_step.py --phase grpo --steps 3
    .venv/bin/python benchmarks/training_step.py --phase grpo --only "default ("   # labels start so
    .venv/bin/python benchmarks/training_step.py --model tiny    # seconds, a smoke run

Pairs are GSM8K training questions with their numeric reference plans; LoRA r = 16 on all linear
layers, 8 examples a step, as the presets train. Each configuration reports its whole training
time (TRL's set-up included) and each optimizer step's own time (a GRPO step includes sampling its
group); the speed-up per step compares the median step after the first, which pays one-off costs
(kernel selection for each new shape, the first allocations).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
from transformers import TrainerCallback

import gcop
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.guide_training import loss_history
from gcop.optimizers.sft import sft_trainer
from gcop.signatures import MathGuide
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.planner import plan_from_reference

CONFIGS = {
    "sft": {
        "before (float32, batch 8)": {"dtype": "float32", "bf16": False, "micro": 8},
        "bfloat16 + autocast, batch 8": {"dtype": "bfloat16", "bf16": True, "micro": 8},
        "default (bfloat16, micro-batches of 2)": {"dtype": "bfloat16", "bf16": True, "micro": 2},
    },
}
CONFIGS["grpo"] = {
    **CONFIGS["sft"],
    "default without gradient checkpointing": {
        "dtype": "bfloat16",
        "bf16": True,
        "micro": 2,
        "checkpointing": False,
    },
}


def step_times(
    phase: str,
    model: str,
    dtype: str,
    bf16: bool,
    pairs: list,
    steps: int,
    micro: int = 8,
    checkpointing: bool = True,
) -> dict:
    """Train ``steps`` steps of ``phase``; returns the training wall time, each step's time, the
    losses and the process's peak resident memory while training."""
    peak = PeakMemory()
    lm = gcop.LocalLM(model, name=f"train-bench-{dtype}", dtype=dtype)
    guide = gcop.Guide(MathGuide, lm=lm, token_budget=96)
    timer = StepTimer()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        if phase == "sft":
            trainer = sft_trainer(guide, pairs, sft_config(steps, bf16, micro), folder)
        else:
            trainer = grpo_trainer(guide, pairs, steps, bf16, micro, checkpointing, folder)
        trainer.add_callback(timer)
        trainer.train()
    return {
        "train_time_s": round(time.perf_counter() - start, 3),
        "step_times_s": [round(t, 3) for t in timer.times],
        "losses": loss_history(trainer),
        "peak_rss_mb": peak.stop(),
    }


def sft_config(steps: int, bf16: bool, micro: int) -> ExecTuneConfig:
    return ExecTuneConfig(
        sft_batch_size=8, sft_micro_batch_size=micro, sft_args={"max_steps": steps, "bf16": bf16}
    )


def grpo_trainer(
    guide: gcop.Guide,
    pairs: list,
    steps: int,
    bf16: bool,
    micro: int,
    checkpointing: bool,
    folder: str,
):
    """TRL's GRPO trainer for ``steps`` steps of the guide with a constant reward.
    ``checkpointing`` is TRL's ``gradient_checkpointing`` (on by default in GRPO)."""
    import dspy

    from gcop.optimizers.grpo.trainer import grpo_trainer as gcop_grpo_trainer

    config = ExecTuneConfig(
        sft=False,
        grpo_steps=steps,
        grpo_generations=4,
        grpo_batch_size=8,
        grpo_micro_batch_size=micro,
        max_strategy_tokens=96,
        lambda_judge=0.0,
        grpo_args={"bf16": bf16, "gradient_checkpointing": checkpointing},
    )
    trainset = [dspy.Example(**inputs).with_inputs(*inputs) for inputs, _ in pairs]
    return gcop_grpo_trainer(guide, trainset, constant_reward, config, folder)


def constant_reward(completions: list, **kwargs) -> list[float]:
    return [1.0] * len(completions)


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step, from its first micro-batch to the optimizer's update."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._began = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._began = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._began)


def steady_step(result: dict) -> float:
    """The median step time after the first step (the first one's alone if there is one)."""
    times = result["step_times_s"]
    return statistics.median(times[1:] or times)


class PeakMemory:
    """Polls this process's resident memory every 0.2 s until :meth:`stop`."""

    def __init__(self) -> None:
        self.peak, self._done = 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, psutil.Process().memory_info().rss)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak // 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=list(CONFIGS), default="sft")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/training_step.json"))
    parser.add_argument(
        "--only", nargs="+", metavar="WORD", help="run the configurations whose label starts so"
    )
    args = parser.parse_args()

    examples = gsm8k.load("train", n=8 * args.steps, seed=0)
    pairs = [({"question": ex.question}, plan_from_reference(ex.answer)) for ex in examples]
    results = {}
    spawn = multiprocessing.get_context("spawn")
    configs = {
        label: settings
        for label, settings in CONFIGS[args.phase].items()
        if not args.only or any(label.startswith(word) for word in args.only)
    }
    for label, settings in configs.items():
        with ProcessPoolExecutor(1, mp_context=spawn) as fresh:
            job = fresh.submit(
                step_times, args.phase, args.model, pairs=pairs, steps=args.steps, **settings
            )
            results[label] = job.result()
        result = results[label]
        print(
            f"{label:40s} {result['train_time_s'] / args.steps:6.1f} s/step with set-up, "
            f"{steady_step(result):6.1f} after the first, peak {result['peak_rss_mb']} MB, "
            f"losses {result['losses']}"
        )
    labels = list(results)
    default = next((label for label in labels if label.startswith("default (")), None)
    if len(labels) > 1 and default is not None and labels[0] != default:
        before, after = results[labels[0]], results[default]
        print(
            f"speed-up of the default over {labels[0]}: "
            f"{before['train_time_s'] / after['train_time_s']:.2f}x in all, "
            f"{steady_step(before) / steady_step(after):.2f}x per step after the first"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "phase": args.phase,
        "model": args.model,
        "steps": args.steps,
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.write_text(json.dumps({**record, "results": results}, indent=2))


if __name__ == "__main__":
    main()
