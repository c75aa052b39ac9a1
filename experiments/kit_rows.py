"""What a guide's plans did through the GSM8K kit: plans sent, right, carried out, their form.

Reads the rows that ``core_transfer.py --preset-kit`` writes (one JSON object a condition, the
guided ones with each question's strategy, reason and score) and prints, per guided row: the
questions solved, plans sent to the core (those where the kit neither kept the core's answer nor
abstained), how many of them the plan verifier finds right, how many of those the core carried
out, and the share of plan steps whose expression holds more than one operation. Guided rows are
compared with the core alone (from the same file) and with each other, paired (McNemar).

    .venv/bin/python experiments/kit_rows.py runs/study/core15_kit_ck50/rows.jsonl \
        runs/study/gate_kit_ck50/rows.jsonl
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

from gcop.paired import mcnemar
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import operations_per_step, plan_verdict


def plans_sent(row: dict, examples: list) -> dict:
    """The counts of one guided row, checked against ``examples`` (the row's questions)."""
    sent = right = carried = steps = packed = 0
    for example, plan, reason, score in zip(
        examples, row["strategies"], row["reasons"], row["scores"], strict=True
    ):
        if not plan or reason:  # the kit kept the core's answer, or abstained
            continue
        sent += 1
        if plan_verdict(plan, example) == 1.0:
            right += 1
            carried += score >= 0.5
        counts = operations_per_step(plan) or []
        steps += len(counts)
        packed += sum(count > 1 for count in counts)
    return {
        "solved": row["correct"],
        "sent": sent,
        "right": right,
        "carried": carried,
        "steps with several operations": f"{packed} of {steps}",
        "use": row.get("guide_use"),
        "tokens_per_task": row.get("tokens_per_task"),
    }


def paired(a: dict, b: dict) -> str:
    test = mcnemar(a["scores"], b["scores"])
    return f"{test.a_only} / {test.b_only}, p = {test.p_value:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="+", type=Path, help="rows.jsonl files of kit runs")
    parser.add_argument("--split", default="dev")
    args = parser.parse_args(argv)
    guided, alone = {}, None
    for path in args.rows:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "+ guide" in row["condition"]:
                guided[str(path)] = row
            elif alone is None and row["condition"].endswith("alone"):
                alone = row
    n = len(next(iter(guided.values()))["scores"])
    examples = gsm8k.load(args.split, n=n, seed=0)
    for name, row in guided.items():
        versus = f"vs alone ({alone['correct']}): {paired(row, alone)}" if alone else ""
        print(name, plans_sent(row, examples), versus, sep="\n  ")
    for (name_a, a), (name_b, b) in combinations(guided.items(), 2):
        print(f"{name_a} vs {name_b}: {paired(a, b)}")


if __name__ == "__main__":
    main()
