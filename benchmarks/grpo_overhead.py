"""Overhead of gcop's GRPO wrapper over a raw TRL ``GRPOTrainer`` step (target: ratio ≤ 1.10).

    python benchmarks/grpo_overhead.py              # tiny model, 12 steps each, about a minute
    python benchmarks/grpo_overhead.py --steps 30

Three runs on the same tiny model, prompts and GRPO settings, each with a constant reward:

* ``raw TRL``: ``GRPOTrainer`` built by hand, reward ``lambda completions: 1.0``;
* ``gcop trainer``: gcop's trainer set-up (:func:`gcop.optimizers.grpo.trainer.grpo_trainer`:
  model copy, dataset, LoRA, progress bar) with the same constant reward — the ratio to beat;
* ``gcop full``: :func:`gcop.optimizers.grpo.trainer.train_grpo` (``reward="task"``), whose
  reward parses every completion and runs a core (an instant fake backend that always answers
  the same, so the reward is constant) through LiteLLM, DSPy and the cost ledger: the price of the
  reward plumbing.

Step time is TRL's own ``step_time`` log (generation + reward + update), median over the steps after
the first (warm-up); the runs are interleaved ``--rounds`` times and the best median is kept, since
other load on the machine only ever adds time.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile

SETTINGS = dict(steps=12, generations=8, batch=8, max_strategy_tokens=16, lr=1e-3, seed=0)


class ConstantCore:
    """An instant chat backend that always gives the same answer."""

    def complete(self, messages, *, n=1, **sampling):
        from gcop.lm.provider import ChatCompletion

        return ChatCompletion(["[[ ## answer ## ]]\nThe answer is 7"] * n, 10, 5)


def constant_reward(completions, **kwargs):
    return [1.0] * len(completions)


def step_times(log_history: list[dict]) -> list[float]:
    return [float(e["step_time"]) for e in log_history if "step_time" in e][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=SETTINGS["steps"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    args = parser.parse_args()

    import dspy
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    import gcop
    from gcop.lm.provider import register_backend
    from gcop.lm.tiny import tiny_model
    from gcop.modules.guide import guide_messages
    from gcop.optimizers.config import ExecTuneConfig
    from gcop.optimizers.grpo.trainer import grpo_trainer, train_grpo
    from gcop.optimizers.guide_training import lora_config, shared_trainer_args
    from gcop.signatures import MathGuide, MathSolve

    torch.set_num_threads(args.threads)
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
    config = ExecTuneConfig(
        sft=False,
        grpo_steps=args.steps,
        grpo_generations=SETTINGS["generations"],
        grpo_batch_size=SETTINGS["batch"],
        grpo_learning_rate=SETTINGS["lr"],
        max_strategy_tokens=SETTINGS["max_strategy_tokens"],
        lambda_judge=0.0,
        seed=SETTINGS["seed"],
    )
    questions = [f"Tom has {i} apples and buys {i + 1} more. How many apples?" for i in range(4)]
    trainset = [dspy.Example(question=q, gold="7").with_inputs("question") for q in questions]
    model, tokenizer = tiny_model(seed=0)
    guide = gcop.Guide(MathGuide, gcop.LocalLM(model, tokenizer=tokenizer, name="bench-guide"))
    core = gcop.Core(MathSolve, lm=register_backend("bench-core", ConstantCore()))
    prompts = [{"prompt": guide_messages(MathGuide, {"question": q})} for q in questions]

    def raw_trl() -> tuple[list[float], None]:
        """GRPOTrainer built by hand with the same numbers."""
        with tempfile.TemporaryDirectory() as folder:
            raw_args = GRPOConfig(
                **shared_trainer_args(model, config, folder),
                max_steps=config.grpo_steps,
                learning_rate=config.grpo_learning_rate,
                per_device_train_batch_size=config.grpo_batch_size,
                num_generations=config.grpo_generations,
                max_completion_length=2 * config.max_strategy_tokens,
                temperature=config.grpo_temperature,
            )
            torch.manual_seed(config.seed)
            trainer = GRPOTrainer(
                model=copy.deepcopy(model),
                reward_funcs=constant_reward,
                args=raw_args,
                train_dataset=Dataset.from_list(prompts),
                processing_class=copy.deepcopy(tokenizer),
                peft_config=lora_config(config),
            )
            trainer.train()
        return step_times(trainer.state.log_history), None

    def gcop_trainer() -> tuple[list[float], None]:
        with tempfile.TemporaryDirectory() as folder:
            trainer = grpo_trainer(guide, trainset, constant_reward, config, folder)
            trainer.train()
        return step_times(trainer.state.log_history), None

    def gcop_full() -> tuple[list[float], dict]:
        _, summary = train_grpo(
            guide,
            core,
            trainset,
            metric=lambda ex, pred, trace=None: 1.0,
            config=config,
            reward="task",  # every completion goes to the core, valid or not
        )
        rows = summary["history"][1:]
        return [row["step_time_s"] for row in rows], summary

    runs = {"raw TRL": raw_trl, "gcop trainer": gcop_trainer, "gcop full": gcop_full}
    best: dict[str, float] = {}
    fastest: dict[str, float] = {}
    summary: dict = {}
    for _ in range(args.rounds):  # interleaved rounds; the best median resists other load
        for name, run in runs.items():
            times, info = run()
            best[name] = min(best.get(name, float("inf")), statistics.median(times))
            fastest[name] = min(fastest.get(name, float("inf")), min(times))
            summary = info or summary
    reward_s = statistics.median(row["time_s"] for row in summary["history"][1:])

    base = best["raw TRL"]
    print(
        f"\nGRPO step on the tiny model: {config.grpo_steps} steps, batch {config.grpo_batch_size}"
        f" ({config.grpo_generations} generations), {2 * config.max_strategy_tokens} new tokens,"
        f" {args.threads} torch thread(s)"
    )
    print(f"{'run':<14}{'median step s':>14}{'ratio':>8}{'fastest step s':>16}{'ratio':>8}")
    for name, step in best.items():
        quick = fastest[name]
        print(
            f"{name:<14}{step:>14.4f}{step / base:>8.3f}"
            f"{quick:>16.4f}{quick / fastest['raw TRL']:>8.3f}"
        )
    ratio = best["gcop trainer"] / base
    print(
        f"\ngcop/raw step ratio: {ratio:.3f} (target ≤ 1.10: {'ok' if ratio <= 1.10 else 'MISS'})"
    )
    print(
        f"reward plumbing (parse + core calls + ledger) per step: median {reward_s * 1000:.1f} ms,"
        f" {summary['core_calls']} core calls in the last run"
    )


if __name__ == "__main__":
    main()
