"""Data checks shared by the optimizers, and the choice of a checkpoint by its valset score."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dspy

logger = logging.getLogger(__name__)


def check_examples(examples: Sequence[Any], fields: Iterable[str], name: str) -> list[Any]:
    """``examples`` as a list, once each holds ``fields`` and marks its inputs; raises
    ``ValueError`` naming the set (``name``), the example and the fix."""
    if not examples:
        raise ValueError(f"{name} is empty: pass a list of dspy.Example with inputs marked")
    fields = set(fields)
    for index, example in enumerate(examples):
        missing = fields - set(example.keys())
        if missing:
            raise ValueError(
                f"{name}[{index}] lacks the field(s) {sorted(missing)} the guide reads"
            )
        if not getattr(example, "_input_keys", None):  # checked now, not after paid calls
            raise ValueError(
                f"{name}[{index}] marks no inputs: use dspy.Example(...).with_inputs('question')"
            )
    return list(examples)


def pick_checkpoint(
    checkpoints: Sequence[tuple[str, dspy.Module]],
    valset: Sequence[dspy.Example],
    metric: Callable[..., Any],
    *,
    num_threads: int = 8,
) -> dspy.Module:
    """Score each ``(phase, program)`` on ``valset`` and return a copy of the best program (the
    later phase on a tie). The last program's ``artifacts`` go to the copy, with
    ``artifacts["validation"]``: each phase's score (``None`` when every example errored),
    valid-strategy rate and errors, and which phase was kept."""
    from gcop.evaluate import evaluate

    curve = []
    for phase, program in checkpoints:
        result = evaluate(
            program, valset, metric, name=f"valset after {phase}", num_threads=num_threads
        )
        curve.append(
            {
                "phase": phase,
                "score": None if math.isnan(result.accuracy) else result.accuracy,
                "valid_rate": result.valid_rate,
                "errors": result.errors,
                "n": result.n,
            }
        )
    ranks = [-math.inf if row["score"] is None else row["score"] for row in curve]
    best = max(range(len(curve)), key=lambda i: (ranks[i], i))
    kept = copy.deepcopy(checkpoints[best][1])
    kept.artifacts = {
        **checkpoints[-1][1].artifacts,
        "validation": {"curve": curve, "kept": curve[best]["phase"]},
    }
    logger.info("valset scores %s: keeping the policy after %s", ranks, curve[best]["phase"])
    return kept
