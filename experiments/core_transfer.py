"""Study: one trained guide, several cores (modular adaptation).

A guide is trained against one core; can it steer another without retraining? For each core in
``--cores``, the core alone and the same core steered by the guide, under a demo preset's policy
settings (``--preset``; GSM8K's ``evidence``: plain prompt, 320 tokens, the calculator between
guide and core) with ``--samples`` plans per question (1: the guide's greedy plan; the evidence
preset samples 5, agrees on one and keeps the core's own answer where a plan backs it:
``--preset-kit``; with ``--samples`` too, that kit over so many plans). Paired test per core.

The guide is a policy a demo or ``gcop compile`` saved (``--policy``: its folder, its kit), a
saved LocalLM folder (``--guide``, e.g. a saved policy's ``guide/``, under this script's kit), a
GRPO checkpoint of ``experiments/grpo_plan_reward.py`` (``--checkpoint``: its adapter over the
run's SFT guide; GSM8K), or an untrained model shown ``--demos`` GSM8K reference plans
(``--base``).

    .venv/bin/python experiments/core_transfer.py --run-dir runs/grpo_long \\
        --checkpoint runs/grpo_long/checkpoints/checkpoint-100 --n 100 --out runs/study/transfer
    .venv/bin/python experiments/core_transfer.py --task humaneval --split test --preset code \\
        --policy runs/code/exectune_policy --preset-kit --n 80 --out runs/study/transfer_code

Rows go to ``<out>/rows.jsonl`` (one per condition, resumable) and the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import dspy

import gcop
from gcop.evaluate import evaluate
from gcop.paired import mcnemar
from gcop.presets import PRESETS
from gcop.tasks import gsm8k, load_task
from gcop.tasks.gsm8k.planner import plan_from_reference


def guide_folder(run_dir: Path, checkpoint: Path | None, out: Path) -> Path:
    """The guide as a LocalLM folder: the run's SFT guide, with a checkpoint's adapter in it."""
    if checkpoint is None:
        return run_dir / "sft_guide"
    folder = out / f"guide-{checkpoint.name}"
    if not folder.exists():
        shutil.copytree(run_dir / "sft_guide", folder)
        shutil.copy(checkpoint / "adapter_model.safetensors", folder / "adapter")
        settings = json.loads((folder / "gcop_lm.json").read_text())
        settings["name"] = f"{settings['name']}-{checkpoint.name}"  # its own cache entries
        (folder / "gcop_lm.json").write_text(json.dumps(settings, indent=2))
    return folder


def finished_rows(out: Path, key: str) -> tuple[Path, dict[str, dict]]:
    """``<out>/rows.jsonl`` and the rows it already holds, by their ``key`` field."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "rows.jsonl"
    rows = [json.loads(line) for line in path.open()] if path.exists() else []
    return path, {row[key]: row for row in rows}


def reference_demos(n: int) -> list[dspy.Example]:
    """The symbolic planner's plans for the first ``n`` training problems (seed 0), as demos."""
    demos = []
    for example in gsm8k.load("train", n=n, seed=0):
        plan = plan_from_reference(example.answer, style="symbolic")
        demos.append(dspy.Example(question=example.question, strategy=plan))
    return demos


def conditions(args, task, guide: Path):
    preset = PRESETS[args.preset]
    settings = preset.policy_settings()
    if not args.preset_kit:
        settings = settings.model_copy(
            update={"samples": args.samples or 1, "keep_core_answer": False, "min_agreement": 1}
        )
    else:
        if args.min_agreement is not None:
            settings = settings.model_copy(update={"min_agreement": args.min_agreement})
        if args.samples is not None:
            settings = settings.model_copy(update={"samples": args.samples})
    if args.retries:
        settings = settings.model_copy(update={"core_retries": args.retries})
    for core in args.cores:
        yield f"{core} alone", task.policy(None, core, settings)
        yield f"{core} + guide", guided_policy(args, task, guide, core, settings)


def guided_policy(args, task, guide, core: str, settings):
    """``core`` steered by the guide the arguments name."""
    if args.base:  # an untrained base model shown reference plans
        guided = task.policy(gcop.LocalLM(args.base), core, settings)
        guided.guide.predict.demos = reference_demos(args.demos)
        return guided
    if args.policy is None:
        return task.policy(gcop.LocalLM.load(guide), core, settings)
    guided = task.policy(PRESETS[args.preset].guide, core, settings)  # the saved guide, its kit
    return guided.load(args.policy, keep_core_lm=True)  # and core format, on this core


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/grpo_long"))
    parser.add_argument("--checkpoint", type=Path, help="a GRPO checkpoint folder (default: SFT)")
    parser.add_argument("--policy", type=Path, help="a saved policy folder instead of a GRPO run")
    parser.add_argument("--guide", type=Path, help="a saved LocalLM folder as the guide")
    parser.add_argument("--base", help="an untrained guide model shown --demos reference plans")
    parser.add_argument("--demos", type=int, default=4, help="reference plans a --base is shown")
    parser.add_argument("--task", default="gsm8k", help="a gcop task name")
    parser.add_argument("--split", default="dev", help="the task's split (HumanEval: test)")
    parser.add_argument("--preset", default="evidence", choices=sorted(PRESETS))
    parser.add_argument("--cores", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    parser.add_argument("--n", type=int, default=100, help="problems")
    parser.add_argument(
        "--samples", type=int, help="plans per question (default 1; with --preset-kit the kit's)"
    )
    parser.add_argument("--preset-kit", action="store_true", help="the evidence preset's kit")
    parser.add_argument(
        "--min-agreement", type=float, help="with --preset-kit: the share of samples to agree"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=0,
        help="with --preset-kit: ask the core again where its answer strays from the plan sent",
    )
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("runs/study/transfer"))
    args = parser.parse_args()
    if (args.min_agreement is not None or args.retries) and not args.preset_kit:
        parser.error("--min-agreement and --retries set the preset kit: add --preset-kit")
    rows_path, done = finished_rows(args.out, "condition")
    task = load_task(args.task)
    problems = task.load(args.split, n=args.n, seed=0)
    guide = (
        args.base
        or args.policy
        or args.guide
        or guide_folder(args.run_dir, args.checkpoint, args.out)
    )
    for name, policy in conditions(args, task, guide):
        if name in done:
            continue
        start = time.time()
        result = evaluate(policy, problems, task.metric, name=name, num_threads=args.threads)
        row = {
            "condition": name,
            "guide": str(guide),
            "task": f"{args.task} {args.split}",
            "samples": policy.kit.samples if policy.guide is not None else 0,
            "kit": "preset" if args.preset_kit else None,
            "n": args.n,
            "correct": sum(r.score >= 0.5 for r in result.results if r.error is None),
            "errors": result.errors,
            "scores": [r.score for r in result.results],
            "guide_use": result.guide_use,
            "reasons": [r.reason for r in result.results],
            "strategies": [r.strategy for r in result.results],
            "outputs": [r.output for r in result.results],
            "tokens_per_task": round(result.cost.tokens / args.n, 1),
            "wall_s": round(time.time() - start, 1),
        }
        done[name] = row
        with rows_path.open("a") as file:
            file.write(json.dumps(row) + "\n")
        print(f"{name}: {row['correct']}/{args.n} ({row['wall_s']} s)", flush=True)
    for core in args.cores:
        alone, guided = done[f"{core} alone"], done[f"{core} + guide"]
        test = mcnemar(guided["scores"], alone["scores"], a="guided", b="alone")
        print(
            f"{core}: alone {alone['correct']}/{args.n}, guided {guided['correct']}/{args.n} "
            f"(only guided {test.a_only}, only alone {test.b_only}, p = {test.p_value:.3f})"
        )


if __name__ == "__main__":
    main()
