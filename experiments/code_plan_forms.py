"""Study: which form of a privileged code plan the small core can execute (MBPP dev).

The core (greedy, plain prompt) solves each MBPP dev problem alone and with the plan read off the
problem's reference solution, in several plan styles (:mod:`gcop.tasks.code.planner`) and two
renders: the plan as a numbered strategy (today's) or as comments in the function's skeleton
(:func:`gcop.tasks.code.skeleton.render_skeleton`). Each (condition, problem) outcome is appended
to a JSONL file as it finishes, so a rerun resumes; ``--summary`` prints the table from the rows
(pass counts; paired counts and exact McNemar p-values against the core alone, and for a
skeleton against the same plans as text). Dev only.

    .venv/bin/python experiments/code_plan_forms.py --rows runs/study/code_plan_forms.jsonl
    .venv/bin/python experiments/code_plan_forms.py --rows runs/study/code_plan_forms.jsonl \
        --summary --out docs/evidence/code_plan_forms_dev90.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import dspy

import gcop
from gcop.paired import binomial_two_sided
from gcop.signatures import CodeSolve
from gcop.tasks.code import mbpp
from gcop.tasks.code.planner import plan_from_code
from gcop.tasks.code.skeleton import render_skeleton

# condition -> (plan style, render); style None: the core alone
CONDITIONS: dict[str, tuple[str | None, Callable[[str], str | None] | None]] = {
    "alone": (None, None),
    "steps": ("steps", None),
    "outline": ("outline", None),
    "steps as skeleton": ("steps", render_skeleton),
    "contract": ("contract", None),
    "calls": ("calls", None),
    "calls as skeleton": ("calls", render_skeleton),
}
SKELETON_SUFFIX = " as skeleton"


def strategy_for(example: dspy.Example, condition: str) -> str | None:
    """What the core reads as its strategy in ``condition`` (``None``: nothing, the core alone)."""
    style, render = CONDITIONS[condition]
    if style is None:
        return None
    plan = plan_from_code(example.solution, example.entry_point, style)
    return render(plan) if render else plan


def done_keys(rows: Path) -> set[tuple[str, str, int]]:
    """(model, condition, task id) of the rows already written."""
    if not rows.exists():
        return set()
    found = set()
    for line in rows.read_text().splitlines():
        row = json.loads(line)
        found.add((row["model"], row["condition"], row["task_id"]))
    return found


def run(args: argparse.Namespace) -> None:
    examples = mbpp.load("dev")[: args.n]
    done = done_keys(args.rows)
    todo = [
        (condition, ex)
        for condition in args.conditions.split(",")
        for ex in examples
        if (args.model, condition, ex.task_id) not in done
    ]
    print(f"{len(todo)} runs to do ({len(done)} rows already in {args.rows})")
    if not todo:
        return
    lm = gcop.LocalLM(args.model, name=f"plan-forms-{args.model}")
    core = gcop.Core(CodeSolve, lm=lm, adapter="plain", temperature=0.0, max_tokens=args.max_tokens)

    def solve(condition: str, example: dspy.Example) -> dict:
        strategy = strategy_for(example, condition)
        start = time.time()
        prediction = core(strategy=strategy, prompt=example.prompt)
        return {
            "model": args.model,
            "condition": condition,
            "task_id": example.task_id,
            "passed": bool(mbpp.metric(example, prediction)),
            "strategy": strategy,
            "reply": prediction.code,
            "seconds": round(time.time() - start, 1),
        }

    args.rows.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with ThreadPoolExecutor(args.threads) as pool, args.rows.open("a") as out:
        futures = [pool.submit(solve, condition, ex) for condition, ex in todo]
        for count, future in enumerate(as_completed(futures), 1):
            row = future.result()
            out.write(json.dumps(row) + "\n")
            out.flush()
            if count % 10 == 0:
                print(f"{count}/{len(todo)} in {time.time() - start:.0f} s", flush=True)
    print(f"wall {time.time() - start:.0f} s")


def paired(a: dict[int, bool], b: dict[int, bool]) -> dict[str, float]:
    """Problems only ``a`` or only ``b`` solved (of those both ran), and the exact McNemar p."""
    shared = set(a) & set(b)
    only_a = sum(a[t] and not b[t] for t in shared)
    only_b = sum(b[t] and not a[t] for t in shared)
    return {
        "only_a": only_a,
        "only_b": only_b,
        "p": binomial_two_sided(min(only_a, only_b), only_a + only_b),
    }


def summary(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in args.rows.read_text().splitlines()]
    passed: dict[tuple[str, str], dict[int, bool]] = {}
    for row in rows:
        passed.setdefault((row["model"], row["condition"]), {})[row["task_id"]] = row["passed"]
    table = []
    for (model, condition), outcomes in passed.items():
        alone = passed.get((model, "alone"), {})
        text = passed.get((model, condition.removesuffix(SKELETON_SUFFIX)), {})
        table.append(
            {
                "model": model,
                "condition": condition,
                "passed": sum(outcomes.values()),
                "n": len(outcomes),
                "vs_alone": paired(outcomes, alone) if condition != "alone" else None,
                "vs_text": paired(outcomes, text) if condition.endswith(SKELETON_SUFFIX) else None,
                "task_ids": sorted(outcomes),
                "outcomes": [outcomes[t] for t in sorted(outcomes)],
            }
        )
    print("| model | condition | passed | vs alone: only guided / only alone, p | vs text |")
    print("|---|---|---|---|---|")
    for line in table:
        versus = [line["vs_alone"], line["vs_text"]]
        said = [f"{v['only_a']} / {v['only_b']}, p = {v['p']:.3f}" if v else "–" for v in versus]
        print(
            f"| {line['model']} | {line['condition']} | {line['passed']}/{line['n']} | "
            f"{said[0]} | {said[1]} |"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"split": "dev", "table": table}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=Path("runs/study/code_plan_forms.jsonl"))
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--n", type=int, default=90, help="the first n MBPP dev problems")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--summary", action="store_true", help="print the table from the rows")
    parser.add_argument("--out", type=Path, help="with --summary: write the table as JSON")
    args = parser.parse_args()
    summary(args) if args.summary else run(args)


if __name__ == "__main__":
    main()
