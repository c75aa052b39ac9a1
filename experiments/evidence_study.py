"""Study cells for the evidence preset, each evaluated on ``dev`` (never on the test slice).

A cell is the ``evidence`` preset with some fields changed; its report lands in
``runs/study/<cell>/``. Reruns resume from acceptance-sampling records.

    .venv/bin/python experiments/evidence_study.py sft --n-dev 100
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gcop.demo import run_demo
from gcop.presets import PRESETS

# one plan per task, read by the core as written: the guide of docs/evidence.md §2–§3b
ONE_PLAN = {"calculator": False, "guide_samples": 1}

CELLS: dict[str, dict] = {
    # the SFT guide alone: is an executable-plan guide worth its plans?
    "sft": {
        "recipes": ("SFT",),
        "teacher": "reference-planner",
        **ONE_PLAN,
        "exectune": {"grpo": False},
    },
    # the same with lettered plans that hold only the question's numbers
    "sft-symbolic": {
        "recipes": ("SFT",),
        "teacher": "symbolic-planner",
        **ONE_PLAN,
        "exectune": {"grpo": False},
    },
    # the same with the reference's sentences, results blanked: executable and writable?
    "sft-worded": {
        "recipes": ("SFT",),
        "teacher": "worded-planner",
        **ONE_PLAN,
        "exectune": {"grpo": False, "max_strategy_tokens": 192},
    },
    # the preset as chosen: symbolic plans, calculator, five samples that must agree (§3d)
    "sft-calculator": {"recipes": ("core-only", "SFT"), "exectune": {"grpo": False}},
    # SFT then GRPO (ExecTune) and the Advisor, for the ordering
    "exectune": {"recipes": ("SFT", "ExecTune")},
    "advisor": {"recipes": ("None (untrained guide)", "Advisor")},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", choices=sorted(CELLS))
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/study"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("gcop").setLevel(logging.INFO)

    preset = PRESETS["evidence"]
    cell = dict(CELLS[args.cell])
    exectune = preset.exectune.model_copy(update=cell.pop("exectune", {}))
    report = run_demo(
        preset,
        args.out / args.cell,
        eval_split="dev",
        n_test=args.n_dev,
        n_train=args.n_train,
        ceiling=False,
        exectune=exectune,
        **cell,
    )
    print(report.read_text())


if __name__ == "__main__":
    main()
