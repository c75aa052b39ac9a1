"""Study: GSM8K plans rendered whole or one operation a step, on dev.

The kit's calculator turns a symbolic plan into the numeric plan the core reads, one ``Compute``
line a step (``render_symbolic``). A step may combine several operations (``A = 12*2+8*1``);
``render_one_operation`` splits them, each operation on its own line using the results before
it. Does the core carry out split plans more often? Each condition runs once with each
render, on the same problems: the reference plans (the ceiling) and one row per ``--guide
NAME=FOLDER`` (a LocalLM folder) through the preset's kit at ``--min-agreement``. Paired test
per condition (one operation a step against whole steps).

    .venv/bin/python experiments/render_forms.py --n 100 \\
        --guide "SFT+GRPO=runs/grpo_15b/kept/guide-checkpoint-50-r8" --out runs/study/render_forms

Rows go to ``<out>/rows.jsonl`` (one per condition and render, resumable; a row cut short reruns
from the DSPy cache) and the table to stdout.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from core_transfer import finished_rows
from test_table import parse_guide, run_row

import gcop
from gcop.paired import mcnemar
from gcop.presets import PRESETS
from gcop.tasks import load_task
from gcop.tasks.gsm8k.calculator import render_one_operation, render_symbolic

RENDERS = {"whole steps": render_symbolic, "one operation a step": render_one_operation}
REFERENCE = "reference plans"


def with_render(policy, render):
    """``policy`` (a guided policy or the ceiling) whose core reads plans through ``render``."""
    policy = copy.copy(policy)
    policy.core = copy.copy(policy.core)
    policy.core.kit = policy.core.kit.with_settings(render=render)
    return policy


def conditions(args, task, problems):
    """(name, build) for every row: ``build(render)`` makes its policy."""
    preset = PRESETS[args.preset]
    settings = preset.policy_settings().model_copy(update={"min_agreement": args.min_agreement})

    def reference(render):
        core = task.policy(None, args.core, settings).core
        return with_render(task.ceiling(core, problems, preset.teacher), render)

    def guided(folder: Path):
        def build(render):
            policy = task.policy(gcop.LocalLM.load(folder), args.core, settings)
            return with_render(policy, render)

        return build

    yield REFERENCE, reference
    for name, folder in args.guide:
        yield name, guided(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--n", type=int, default=100, help="problems (seed 0)")
    parser.add_argument("--preset", default="evidence", choices=sorted(PRESETS))
    parser.add_argument("--core", default="qwen2.5-coder-0.5b")
    parser.add_argument("--guide", type=parse_guide, action="append", default=[],
                        metavar="NAME=FOLDER", help="a guided row (repeatable)")  # fmt: skip
    parser.add_argument("--min-agreement", type=float, default=0.4, help="the kit's gate")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("runs/study/render_forms"))
    args = parser.parse_args()
    rows_path, done = finished_rows(args.out, "row")
    task = load_task("gsm8k")
    problems = task.load(args.split, n=args.n, seed=0)
    names = []
    for name, build in conditions(args, task, problems):
        names.append(name)
        for render_name, render in RENDERS.items():
            row_name = f"{name}, {render_name}"
            if row_name in done:
                continue
            row = run_row(row_name, build(render), problems, task, args.threads)
            done[row_name] = row
            with rows_path.open("a") as file:
                file.write(json.dumps(row) + "\n")
            print(f"{row_name}: {row['correct']}/{row['n']} ({row['wall_s']} s)", flush=True)
    for name in names:
        whole, split = (done[f"{name}, {render}"] for render in RENDERS)
        test = mcnemar(split["scores"], whole["scores"], a="one operation", b="whole")
        print(
            f"{name}: whole steps {whole['correct']}/{whole['n']}, one operation a step "
            f"{split['correct']}/{split['n']} (only split {test.a_only}, only whole "
            f"{test.b_only}, p = {test.p_value:.3f})"
        )


if __name__ == "__main__":
    main()
