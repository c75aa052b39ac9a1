"""Input checks, and each task's progress through acceptance sampling."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gcop.optimizers.acceptance.records import ProposalRecord, Verdict
from gcop.optimizers.acceptance.store import digest


class TaskState(StrEnum):
    """Where a task is: waiting to start, to ask the teacher, on the teacher, in trials, done."""

    NEW = "new"
    PROPOSE = "propose"
    TEACHER = "teacher"
    TRIAL = "trial"
    DONE = "done"


@dataclass
class TaskProgress:
    """One training example's progress through propose → trials → accept / refine."""

    index: int
    example: Any
    key: str  # hash of the example's inputs: the resume key
    inputs: dict[str, Any]  # what the core (and the teacher) see
    reference: dict[str, Any]  # every other field: the privileged teacher's view
    state: TaskState = TaskState.NEW
    outcome: Verdict | None = None  # accepted, rejected or undecided once done
    reason: str = ""
    round: int = 0
    feedback: str | None = None
    messages: list[dict] | None = None  # the teacher prompt of this round
    proposal: ProposalRecord | None = None
    next_trial: int = 0
    in_flight: int = 0
    requeued: list[int] = field(default_factory=list)
    infra_failures: Counter = field(default_factory=Counter)
    teacher_failures: int = 0

    def start_proposal(self, proposal: ProposalRecord) -> None:
        self.proposal, self.next_trial, self.in_flight = proposal, 0, 0
        self.requeued, self.infra_failures = [], Counter()

    def take(self, index: int) -> None:
        """Mark trial ``index`` as launched (a requeued one, or the next new one)."""
        if self.requeued and self.requeued[0] == index:
            self.requeued.pop(0)
        else:
            self.next_trial = index + 1

    def next_round(self, feedback: str) -> None:
        self.round += 1
        self.feedback, self.messages, self.state, self.teacher_failures = (
            feedback,
            None,
            TaskState.PROPOSE,
            0,
        )


def required_fields(policy: Any) -> list[str]:
    """The fields every example must hold: the guide's inputs and a plain core's inputs."""
    import dspy

    names: list[str] = []
    guide = getattr(policy, "guide", None)
    if guide is not None:
        names += list(guide.signature.input_fields)
    program = getattr(policy.core, "program", None)
    if isinstance(program, dspy.Predict):
        names += [name for name in program.signature.input_fields if name not in names]
    return names


def prepare_tasks(policy: Any, trainset: Any, teacher_lm: Any, metric: Any) -> list[TaskProgress]:
    """Check the arguments of :func:`run_acceptance`; one :class:`TaskProgress` per example."""
    from gcop.optimizers.validation import check_examples

    if getattr(policy, "core", None) is None or getattr(policy, "ledger", None) is None:
        raise TypeError(
            f"run_acceptance needs a gcop.GuideCorePolicy (with .core and .ledger), got "
            f"{type(policy).__name__}"
        )
    if teacher_lm is None:
        raise ValueError("teacher_lm is None: pass the teacher, e.g. gcop.lm.as_lm('openai/...')")
    if not callable(metric):
        raise TypeError("metric must be callable: metric(example, prediction, trace=None)")
    required = required_fields(policy)
    examples = check_examples(trainset, required, "trainset")
    seen: Counter = Counter()
    tasks = []
    for index, example in enumerate(examples):
        marked = list(example._input_keys)
        names = required + sorted(name for name in marked if name not in required)
        inputs = {name: example[name] for name in names}
        reference = {name: value for name, value in example.items() if name not in inputs}
        base = digest(inputs)
        seen[base] += 1
        key = base if seen[base] == 1 else f"{base}-{seen[base]}"  # duplicates stay distinct
        tasks.append(TaskProgress(index, example, key, inputs, reference))
    return tasks


def fingerprint(policy: Any, teacher_lm: Any, config: Any) -> dict[str, Any]:
    """The settings stored results depend on; a change means nothing stored is reused."""
    core = policy.core
    program = getattr(core, "program", None)
    predictors = program.predictors() if program is not None else []
    return {
        "core": getattr(core.lm, "model", repr(core.lm)),
        "core_settings": {k: v for k, v in core.lm.kwargs.items() if k in ("max_tokens", "top_p")},
        "program": [[p.signature.instructions, list(p.signature.fields)] for p in predictors],
        "teacher": getattr(teacher_lm, "model", type(teacher_lm).__name__),
        "teacher_temperature": getattr(teacher_lm, "kwargs", {}).get("temperature"),
        "core_temperature": config.core_temperature,
        "privileged_teacher": config.privileged_teacher,
    }
