"""Study: where a GSM8K guide's wrong plans go wrong (evidence §7, issue 27's stopping report).

For each guide (the run's SFT guide, GRPO checkpoints with ``--checkpoint``, and untrained base
models shown ``--demos`` reference plans with ``--base``, saved guides as they are with
``--folder``, e.g. one cut by ``gcop.lm.shrink_adapter``), the greedy plan for each of ``--n`` dev
problems (the slice the learning curves use), sorted into one class:

- ``right``: the calculator's value is the gold answer;
- ``no plan``: no valid ``<strategy>`` block;
- ``not arithmetic``: a block the calculator cannot work out (a line that is not
  ``<n>. <letter> = <arithmetic>``, a letter no earlier step defined);
- ``foreign number``: a number that is neither in the question nor a common constant (a
  misread or invented quantity);
- ``too few steps``: fewer calculations than the reference solution makes (a step left out);
- ``wrong operation``: the question's numbers, enough steps, the wrong calculation.

    .venv/bin/python experiments/plan_errors.py --run-dir runs/grpo_long \\
        --checkpoint runs/grpo_long/checkpoints/checkpoint-80 --out runs/study/plan_errors
    .venv/bin/python experiments/plan_errors.py --base qwen2.5-coder-1.5b --demos 4

Rows (one per guide and question; a rerun skips the guides already written) go to
``<out>/plans.jsonl``, the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core_transfer import guide_folder, reference_demos

import gcop
from gcop.presets import EVIDENCE
from gcop.signatures import MathGuide
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import plan_verdict, render_symbolic
from gcop.tasks.gsm8k.data import extract_number
from gcop.tasks.gsm8k.planner import plan_from_reference

CLASSES = (
    "right",
    "no plan",
    "not arithmetic",
    "foreign number",
    "too few steps",
    "wrong operation",
)
# numbers a plan may use without the question naming them: units, halves, percentages
COMMON = {0.5, 1, 2, 3, 4, 7, 10, 12, 24, 30, 52, 60, 100, 365, 1000}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WORDS = "one two three four five six seven eight nine ten eleven twelve".split()
_WORD_NUMBERS = {word: value for value, word in enumerate(_WORDS, start=1)} | {
    "half": 2,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "dozen": 12,
    "quarter": 4,
    "twenty": 20,
    "thirty": 30,
    "fifty": 50,
    "hundred": 100,
}


def question_numbers(question: str) -> set[float]:
    """The numbers a question states, in digits or as the common words for them."""
    numbers = {float(n) for n in _NUMBER.findall(question.replace(",", ""))}
    words = set(re.findall(r"[a-z]+", question.lower()))
    return numbers | {float(v) for word, v in _WORD_NUMBERS.items() if word in words}


def plan_class(plan: dict, example) -> str:
    """The class of one greedy plan (see the module's docstring)."""
    if not plan["valid"]:
        return "no plan"
    if plan_verdict(plan["strategy"], example) == 1.0:
        return "right"
    rendered = render_symbolic(plan["strategy"])
    if rendered is None:
        return "not arithmetic"
    # literal numbers of the symbolic plan (letters and step numbers left out)
    literals = [
        float(n)
        for line in plan["strategy"].splitlines()
        for n in _NUMBER.findall(line.partition("=")[2])
    ]
    known = question_numbers(example.question) | COMMON
    if any(n not in known for n in literals):
        return "foreign number"
    reference = plan_from_reference(example.answer, style="symbolic")
    if len(rendered.splitlines()) < len(reference.splitlines()):
        return "too few steps"
    return "wrong operation"


def greedy_plans(lm: gcop.LocalLM, dev: list, threads: int, demos=()) -> list[dict]:
    guide = gcop.Guide(
        MathGuide,
        lm=lm,
        token_budget=EVIDENCE.exectune.max_strategy_tokens,
        temperature=0.0,
        max_tokens=96,
    )
    guide.predict.demos = list(demos)

    def plan(example) -> dict:
        prediction = guide(question=example.question)
        return {"strategy": prediction.strategy, "valid": bool(prediction.valid)}

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(plan, dev))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/grpo_long"))
    parser.add_argument("--checkpoint", type=Path, action="append", default=[])
    parser.add_argument(
        "--base", action="append", default=[], help="an untrained model shown --demos plans"
    )
    parser.add_argument("--demos", type=int, default=4, help="reference plans a --base is shown")
    parser.add_argument(
        "--folder", type=Path, action="append", default=[], help="a saved LocalLM guide folder"
    )
    parser.add_argument("--n", type=int, default=100, help="dev problems")
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("runs/study/plan_errors"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "plans.jsonl"
    rows = [json.loads(line) for line in path.open()] if path.exists() else []
    dev = gsm8k.load("dev", n=args.n, seed=0)
    guides = {"sft" if c is None else c.name: c for c in [None, *args.checkpoint]}
    guides |= {f"{base} {args.demos}-shot": base for base in args.base}
    guides |= {folder.name: folder for folder in args.folder}
    for name, source in guides.items():
        if any(row["guide"] == name for row in rows):
            continue
        start = time.time()
        if isinstance(source, str):  # an untrained base model, shown reference plans
            demos = reference_demos(args.demos)
            plans = greedy_plans(gcop.LocalLM(source), dev, args.threads, demos)
        elif source in args.folder:  # a saved guide as it is
            plans = greedy_plans(gcop.LocalLM.load(source), dev, args.threads)
        else:
            lm = gcop.LocalLM.load(guide_folder(args.run_dir, source, args.out))
            plans = greedy_plans(lm, dev, args.threads)
        print(f"{name}: {len(plans)} plans in {time.time() - start:.0f} s", flush=True)
        new = [
            {"guide": name, "index": index, **plan, "class": plan_class(plan, example)}
            | {"gold": extract_number(example.gold)}
            for index, (example, plan) in enumerate(zip(dev, plans, strict=True))
        ]
        with path.open("a") as out:  # a guide's rows at once: a killed run redoes that guide
            out.writelines(json.dumps(row) + "\n" for row in new)
        rows += new
    guides = list(dict.fromkeys(row["guide"] for row in rows))
    counts = {g: Counter(row["class"] for row in rows if row["guide"] == g) for g in guides}
    print("| class | " + " | ".join(guides) + " |")
    print("|---|" + "---|" * len(guides))
    for name in CLASSES:
        print(f"| {name} | " + " | ".join(str(counts[g][name]) for g in guides) + " |")


if __name__ == "__main__":
    main()
