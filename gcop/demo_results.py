"""The demo's per-example record and the paired tests between its recipes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CEILING = "reference-plan ceiling"
SAVED = "saved policy "  # + the folder's name: a row of a policy trained before the run
EXAMPLES_FILE = "examples.jsonl"  # one line per (recipe, example): for paired tests across runs


def write_examples(path: Path, results: list) -> None:
    """Each recipe's per-example outcome (score, error, the guide's strategy and why it was or
    was not sent, the reply) as JSON lines."""
    with path.open("w") as file:
        for result in results:
            for item in result.results:
                row = {
                    "recipe": result.name,
                    "index": item.index,
                    "score": item.score,
                    "error": item.error,
                    "valid": item.valid,
                    "reason": item.reason,
                    "strategy": item.strategy,
                    "output": item.output[:1000],
                }
                file.write(json.dumps(row) + "\n")


def paired_comparisons(results: list) -> list[Any]:
    """Exact McNemar tests between the recipes the paper orders, where both were run."""
    by_name = {r.name: r.results for r in results}
    pairs = [
        ("ExecTune", "core-only"),
        ("ExecTune", "SFT"),
        ("ExecTune", "Advisor"),
        ("Advisor", "None (untrained guide)"),
        ("SFT", "Advisor"),
        ("SFT", "core-only"),
        (CEILING, "core-only"),
    ]
    pairs += [("ExecTune", name) for name in by_name if name.endswith(" alone")]
    saved = [name for name in by_name if name.startswith(SAVED)]
    pairs += [(name, other) for name in saved for other in ("core-only", "ExecTune")]
    return [
        _paired(a, by_name[a], b, by_name[b]) for a, b in pairs if a in by_name and b in by_name
    ]


def _paired(a: str, a_results: list, b: str, b_results: list) -> Any:
    """McNemar over the examples both recipes scored (an errored example carries no verdict)."""
    from gcop.paired import mcnemar

    both = [
        (x.score, y.score)
        for x, y in zip(a_results, b_results, strict=True)
        if x.error is None and y.error is None
    ]
    return mcnemar([x for x, _ in both], [y for _, y in both], a=a, b=b)
