"""Plot: learning curves of ``grpo_plan_reward.py`` runs, one line per run.

Two panels against the GRPO step: the greedy right-plan rate on the dev slice, and pass@k on
its first problems; a dotted line on the first marks a reference rate (``--reference``: the
core alone).

    .venv/bin/python experiments/plot_curves.py --reference 0.25 \\
        --run "0.5B guide=docs/evidence/grpo_long_curves.jsonl" \\
        --run "1.5B guide=docs/evidence/grpo_15b_curves.jsonl" --out docs/evidence/grpo_curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def parse_run(text: str) -> tuple[str, Path]:
    """``LABEL=CURVES.jsonl`` as a pair; an ``argparse`` type."""
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=CURVES.jsonl, got {text!r}")
    return label, Path(path)


def plot(runs: list[tuple[str, Path]], out: Path, reference: float | None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (greedy, passed) = plt.subplots(1, 2, figsize=(10, 4.8), sharey=True)
    for label, path in runs:
        points = [json.loads(line) for line in path.open()]
        steps = [p["step"] for p in points]
        greedy.plot(steps, [p["greedy_right_rate"] for p in points], marker="o", label=label)
        k = points[0]["k"]
        passed.plot(steps, [p["pass_at_k"] for p in points], marker="o", label=label)
        passed.set_title(f"pass@{k}, first {points[0]['n_pass']} dev problems")
    greedy.set_title(f"greedy right plans, {points[0]['n_dev']} dev problems")
    if reference is not None:
        greedy.axhline(reference, linestyle=":", color="grey", label="core alone")
    for axis in (greedy, passed):
        axis.set_xlabel("GRPO step")
        axis.grid(alpha=0.3)
    greedy.set_ylabel("share of problems")
    figure.legend(*greedy.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9)
    figure.tight_layout(rect=(0, 0.14, 1, 1))  # the legend below both panels
    figure.savefig(out, dpi=120)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=parse_run, action="append", required=True,
                        metavar="LABEL=CURVES.jsonl")  # fmt: skip
    parser.add_argument("--reference", type=float, help="a rate to mark, e.g. the core alone")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(plot(args.run, args.out, args.reference))


if __name__ == "__main__":
    main()
