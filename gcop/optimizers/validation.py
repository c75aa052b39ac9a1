"""Data checks shared by the optimizers, and the choice of a phase's policy on a valset."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import dspy

from gcop.paired import fewest_discordant, mcnemar, wins_needed

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


def check_paired_valset(valset: Sequence[Any], p_value: float) -> None:
    """Refuse, before any call, a valset too small for the paired rule to ever keep a later
    phase: even a later phase right on every example where the earlier one is wrong needs
    ``fewest_discordant(p_value)`` such examples."""
    fewest = fewest_discordant(p_value)
    if len(valset) < fewest:
        raise ValueError(
            f"the valset has {len(valset)} examples, and under valset_rule='paired' a later phase "
            f"is kept only if it wins at least {fewest} of the examples where the phases differ "
            f"(p < {p_value}), so the GRPO guide could never be returned: pass a larger valset "
            "(phases that differ on a fifth of the examples need about 300 to show a 5-point "
            "lead), or valset_rule='best'"
        )


def pick_checkpoint(
    checkpoints: Sequence[tuple[str, dspy.Module]],
    valset: Sequence[dspy.Example],
    metric: Callable[..., Any],
    *,
    num_threads: int = 8,
    rule: Literal["paired", "best"] = "paired",
    p_value: float = 0.05,
) -> dspy.Module:
    """Score each ``(phase, program)`` on ``valset`` and return a copy of the program ``rule``
    keeps:

    - ``"paired"``: the earliest phase that scored, unless a later one beats it on the same
      examples with an exact McNemar test at ``p < p_value`` (and that one is then the phase
      the next must beat). A lead of a few examples is kept from deciding: on 100 GSM8K dev
      questions two trained guides differ on about 18, and a 37-against-35 lead reversed on test.
    - ``"best"``: the best score (the later phase on a tie).

    A phase whose examples all errored is never kept unless every phase did (then the last).
    The last program's ``artifacts`` go to the copy, with ``artifacts["validation"]``: each
    phase's score (``None`` when every example errored), valid-strategy rate and errors, under
    ``"paired"`` its test against the phase it had to beat, and which phase was kept."""
    from gcop.evaluate import evaluate

    if rule not in ("paired", "best"):
        raise ValueError(f"rule must be 'paired' or 'best', got {rule!r}")
    curve, scores = [], []
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
        scores.append([r.score for r in result.results])  # an errored example scores 0
    best = _paired_choice(curve, scores, p_value) if rule == "paired" else _best_score(curve)
    kept = copy.deepcopy(checkpoints[best][1])
    kept.artifacts = {
        **checkpoints[-1][1].artifacts,
        "validation": {"rule": rule, "curve": curve, "kept": curve[best]["phase"]},
    }
    logger.info(
        "valset scores %s: keeping the policy after %s (rule %s)",
        [row["score"] for row in curve],
        curve[best]["phase"],
        rule,
    )
    return kept


def _best_score(curve: list[dict[str, Any]]) -> int:
    """The index of the best score, the later on a tie; an unscored phase ranks last."""
    ranks = [-math.inf if row["score"] is None else row["score"] for row in curve]
    return max(range(len(curve)), key=lambda i: (ranks[i], i))


def _paired_choice(curve: list[dict[str, Any]], scores: list[list[float]], p_value: float) -> int:
    """The index of the earliest scored phase, replaced by each later one that beats it in a
    paired test at ``p < p_value``; each tested row of ``curve`` records its test."""
    kept = None
    for index, row in enumerate(curve):
        if row["score"] is None:
            continue
        if kept is None:
            kept = index
            continue
        test = mcnemar(scores[index], scores[kept], a=row["phase"], b=curve[kept]["phase"])
        needed = wins_needed(test.a_only + test.b_only, p_value)
        row["paired"] = {
            "against": curve[kept]["phase"],
            "only_this": test.a_only,
            "only_against": test.b_only,
            "p": round(test.p_value, 4),
            "wins_needed": needed,
        }
        if test.a_only > test.b_only and test.p_value < p_value:
            kept = index
        elif test.a_only > test.b_only:
            logger.warning(
                "%s led %s on the valset (%d / %d where they differ, p = %.3g) but the paired "
                "rule keeps %s: %s; a larger valset can tell a small lead from chance",
                row["phase"],
                curve[kept]["phase"],
                test.a_only,
                test.b_only,
                test.p_value,
                curve[kept]["phase"],
                f"it needed {needed} of those {test.a_only + test.b_only}"
                if needed is not None
                else f"no split of {test.a_only + test.b_only} differences is significant",
            )
    return len(curve) - 1 if kept is None else kept
