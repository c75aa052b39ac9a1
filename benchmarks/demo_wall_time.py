"""Wall time of one whole demo run, cold, with the local models served the old way and the new.

"before" runs the local models as gcop did before the engine work: served in float32, in batches
of at most 8 rows, without the shared-prefix cache, and trained without bf16 autocast, 8 examples
a pass. "default" uses today's defaults (bfloat16 where the CPU computes it natively, batches of
32, the shared prefix, bf16 autocast, micro-batches of 2). Recipes are evaluated concurrently in
both (before the engine work they ran one after another), so the ratio understates the gain.
Each run is a fresh process with an empty DSPy cache and its own output folder, so nothing is
reused between them; the converted model folders (a one-time install step) are.

    .venv/bin/python benchmarks/demo_wall_time.py                    # the quick preset, both runs
    .venv/bin/python benchmarks/demo_wall_time.py --only default     # one of them
    .venv/bin/python benchmarks/demo_wall_time.py --preset tiny      # seconds, a smoke run
    .venv/bin/python benchmarks/demo_wall_time.py --n-train 16 --n-test 16  # smaller data

The quick preset takes most of an hour per run with the default engine on 2 cores, and several
hours with the old one: start it where nothing else competes for the CPU. ``--n-train`` and
``--n-test`` shrink the data (every phase still runs, with the preset's step counts) so that
both runs fit one sitting.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

from gcop.presets import PRESETS

ENGINES = {  # preset overrides: how local models are served, and trained
    "before (float32, batch 8)": {
        "local_lm": {"dtype": "float32", "max_batch_size": 8, "share_prefix": False},
        "exectune": {
            "sft_micro_batch_size": 8,
            "grpo_micro_batch_size": 8,
            "sft_args": {"bf16": False},
            "grpo_args": {"bf16": False},
        },
    },
    "default": {},
}
RUN = (  # the child: run_demo(preset, out, **overrides)
    "import sys, json; from gcop.demo import run_demo; "
    "run_demo(sys.argv[1], sys.argv[2], **json.loads(sys.argv[3]))"
)


def timed_demo(preset: str, overrides: dict, folder: Path) -> dict:
    """Run the demo in a fresh process with an empty DSPy cache under ``folder``; its wall time,
    peak resident memory and each recipe's accuracy."""
    env = {**os.environ, "DSPY_CACHEDIR": str(folder / "dspy_cache")}
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("HF_HUB_OFFLINE", "1")
    out = folder / "demo"
    settings = json.dumps(overrides)
    start = time.perf_counter()
    child = psutil.Popen([sys.executable, "-c", RUN, preset, str(out), settings], env=env)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, child.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(1.0)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"the demo failed (exit {child.returncode}): see its output above")
    results = json.loads((out / "results.json").read_text())["results"]
    return {
        "wall_time_s": round(wall, 1),
        "peak_rss_mb": peak // 2**20,
        "accuracy": {row["name"]: row["accuracy"] for row in results},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--only", nargs="+", metavar="WORD", help="engines whose label starts so")
    parser.add_argument("--n-train", type=int, help="training problems (default: the preset's)")
    parser.add_argument("--n-test", type=int, help="test problems (default: the preset's)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/demo_wall_time.json"))
    args = parser.parse_args()
    sizes = {"n_train": args.n_train, "n_test": args.n_test}
    sizes = {name: value for name, value in sizes.items() if value is not None}

    engines = {
        label: settings
        for label, settings in ENGINES.items()
        if not args.only or any(label.startswith(word) for word in args.only)
    }
    results = {}
    for label, engine in engines.items():
        overrides = {**engine, **sizes}
        if "exectune" in engine:  # changes to the preset's training settings, not a new set
            trained = PRESETS[args.preset].exectune.model_copy(update=engine["exectune"])
            overrides["exectune"] = trained.model_dump(mode="json")
        with tempfile.TemporaryDirectory(prefix="gcop-demo-bench-") as folder:
            results[label] = timed_demo(args.preset, overrides, Path(folder))
        print(f"{label:30s} {results[label]['wall_time_s']:8.1f} s  {results[label]}")
    if len(results) == len(ENGINES):
        ratio = results[next(iter(ENGINES))]["wall_time_s"] / results["default"]["wall_time_s"]
        print(f"speed-up {ratio:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "preset": args.preset,
        "sizes": sizes,
        "date": time.strftime("%Y-%m-%d"),
        "engines": engines,
    }
    args.out.write_text(json.dumps({**record, "results": results}, indent=2))


if __name__ == "__main__":
    main()
