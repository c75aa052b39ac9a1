"""A call acceptance sampling has in flight, and how its result is kept for a rerun."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gcop.optimizers.acceptance.calls import TeacherReply, TrialOutcome
from gcop.optimizers.acceptance.progress import TaskProgress
from gcop.optimizers.acceptance.records import ProposalRecord, TrialStatus
from gcop.optimizers.acceptance.store import AcceptanceStore


class CallKind(StrEnum):
    TEACHER = "teacher"
    CORE = "core"


@dataclass(frozen=True)
class PendingCall:
    """A call in flight for ``task``: a teacher proposal (``about``: its messages) or a core
    trial (``about``: the :class:`ProposalRecord` it tries)."""

    kind: CallKind
    task: TaskProgress
    about: Any

    def remember(self, store: AcceptanceStore, outcome: TeacherReply | TrialOutcome) -> None:
        """Store a successful result so a rerun reads it back; failures are not stored, so a
        rerun retries them."""
        task = self.task
        if self.kind == CallKind.TEACHER:
            if outcome.error is None:
                store.put_proposal(task.key, task.round, self.about, outcome.completion)
            return
        proposal: ProposalRecord = self.about
        record = outcome.record
        if record.status == TrialStatus.OK:
            store.put_trial(
                task.key, proposal.round, record.index, proposal.strategy, record.stored()
            )
