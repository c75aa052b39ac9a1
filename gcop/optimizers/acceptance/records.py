"""What acceptance sampling records: trials, proposals, accepted strategies and the result."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from gcop.cost import CallRecord, summarize
from gcop.optimizers.acceptance.certificate import Certificate, hoeffding_certificate

OUTPUT_CHARS = 500  # core output kept per trial (and quoted back to the teacher)


class Verdict(StrEnum):
    """A proposal's fate, and a task's outcome (``accepted``, ``rejected`` or ``undecided``).
    The values are what saved records and summaries hold."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the trials' mean fell below τ
    INVALID = "invalid"  # the parser refused the block
    LEAK = "leak"  # it gives the answer away
    UNDECIDED = "undecided"  # infrastructure errors or the budget stopped it


DECIDED = (Verdict.ACCEPTED, Verdict.REJECTED, Verdict.INVALID, Verdict.LEAK)  # certificate counts


class TrialStatus(StrEnum):
    """How one core execution ended: ``ok`` (scored) or ``infra_error`` (no score)."""

    OK = "ok"
    INFRA_ERROR = "infra_error"


@dataclass
class TrialRecord:
    """One core execution of a proposal. An infrastructure failure has no score and never
    counts as a task failure."""

    index: int
    rollout_id: int
    status: TrialStatus
    score: float | None = None
    output: str = ""
    error: str | None = None
    attempts: int = 0
    reused: bool = False  # read back from run_dir instead of calling the core

    def stored(self) -> dict:
        """What a rerun needs of a finished trial."""
        return {"rollout_id": self.rollout_id, "score": self.score, "output": self.output}

    @classmethod
    def from_stored(cls, index: int, stored: dict) -> TrialRecord:
        return cls(
            index,
            stored["rollout_id"],
            TrialStatus.OK,
            stored["score"],
            stored["output"],
            reused=True,
        )


@dataclass
class ProposalRecord:
    """One teacher proposal for one example and its fate (an ``undecided`` one counts neither
    way)."""

    example_index: int
    example_key: str
    round: int
    completion: str
    strategy: str = ""
    reason: str = ""
    verdict: Verdict = Verdict.PENDING
    trials: list[TrialRecord] = field(default_factory=list)
    core_calls_saved: int = 0
    teacher_reused: bool = False
    dollars: float | None = 0.0
    tokens: int = 0

    @property
    def scores(self) -> list[float]:
        """Scores of the finished trials, in trial order."""
        done = sorted((t for t in self.trials if t.status == TrialStatus.OK), key=lambda t: t.index)
        return [t.score for t in done if t.score is not None]

    @property
    def success_rate(self) -> float | None:
        scores = self.scores
        return sum(scores) / len(scores) if scores else None

    def add_calls(self, calls: list) -> None:
        """Charge ledger records (``CallRecord``) to this proposal; cache hits are free."""
        for record in calls:
            if record.cache_hit:
                continue
            self.tokens += record.tokens
            if record.dollars is None or self.dollars is None:
                self.dollars = None
            else:
                self.dollars += record.dollars

    def to_dict(self) -> dict:
        return {**asdict(self), "success_rate": self.success_rate}


@dataclass(frozen=True)
class AcceptedStrategy:
    """A (task, strategy) pair the core executes well: SFT data for the guide."""

    example: Any  # the dspy.Example
    strategy: str  # the block text, without tags
    success_rate: float
    round: int


@dataclass
class AcceptanceResult:
    """Everything acceptance sampling produced. ``summary()`` is the JSON-able digest."""

    accepted: list[AcceptedStrategy]
    proposals: list[ProposalRecord]
    certificate: Certificate
    n_examples: int
    core_calls: int = 0
    core_calls_saved: int = 0
    teacher_calls: int = 0
    infra_errors: int = 0
    reused_trials: int = 0
    reused_proposals: int = 0
    budget_exhausted: bool = False
    undecided: list[int] = field(default_factory=list)  # example indices without a verdict
    cost: dict[str, dict] = field(default_factory=dict)  # ledger summary per role, this run
    wall_time_s: float = 0.0  # how long the loop ran, this run

    def summary(self) -> dict:
        """Accepted/total, rounds used, calls, calls saved, cost by role and the certificate."""
        verdicts = Counter(p.verdict for p in self.proposals)
        rounds = Counter(str(item.round) for item in self.accepted)
        return {
            "accepted": len(self.accepted),
            "total": self.n_examples,
            "undecided": len(self.undecided),
            "rejected": self.n_examples - len(self.accepted) - len(self.undecided),
            "proposals": len(self.proposals),
            "proposal_verdicts": dict(sorted(verdicts.items())),
            "rounds_used": dict(sorted(rounds.items())),
            "max_round": max((p.round for p in self.proposals), default=0),
            "core_calls": self.core_calls,
            "core_calls_saved": self.core_calls_saved,
            "teacher_calls": self.teacher_calls,
            "infra_errors": self.infra_errors,
            "reused_trials": self.reused_trials,
            "reused_proposals": self.reused_proposals,
            "budget_exhausted": self.budget_exhausted,
            "wall_time_s": self.wall_time_s,
            "cost": self.cost,
            "certificate": self.certificate.to_dict(),
        }

    def describe(self) -> str:
        """A few lines for the log."""
        s = self.summary()
        dollars = [c.get("dollars") for c in self.cost.values()]
        spent = "unknown" if None in dollars else f"${sum(dollars):.4f}"
        return (
            f"acceptance sampling: {s['accepted']}/{s['total']} tasks accepted "
            f"({s['undecided']} undecided), {s['proposals']} proposals, rounds used "
            f"{s['rounds_used'] or '{}'}, {s['core_calls']} core calls "
            f"({s['core_calls_saved']} saved by early stopping, {s['reused_trials']} trials "
            f"reused), {s['teacher_calls']} teacher calls, {s['infra_errors']} infrastructure "
            f"errors, cost {spent}, {self.wall_time_s:.0f} s"
            + (", stopped by the budget" if self.budget_exhausted else "")
            + f". Certificate: {self.certificate.describe()}"
        )


def build_result(
    *,
    config: Any,
    n_examples: int,
    proposals: list[ProposalRecord],
    accepted: list[AcceptedStrategy],
    counts: Counter,
    records: list[CallRecord],
    budget_exhausted: bool,
    undecided: list[int],
) -> AcceptanceResult:
    """Assemble the result; the certificate counts every decided proposal (invalid and leaking
    ones are rejections too), never an undecided one."""
    decided = [p for p in proposals if p.verdict in DECIDED]
    n_accepted = sum(p.verdict == Verdict.ACCEPTED for p in decided)
    roles = sorted({r.role for r in records})
    return AcceptanceResult(
        accepted=accepted,
        proposals=sorted(proposals, key=lambda p: (p.example_index, p.round)),
        certificate=hoeffding_certificate(
            n_accepted, len(decided), config.k, config.tau, config.delta, config.beta
        ),
        n_examples=n_examples,
        core_calls=counts["core_calls"],
        core_calls_saved=counts["saved"],
        teacher_calls=counts["teacher_calls"],
        infra_errors=counts["infra_errors"],
        reused_trials=counts["reused_trials"],
        reused_proposals=counts["reused_proposals"],
        budget_exhausted=budget_exhausted,
        undecided=undecided,
        cost={role: asdict(summarize(r for r in records if r.role == role)) for role in roles},
    )
