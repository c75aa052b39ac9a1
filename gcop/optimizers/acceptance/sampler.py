"""The acceptance-sampling loop: one thread owns all state, worker threads only make calls.

The loop keeps ``concurrency`` core calls (and as many teacher calls) in flight across tasks,
starting tasks in order, at most two per worker at once. Early stopping launches a proposal's
trials in waves no larger than the fewest results that could fix its verdict
(:func:`~gcop.optimizers.acceptance.rules.results_to_decide`), so it never spends a call that
sequential early stopping would skip, and decides exactly as all ``k`` trials would.
"""

from __future__ import annotations

import contextvars
import logging
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from tqdm.auto import tqdm

from gcop.optimizers.acceptance.budget import Budget
from gcop.optimizers.acceptance.calls import TeacherReply, TrialOutcome, propose, run_trial
from gcop.optimizers.acceptance.leakage import leaks_answer
from gcop.optimizers.acceptance.pending import CallKind, PendingCall
from gcop.optimizers.acceptance.progress import TaskProgress, TaskState
from gcop.optimizers.acceptance.records import (
    AcceptanceResult,
    AcceptedStrategy,
    ProposalRecord,
    TrialRecord,
    TrialStatus,
    Verdict,
    build_result,
)
from gcop.optimizers.acceptance.rules import results_to_decide, verdict
from gcop.optimizers.acceptance.store import rollout_id
from gcop.optimizers.acceptance.teacher_prompts import refinement_feedback, teacher_messages
from gcop.strategy import DEFAULT_TOKEN_BUDGET, count_words, parse_strategy

logger = logging.getLogger(__name__)

INFRA_REQUEUES = 1  # a call that failed after all retries is re-run this many more times
TASKS_PER_WORKER = 2  # tasks in progress at once, per concurrent call


class AcceptanceLoop:
    """The scheduling loop: all state lives here, worker threads only make calls."""

    def __init__(
        self, policy, tasks: list[TaskProgress], teacher_lm, metric, config, store
    ) -> None:
        self.core, self.ledger = policy.core, policy.ledger
        self.teacher_lm, self.metric = teacher_lm, metric
        self.tasks, self.config, self.store = tasks, config, store
        guide = getattr(policy, "guide", None)
        self.style = {"guidance": guide.signature.instructions} if guide is not None else {}
        self.token_budget = guide.token_budget if guide is not None else DEFAULT_TOKEN_BUDGET
        self.count_tokens = guide.count_tokens if guide is not None else count_words
        self.proposals: list[ProposalRecord] = []
        self.accepted: list[tuple[int, AcceptedStrategy]] = []  # (task index, pair)
        self.pending: dict[Future, PendingCall] = {}
        self.in_flight: Counter = Counter()  # calls now running, by CallKind
        self.counts: Counter = Counter()  # core_calls, teacher_calls, saved, infra_errors, reused
        self.outcomes: Counter = Counter(accepted=0, rejected=0, undecided=0)
        self.active: list[TaskProgress] = []  # started, unfinished tasks, in order
        self.started = 0  # tasks[:started] have been started
        self.mark = len(self.ledger)
        self.budget = Budget(config, self.ledger)

    def run(self) -> AcceptanceResult:
        workers = self.config.concurrency
        with (
            ThreadPoolExecutor(workers, thread_name_prefix="gcop-core") as self.core_pool,
            ThreadPoolExecutor(workers, thread_name_prefix="gcop-teacher") as self.teacher_pool,
            tqdm(total=len(self.tasks), desc="acceptance sampling", unit="task") as self.bar,
        ):
            try:
                self._loop()
            except BaseException:
                self._salvage()
                raise
        why = "stopped by the budget" if self.budget.exhausted else "not finished"
        for task in self.tasks:
            if task.state != TaskState.DONE:
                self._finish(task, Verdict.UNDECIDED, why)
        return self._result()

    def _loop(self) -> None:
        while True:
            self._schedule()
            if not self.pending:
                return
            done, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: self.pending[f].task.index):
                outcome = future.result()  # re-raises a kill or a bug in the metric
                call = self.pending.pop(future)
                self.in_flight[call.kind] -= 1
                call.remember(self.store, outcome)
                if call.kind == CallKind.TEACHER:
                    self._collect_proposal(call.task, outcome)
                else:
                    self._collect_trial(call.task, call.about, outcome)

    def _schedule(self) -> None:
        """Start tasks in order (a bounded window of them) and launch all the work allowed now."""
        window = TASKS_PER_WORKER * self.config.concurrency
        progressed = True
        while progressed:
            progressed = False
            self.active = [task for task in self.active if task.state != TaskState.DONE]
            while len(self.active) < window and self.started < len(self.tasks):
                if self.budget.exhausted:
                    break
                self.tasks[self.started].state = TaskState.PROPOSE
                self.active.append(self.tasks[self.started])
                self.started += 1
            for task in self.active:
                if task.state == TaskState.PROPOSE:
                    progressed |= self._advance_proposal(task)
                elif task.state == TaskState.TRIAL:
                    progressed |= self._advance_trials(task)

    # --- teacher proposals ---

    def _advance_proposal(self, task: TaskProgress) -> bool:
        if task.messages is None:
            reference = task.reference if self.config.privileged_teacher else None
            task.messages = teacher_messages(
                task.inputs,
                reference=reference,
                feedback=task.feedback,
                token_budget=self.token_budget,
                **self.style,
            )
        stored = self.store.proposal(task.key, task.round, task.messages)
        if stored is not None:
            self.counts["reused_proposals"] += 1
            self._on_proposal(task, stored["completion"], reused=True, calls=[])
            return True
        if not self._may_start(CallKind.TEACHER):
            return False
        rollout = rollout_id(task.key, task.round, "teacher")
        future = self._submit(
            self.teacher_pool,
            propose,
            self.teacher_lm,
            task.messages,
            rollout=rollout,
            max_retries=self.config.max_retries,
            may_retry=lambda: self.budget.take(CallKind.TEACHER),
        )
        self.pending[future] = PendingCall(CallKind.TEACHER, task, task.messages)
        self.in_flight[CallKind.TEACHER] += 1
        task.state = TaskState.TEACHER
        return True

    def _collect_proposal(self, task: TaskProgress, reply: TeacherReply) -> None:
        self.counts["teacher_calls"] += reply.attempts
        if reply.error is not None:
            self.counts["infra_errors"] += 1
            task.teacher_failures += 1
            if task.teacher_failures > INFRA_REQUEUES:
                why = f"teacher call failed after retries: {reply.error}"
                self._finish(task, Verdict.UNDECIDED, why)
            else:
                task.state = TaskState.PROPOSE
            return
        self._on_proposal(task, reply.completion, reused=False, calls=reply.calls)

    def _on_proposal(
        self, task: TaskProgress, completion: str, *, reused: bool, calls: list
    ) -> None:
        parsed = parse_strategy(
            completion, token_budget=self.token_budget, count_tokens=self.count_tokens
        )
        proposal = ProposalRecord(
            task.index, task.key, task.round, completion, parsed.strategy, teacher_reused=reused
        )
        proposal.add_calls(calls)
        self.proposals.append(proposal)
        task.start_proposal(proposal)
        if not parsed.valid:
            proposal.verdict, proposal.reason = Verdict.INVALID, parsed.reason
            self._reject(task)
        elif leaks_answer(parsed.strategy, task.example):
            proposal.verdict, proposal.reason = Verdict.LEAK, "the strategy gives away the answer"
            self._reject(task)
        else:
            task.state = TaskState.TRIAL

    # --- core trials ---

    def _advance_trials(self, task: TaskProgress) -> bool:
        progressed = False
        proposal = task.proposal
        while (
            task.state == TaskState.TRIAL and task.proposal is proposal and self._wanted(task) > 0
        ):
            index = task.requeued[0] if task.requeued else task.next_trial
            stored = self.store.trial(task.key, task.round, index, proposal.strategy)
            if stored is None and not self._may_start(CallKind.CORE):
                break
            task.take(index)
            progressed = True
            if stored is not None:
                self.counts["reused_trials"] += 1
                self._on_trial(task, TrialRecord.from_stored(index, stored))
                continue
            future = self._submit(
                self.core_pool,
                run_trial,
                self.core,
                task.example,
                task.inputs,
                proposal.strategy,
                self.metric,
                index=index,
                rollout=rollout_id(task.key, task.round, index, "core"),
                temperature=self.config.core_temperature,
                max_retries=self.config.max_retries,
                may_retry=lambda: self.budget.take(CallKind.CORE),
            )
            self.pending[future] = PendingCall(CallKind.CORE, task, proposal)
            self.in_flight[CallKind.CORE] += 1
            task.in_flight += 1
        return progressed

    def _wanted(self, task: TaskProgress) -> int:
        """Trials to launch now: the fewest results that could fix the verdict, less in flight."""
        scores, k, tau = task.proposal.scores, self.config.k, self.config.tau
        n = len(scores)
        needed = (
            results_to_decide(sum(scores), n, k=k, tau=tau) if self.config.early_stop else k - n
        )
        return needed - task.in_flight

    def _collect_trial(
        self, task: TaskProgress, proposal: ProposalRecord, outcome: TrialOutcome
    ) -> None:
        record = outcome.record
        self.counts["core_calls"] += record.attempts
        task.in_flight -= task.proposal is proposal
        proposal.add_calls(outcome.calls)
        if record.status != TrialStatus.OK:
            self.counts["infra_errors"] += 1
            proposal.trials.append(record)
        if task.proposal is not proposal or task.state != TaskState.TRIAL:
            return  # the proposal was settled meanwhile; the result is kept for a rerun only
        if record.status == TrialStatus.OK:
            self._on_trial(task, record)
            return
        task.infra_failures[record.index] += 1
        if task.infra_failures[record.index] <= INFRA_REQUEUES:
            task.requeued.append(record.index)
        else:
            proposal.verdict = Verdict.UNDECIDED
            proposal.reason = f"trial {record.index} failed after retries: {record.error}"
            self._finish(task, Verdict.UNDECIDED, proposal.reason)

    def _on_trial(self, task: TaskProgress, record: TrialRecord) -> None:
        proposal = task.proposal
        proposal.trials.append(record)
        scores, k = proposal.scores, self.config.k
        decided = verdict(
            sum(scores), len(scores), k=k, tau=self.config.tau, early_stop=self.config.early_stop
        )
        if decided is None:
            return
        proposal.verdict = decided
        proposal.core_calls_saved = k - len(scores)
        self.counts["saved"] += proposal.core_calls_saved
        if decided == Verdict.REJECTED:
            self._reject(task)
            return
        rate = proposal.success_rate or 0.0
        pair = AcceptedStrategy(task.example, proposal.strategy, rate, task.round)
        self.accepted.append((task.index, pair))
        self._finish(task, Verdict.ACCEPTED)

    # --- verdicts, budget, bookkeeping ---

    def _reject(self, task: TaskProgress) -> None:
        proposal = task.proposal
        if task.round >= self.config.max_rounds:
            self._finish(task, Verdict.REJECTED)
            return
        trials = sorted(proposal.trials, key=lambda t: t.index)  # arrival order varies
        outcomes = [(t.score, t.output) for t in trials if t.status == TrialStatus.OK]
        task.next_round(
            refinement_feedback(
                proposal.completion,
                verdict=proposal.verdict,
                reason=proposal.reason,
                outcomes=outcomes,
                tau=self.config.tau,
            )
        )

    def _finish(self, task: TaskProgress, outcome: Verdict, reason: str = "") -> None:
        task.state, task.outcome, task.reason = TaskState.DONE, outcome, reason
        if task.proposal is not None and task.proposal.verdict == Verdict.PENDING:
            task.proposal.verdict, task.proposal.reason = Verdict.UNDECIDED, reason
        self.outcomes[outcome] += 1
        self.bar.update(1)
        self.bar.set_postfix(self.outcomes)

    def _may_start(self, kind: CallKind) -> bool:
        """May a ``kind`` call start now? A worker is free and the budget allows it."""
        return self.in_flight[kind] < self.config.concurrency and self.budget.take(kind)

    def _submit(self, pool: ThreadPoolExecutor, fn, *args, **kwargs) -> Future:
        context = contextvars.copy_context()  # DSPy settings and cost scopes reach the worker
        return pool.submit(context.run, fn, *args, **kwargs)

    def _salvage(self) -> None:
        """After an interruption, store the in-flight work that still finishes, for a rerun."""
        wait(list(self.pending))  # a second Ctrl-C here stops the salvage, as it should
        for future, call in list(self.pending.items()):
            if not future.cancelled() and future.exception() is None:
                call.remember(self.store, future.result())

    def _result(self) -> AcceptanceResult:
        return build_result(
            config=self.config,
            n_examples=len(self.tasks),
            proposals=self.proposals,
            accepted=[pair for _, pair in sorted(self.accepted, key=lambda item: item[0])],
            counts=self.counts,
            records=self.ledger.since(self.mark),
            budget_exhausted=self.budget.exhausted,
            undecided=[t.index for t in self.tasks if t.outcome == Verdict.UNDECIDED],
        )
