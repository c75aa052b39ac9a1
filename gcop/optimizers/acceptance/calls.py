"""The calls acceptance sampling makes (core trials, teacher proposals), retried on transient
failures (:mod:`gcop.lm.retries`): one that persists comes back as an error string, never as a
task failure. Anything else (a bad key, a bug in the metric) is raised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gcop.cost import CallRecord, cost_scope
from gcop.lm.chat import chat
from gcop.lm.retries import call_with_retries
from gcop.optimizers.acceptance.records import OUTPUT_CHARS, TrialRecord, TrialStatus
from gcop.optimizers.grpo.rewards import as_score


@dataclass(frozen=True)
class TrialOutcome:
    """One core trial: its record and the calls it made (failed attempts included)."""

    record: TrialRecord
    calls: list[CallRecord]


@dataclass(frozen=True)
class TeacherReply:
    """One teacher proposal: its ``completion``, or the ``error`` that outlasted the retries;
    ``attempts`` counts the requests sent, ``calls`` what they cost."""

    completion: str | None
    error: str | None
    attempts: int
    calls: list[CallRecord]


def run_trial(
    core: Any,
    example: Any,
    inputs: dict[str, Any],
    strategy: str,
    metric: Callable[..., Any],
    *,
    index: int,
    rollout: int,
    temperature: float,
    max_retries: int,
    may_retry: Callable[[], bool] | None = None,
) -> TrialOutcome:
    """Execute ``strategy`` on the core once (trial ``index``) and score it with ``metric``;
    ``may_retry`` is asked before each retry (see :func:`~gcop.lm.retries.call_with_retries`)."""
    lm_kwargs = {"rollout_id": rollout, "temperature": temperature}
    with cost_scope() as calls:
        attempted = call_with_retries(
            lambda: _execute(core, strategy, lm_kwargs, inputs), max_retries, may_retry
        )
    if not attempted.ok:
        record = TrialRecord(
            index,
            rollout,
            TrialStatus.INFRA_ERROR,
            error=attempted.error,
            attempts=attempted.attempts,
        )
        return TrialOutcome(record, calls)
    prediction = attempted.value
    if isinstance(prediction, _Unparsed):  # the core's reply is its own failure, not infra
        output, score = f"(unparseable reply) {prediction.text}", 0.0
    else:
        output, score = output_text(prediction), as_score(metric(example, prediction))
    record = TrialRecord(
        index, rollout, TrialStatus.OK, score, output[:OUTPUT_CHARS], attempts=attempted.attempts
    )
    return TrialOutcome(record, calls)


def propose(
    teacher_lm: Any,
    messages: list[dict],
    *,
    rollout: int,
    max_retries: int,
    may_retry: Callable[[], bool] | None = None,
) -> TeacherReply:
    """Ask the teacher for one reply; ``may_retry`` is asked before each retry."""
    ask = functools.partial(chat, teacher_lm, messages, rollout_id=rollout)
    with cost_scope() as calls:
        attempted = call_with_retries(ask, max_retries, may_retry)
    return TeacherReply(attempted.value, attempted.error, attempted.attempts, calls)


def output_text(prediction: Any) -> str:
    """The core's output fields as text (what the teacher is shown when refining)."""
    items = prediction.items() if hasattr(prediction, "items") else [("output", prediction)]
    return "\n".join(f"{name}: {value}" for name, value in items if isinstance(value, str))


class _Unparsed:
    def __init__(self, text: str) -> None:
        self.text = text


def _execute(core: Any, strategy: str, lm_kwargs: dict, inputs: dict) -> Any:
    from dspy.utils.exceptions import AdapterParseError

    try:
        return core(strategy=strategy, lm_kwargs=lm_kwargs, **inputs)
    except AdapterParseError as error:
        return _Unparsed(str(getattr(error, "lm_response", "") or error))
