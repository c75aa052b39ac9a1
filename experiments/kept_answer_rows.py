"""A finished demo's guided rows again, with the core's answer kept where a sampled plan backs it.

Rebuilds the demo's policy (:func:`gcop.demo.demo_policy`) from its run folder's ``preset.json``
with ``keep_core_answer`` and evaluates the untrained guide and each saved
trained guide (``<run>/<recipe>_policy``) on the same slice. The guide's samples, the core's
unguided answer (the core-only row's call) and the guided call are the demo's own calls, so a
run whose DSPy cache is intact makes no new model call; the cache hits are printed.

    .venv/bin/python experiments/kept_answer_rows.py runs/evidence
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import gcop
from gcop.demo import SETTINGS_FILE, demo_policy
from gcop.demo_training import POLICY_FOLDERS
from gcop.evaluate import evaluate_all
from gcop.paired import mcnemar
from gcop.presets import PRESETS, DemoPreset
from gcop.tasks import gsm8k
from gcop.tasks.gsm8k.calculator import answer_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished demo's output folder")
    parser.add_argument("--preset", help=f"the run's preset, for a run without {SETTINGS_FILE}")
    args = parser.parse_args()
    settings = args.run / SETTINGS_FILE
    if settings.is_file():
        preset = DemoPreset.model_validate_json(settings.read_text())
    elif args.preset:
        preset = PRESETS[args.preset]
    else:
        raise SystemExit(f"{settings} is missing: name the run's preset with --preset")
    if preset.guide_samples == 1:
        raise SystemExit("the run's guide sampled one plan: there is no sample to back an answer")
    policy = demo_policy(preset.model_copy(update={"keep_core_answer": True}))
    programs = {"None (untrained guide)": policy}
    for recipe, folder in POLICY_FOLDERS.items():
        if (args.run / folder).is_dir():
            loaded = copy.deepcopy(policy).load(args.run / folder)
            kit = loaded.kit.with_settings(answer_key=answer_value)  # runs before kept answers
            programs[recipe] = gcop.GuideCorePolicy(guide=loaded.guide, core=loaded.core, kit=kit)
    evalset = gsm8k.load(preset.eval_split, n=preset.n_test, seed=0)
    results = evaluate_all(programs, evalset, gsm8k.exact_match, num_threads=preset.threads)
    demo = [json.loads(line) for line in (args.run / "examples.jsonl").open()]
    alone = [row["score"] for row in demo if row["recipe"] == "core-only"]
    for name, result in results.items():
        scores = [item.score for item in result.results]
        before = [row["score"] for row in demo if row["recipe"] == name]
        cached = f"{result.cost.cache_hits}/{result.cost.calls} calls cached"
        print(f"{name} + kept core answers: {sum(scores):.0f}/{len(scores)} ({cached})")
        print(
            f"  demo row {sum(before):.0f}/{len(before)};",
            mcnemar(scores, alone, a=name, b="core-only"),
        )


if __name__ == "__main__":
    main()
