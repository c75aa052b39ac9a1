"""Study: the plans a GSM8K kit row sent, carried out again by the core under a variant.

Reads the guided row of a ``core_transfer.py --preset-kit`` rows file (each dev question's
strategy, the kit's reason and the score) and runs the core again, with the ``evidence``
preset's settings, on each plan the kit sent (those it neither kept the core's answer for nor
abstained on):

- ``--suffix TEXT``: the core reads the render's text followed by TEXT;
- ``--stop S``: the core's reply is cut where S begins;
- ``--retries R``: where the core's answer is not the plan's value, up to R more replies at
  temperature 0.7 (``rollout_id`` 1001…), the first that reaches the plan's value kept.

Prints the core's score on the sent plans before and after, split by whether the plan is right
(the plan verifier), how many replies hold code, and the kit row's score after. The calls go
through DSPy's cache, so a rerun costs seconds.

    .venv/bin/python experiments/sent_plans.py \\
        docs/evidence/guide15_sft_seeded_kit_agree0.4_dev100.jsonl --retries 3
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dspy

from gcop.presets import PRESETS
from gcop.tasks import gsm8k, load_task
from gcop.tasks.gsm8k.calculator import answer_value, plan_value, plan_verdict, render_symbolic


def guided_row(path: Path) -> dict:
    """The first guided row of a kit rows file."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return next(row for row in rows if "+ guide" in row["condition"])


def holds_code(reply: str) -> bool:
    return "```" in reply or "python" in reply.lower()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=Path, help="a core_transfer.py --preset-kit rows file")
    parser.add_argument("--core", default="qwen2.5-coder-0.5b")
    parser.add_argument("--suffix", default="", help="text after the rendered plan")
    parser.add_argument("--stop", help="cut the core's reply where this begins")
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    row = guided_row(args.rows)
    examples = gsm8k.load("dev", n=len(row["scores"]), seed=0)
    core = load_task("gsm8k").policy(None, args.core, PRESETS["evidence"].policy_settings()).core

    def render(plan: str) -> str | None:
        text = render_symbolic(plan)
        return None if text is None else text + args.suffix

    core.kit = core.kit.with_settings(render=render)
    first_call = {"stop": [args.stop]} if args.stop else None
    sent = [
        i
        for i, (plan, why) in enumerate(zip(row["strategies"], row["reasons"], strict=True))
        if plan and not why
    ]

    def carry_out(i: int) -> tuple[float, str]:
        """The core's score on question ``i``'s sent plan under the variant, and its reply."""
        example, plan = examples[i], row["strategies"][i]
        if args.suffix or args.stop:
            prediction = core(strategy=plan, question=example.question, lm_kwargs=first_call)
            score, reply = float(gsm8k.exact_match(example, prediction)), prediction.answer
        else:
            score, reply = row["scores"][i], row["outputs"][i]
        if answer_value(dspy.Prediction(answer=reply)) == plan_value(plan):
            return score, reply
        for attempt in range(1, args.retries + 1):
            settings = {"rollout_id": 1000 + attempt, "temperature": 0.7}
            prediction = core(strategy=plan, question=example.question, lm_kwargs=settings)
            if answer_value(prediction) == plan_value(plan):
                return float(gsm8k.exact_match(example, prediction)), prediction.answer
        return score, reply

    with ThreadPoolExecutor(args.threads) as pool:
        after = dict(zip(sent, pool.map(carry_out, sent), strict=True))
    for kind in ("right", "wrong"):
        picked = [
            i
            for i in sent
            if (plan_verdict(row["strategies"][i], examples[i]) == 1.0) == (kind == "right")
        ]
        before_right = sum(row["scores"][i] >= 0.5 for i in picked)
        after_right = sum(after[i][0] >= 0.5 for i in picked)
        code = (
            sum(holds_code(row["outputs"][i]) for i in picked),
            sum(holds_code(after[i][1]) for i in picked),
        )
        print(
            f"{kind} plans sent: {len(picked)}; core right {before_right} -> {after_right}; "
            f"replies with code {code[0]} -> {code[1]}"
        )
    gained = sum(after[i][0] >= 0.5 > row["scores"][i] for i in sent)
    lost = sum(row["scores"][i] >= 0.5 > after[i][0] for i in sent)
    print(f"kit row: {row['correct']} -> {row['correct'] + gained - lost} (+{gained} / -{lost})")


if __name__ == "__main__":
    main()
