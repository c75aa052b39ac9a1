"""Study: the final table on the test slice: trained guides against the core alone.

Rows on one slice of a task's test split, each resumable, in this order: the core alone, the
reference-plan ceiling (privileged: plans read off the reference solutions), one guided row per
``--guide NAME=FOLDER`` (a LocalLM folder: a run's ``sft_guide``, or a GRPO checkpoint given as
``NAME=RUN_DIR/checkpoints/checkpoint-N``), each steering the core through the preset's kit at
``--min-agreement``, one row per ``--advisor NAME=FOLDER`` (a guide trained on the task reward
alone, ``advisor_run.py``: its greedy text goes to the core as it is, as in its training), and
last a bigger core alone (``--reference-core``: the guide's size spent on the core instead).
Settings are chosen on dev (``core_transfer.py``); this script is meant to touch the test slice
once per final table.

    .venv/bin/python experiments/test_table.py --n 200 --min-agreement 0.4 \\
        --guide sft=runs/grpo_15b/sft_guide \\
        --guide grpo=runs/grpo_15b/checkpoints/checkpoint-50 --out runs/study/test_table

Rows go to ``<out>/rows.jsonl`` (one per row; a row cut short reruns from the DSPy cache); the
table, with guide and core tokens per task, J and paired tests against the core alone and
between guided rows, to ``<out>/table.json`` and stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from core_transfer import finished_rows, guide_folder

import gcop
from gcop.evaluate import evaluate
from gcop.lm.local_folder import SPEC_FILE
from gcop.paired import mcnemar
from gcop.presets import PRESETS
from gcop.tasks import load_task

ALONE = "core alone"
CEILING = "reference-plan ceiling"


def parse_guide(text: str) -> tuple[str, Path]:
    """``NAME=FOLDER`` as a pair; an ``argparse`` type."""
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER, got {text!r}")
    return name, Path(folder)


def guide_lm_folder(folder: Path, out: Path) -> Path:
    """A LocalLM folder for ``folder``: itself, or a GRPO checkpoint's adapter over its run's
    SFT guide (``<run>/checkpoints/checkpoint-N``)."""
    if (folder / SPEC_FILE).exists():
        return folder
    if (folder / "adapter_model.safetensors").exists():
        return guide_folder(folder.parent.parent, folder, out)
    raise SystemExit(f"{folder} is neither a LocalLM folder nor a GRPO checkpoint")


def bigger_core_row(core: str) -> str:
    """The name of the row where ``core`` (``--reference-core``) answers alone."""
    return f"{core} alone"


def rows(args, task, problems):
    """(name, build) for every row of the table, in order: ``build()`` makes its policy."""
    preset = PRESETS[args.preset]
    settings = preset.policy_settings().model_copy(update={"min_agreement": args.min_agreement})

    def alone(core: str):
        return lambda: task.policy(None, core, settings)

    def ceiling():
        return task.ceiling(alone(args.core)().core, problems, preset.teacher)

    def guided(folder: Path):
        def build():
            guide = gcop.LocalLM.load(guide_lm_folder(folder, args.out))
            return task.policy(guide, args.core, settings)

        return build

    def advised(folder: Path):
        def build():
            guide = gcop.LocalLM.load(folder)
            policy = task.policy(guide, args.core, advice)
            policy.strict = False  # trained without a format gate: the core reads any text
            return policy

        return build

    advice = settings.model_copy(update={"samples": 1, "render": False, "keep_core_answer": False})
    yield ALONE, alone(args.core)
    yield CEILING, ceiling
    for name, folder in args.guide:
        yield name, guided(folder)
    for name, folder in args.advisor:
        yield name, advised(folder)
    if args.reference_core:
        yield bigger_core_row(args.reference_core), alone(args.reference_core)


def run_row(name: str, policy, problems, task, threads: int) -> dict:
    """One row: its scores and what it spent, guide and core apart."""
    start = time.time()
    result = evaluate(policy, problems, task.metric, name=name, num_threads=threads)
    ledger = policy.ledger if hasattr(policy, "ledger") else policy.core.ledger
    n = len(problems)
    return {
        "row": name,
        "n": n,
        "correct": sum(r.score >= 0.5 for r in result.results if r.error is None),
        "errors": result.errors,
        "ci": [round(result.ci_low, 3), round(result.ci_high, 3)],
        "scores": [r.score for r in result.results],
        "guide_use": result.guide_use,
        "guide_tokens_per_task": round(ledger.summary("guide").tokens / n, 1),
        "core_tokens_per_task": round(ledger.summary("core").tokens / n, 1),
        "strategies": [r.strategy for r in result.results],
        "outputs": [r.output for r in result.results],
        "wall_s": round(time.time() - start, 1),
    }


def table(
    done: dict[str, dict], guided: list[str], cost_weight: float, bigger_core: str | None = None
) -> dict:
    """Accuracy, tokens, J, headroom share and paired tests of the finished rows: each against
    the core alone, the guided rows against each other and against ``bigger_core``'s row."""
    alone = done[ALONE]
    lines = []
    for name, row in done.items():
        tokens = row["guide_tokens_per_task"] + row["core_tokens_per_task"]
        accuracy = row["correct"] / row["n"]
        line = {
            "row": name,
            "correct": row["correct"],
            "n": row["n"],
            "accuracy": round(accuracy, 4),
            "ci": row["ci"],
            "guide_tokens_per_task": row["guide_tokens_per_task"],
            "core_tokens_per_task": row["core_tokens_per_task"],
            "J": round(accuracy - cost_weight * tokens, 4),
        }
        if name != ALONE:
            test = mcnemar(row["scores"], alone["scores"], a=name, b=ALONE)
            line.update(only_row=test.a_only, only_alone=test.b_only, p=round(test.p_value, 4))
        if name in guided and CEILING in done:
            headroom = done[CEILING]["correct"] - alone["correct"]
            lift = row["correct"] - alone["correct"]
            line["headroom_share"] = round(lift / headroom, 3) if headroom > 0 else None
        lines.append(line)
    pairs = []
    compared = [g for g in guided if g in done]
    against_bigger = [(g, bigger_core) for g in compared if bigger_core in done]
    for a, b in [*itertools.combinations(compared, 2), *against_bigger]:
        test = mcnemar(done[a]["scores"], done[b]["scores"], a=a, b=b)
        pairs.append({"a": a, "b": b, "only_a": test.a_only, "only_b": test.b_only,
                      "p": round(test.p_value, 4)})  # fmt: skip
    return {"cost_weight": cost_weight, "rows": lines, "guided_pairs": pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gsm8k", help="a gcop task name")
    parser.add_argument("--split", default="test")
    parser.add_argument("--n", type=int, default=200, help="problems (seed 0)")
    parser.add_argument("--preset", default="evidence", choices=sorted(PRESETS))
    parser.add_argument("--core", default="qwen2.5-coder-0.5b")
    parser.add_argument("--reference-core", default="qwen2.5-coder-1.5b", help="'' to skip")
    parser.add_argument("--guide", type=parse_guide, action="append", default=[],
                        metavar="NAME=FOLDER", help="a guided row (repeatable)")  # fmt: skip
    parser.add_argument("--advisor", type=parse_guide, action="append", default=[],
                        metavar="NAME=FOLDER", help="an Advisor row (repeatable)")  # fmt: skip
    parser.add_argument("--min-agreement", type=float, default=0.4, help="the kit's gate")
    parser.add_argument("--cost-weight", type=float, default=1e-4, help="λ of J, per token")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("runs/study/test_table"))
    args = parser.parse_args()
    names = [name for name, _ in args.guide + args.advisor]
    if len(set(names)) != len(names) or {ALONE, CEILING} & set(names):
        parser.error("each --guide and --advisor needs its own NAME, other than the fixed rows'")
    rows_path, done = finished_rows(args.out, "row")
    task = load_task(args.task)
    problems = task.load(args.split, n=args.n, seed=0)
    for name, build in rows(args, task, problems):
        if name in done:
            continue
        row = run_row(name, build(), problems, task, args.threads)
        done[name] = row
        with rows_path.open("a") as file:
            file.write(json.dumps(row) + "\n")
        print(f"{name}: {row['correct']}/{row['n']} ({row['wall_s']} s)", flush=True)
    bigger = bigger_core_row(args.reference_core) if args.reference_core else None
    summary = table(done, names, args.cost_weight, bigger)
    (args.out / "table.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
