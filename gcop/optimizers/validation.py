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
    """``examples`` as a list, once each is a ``dspy.Example`` that holds ``fields`` (what the
    guide and core read) and marks them among its inputs. The one check of a train- or valset,
    made before any call: it raises ``TypeError``/``ValueError`` naming the set (``name``), the
    example and the fix."""
    examples = list(examples or [])
    if not examples:
        raise ValueError(
            f"{name} is empty: pass a list of dspy.Example, e.g. "
            "dspy.Example(question=..., gold=...).with_inputs('question')"
        )
    fields = sorted(set(fields))
    for index, example in enumerate(examples):
        if not isinstance(example, dspy.Example):
            raise TypeError(f"{name}[{index}] is a {type(example).__name__}, not a dspy.Example")
        missing = [field for field in fields if field not in example]
        if missing:
            raise ValueError(
                f"{name}[{index}] lacks the field(s) {missing} that the guide/core read: add "
                "them to every example"
            )
        marked = list(example._input_keys or [])
        if not marked:
            raise ValueError(
                f"{name}[{index}] marks no inputs: use dspy.Example(...).with_inputs('question')"
            )
        unmarked = [field for field in fields if field not in marked]
        if unmarked:
            raise ValueError(
                f"{name}[{index}] marks inputs {sorted(marked)} but the guide/core also read "
                f"{unmarked}: include them in .with_inputs(...)"
            )
    return examples


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
