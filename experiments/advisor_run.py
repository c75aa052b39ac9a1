"""The Advisor baseline for the GSM8K test table (issue 27): GRPO of the untrained guide on the
task reward alone, as many steps as ExecTune's GRPO had.

ExecTune's guide (``grpo_plan_reward.py``) is a LoRA SFT'd on symbolic plans, then GRPO-trained on
the plan verifier; the Advisor starts from the same base model with no SFT and learns from the core
alone: every sampled text (whatever it is: the Advisor has no format gate) goes to the core as it
is, and the reward is whether the core then answers right (``train_grpo(..., reward="task")``).
The core reads the text unrendered (the calculator needs ExecTune's symbolic plans, which an
untrained guide does not write), so the Advisor is evaluated the way it is trained: its greedy
text straight to the core (``test_table.py --advisor``).

Same GRPO settings as the ExecTune run (4 questions × 8 samples a step, learning rate, temperature,
completion cap, LoRA); checkpoints every ``--save-steps`` steps, and re-running the same command
continues from the last one. Files in ``--run-dir``: ``checkpoints/``, ``steps.jsonl`` (one row
per step: reward, zero-advantage share, sampling/reward/training time), ``advisor_guide/`` (the
final guide as a LocalLM folder), ``log.txt`` when run with ``nohup … > log.txt``.

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE .venv/bin/python experiments/advisor_run.py \\
        --run-dir runs/advisor_15b --guide-model qwen2.5-coder-1.5b --steps 50

``--export CHECKPOINT`` writes a checkpoint's guide as a LocalLM folder (for ``test_table.py``)
instead of training.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

from grpo_plan_reward import core_module, grpo_config, new_guide, step_log, time_phases

from gcop.optimizers.freed_memory import cap_heap_arenas
from gcop.tasks import gsm8k as gsm8k_task

logger = logging.getLogger("advisor_run")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def export(checkpoint: Path, guide_model: str, folder: Path) -> Path:
    """The guide at a GRPO ``checkpoint`` (its LoRA over ``guide_model``) as a LocalLM folder."""
    import gcop

    with tempfile.TemporaryDirectory() as scratch:
        for name in ADAPTER_FILES:  # the adapter alone, not the optimizer state beside it
            shutil.copy(checkpoint / name, Path(scratch) / name)
        name = f"{guide_model}-advisor-{checkpoint.name}"
        gcop.LocalLM(guide_model, adapter_path=scratch, name=name).save(folder)
    return folder


def train(args) -> dict:
    import gcop
    from gcop.optimizers.grpo.guide_reward import GuideReward
    from gcop.optimizers.grpo.trainer import train_grpo

    config = grpo_config(args, grpo_shared_prefix=True)  # as the ExecTune run sampled
    timers = {"sampling": 0.0, "reward": 0.0}
    time_phases(timers, GuideReward)
    guide = new_guide(gcop.LocalLM(args.guide_model))
    trained, summary = train_grpo(
        guide,
        core_module(render=False),
        gsm8k_task.load("train"),
        metric=gsm8k_task.exact_match,
        config=config,
        reward="task",
        callbacks=[step_log(args.run_dir / "steps.jsonl", timers)],
    )
    trained.local_lm.save(args.run_dir / "advisor_guide")
    summary.pop("history", None)
    (args.run_dir / "advisor_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/advisor_15b"))
    parser.add_argument("--guide-model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--steps", type=int, default=50, help="ExecTune's GRPO steps")
    parser.add_argument("--questions", type=int, default=4, help="questions (groups) a step")
    parser.add_argument("--generations", type=int, default=8, help="samples per question")
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-completion-tokens", type=int, default=96)
    parser.add_argument("--save-steps", type=int, default=5)
    parser.add_argument("--export", type=Path, metavar="CHECKPOINT", help="export, not train")
    args = parser.parse_args(argv)
    cap_heap_arenas()  # before any thread (gcop.optimizers.freed_memory)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    if args.export:
        folder = args.run_dir / f"guide-{args.export.name}"
        print(export(args.export, args.guide_model, folder))
        return
    (args.run_dir / "args.json").write_text(json.dumps(vars(args), default=str, indent=2))
    start = time.time()
    summary = train(args)
    logger.info("Advisor GRPO done (%.0f s): %s", time.time() - start, summary)


if __name__ == "__main__":
    main()
