"""Acceptance sampling and GRPO against a core on 127.0.0.1 that answers, in turn, ok, 429, ok,
500, slow, garbage and hang (issue 12).

Each run is compared with a run against the same server without faults: the verdicts and rewards
must be the same, no infrastructure failure may count against a strategy, and every request the
server received must be in the cost ledger and the budget.
"""

import re
import time

import pytest
from acceptance_fakes import (
    Backend,
    core_answer,
    metric,
    teacher_for,
    teacher_reply,
    trainset,
    user_text,
)
from fault_server import FaultServer, repeat
from training_fakes import same_weights, small_config, snapshot, strategy_sent, tiny_guide

import gcop
from gcop.lm import retries
from gcop.lm.retries import backoff_delay
from gcop.optimizers.acceptance.run import run_acceptance
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.grpo.trainer import train_grpo
from gcop.signatures import MathGuide, MathSolve

SCRIPT = ["ok", 429, "ok", 500, "slow", "garbage", "hang"]
FAILING = [429, 500, "garbage", "hang"]  # each costs one retry; "slow" answers in time
REPEATS = 3  # the script is played this many times, then every request is answered
TIMEOUT_S = 0.25  # the core's request timeout
RETRY_AFTER_S = 0.05


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    """Backoff of 1 ms where the server gives no Retry-After; the delays asked for, recorded."""
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)
    delays = []

    def recorded(attempt, error=None):
        delays.append(backoff_delay(attempt, error))
        return delays[-1]

    monkeypatch.setattr(retries, "backoff_delay", recorded)
    return delays


def core_server(reply, faulty: bool) -> FaultServer:
    faults = repeat(SCRIPT, REPEATS) if faulty else None
    return FaultServer(
        reply,
        faults,
        slow_s=TIMEOUT_S / 5,
        retry_after=RETRY_AFTER_S,
        max_requests=200,
        lifetime_s=30,
    )


def http_core(server: FaultServer) -> gcop.Core:
    """The core as a user names it, with a short timeout and no cache (every call is sent)."""
    return gcop.Core(
        MathSolve,
        lm="openai/fake-model",
        api_base=server.api_base,
        api_key="x",
        timeout=TIMEOUT_S,
        cache=False,
    )


def accept(server: FaultServer, max_core_calls: int | None = None):
    teacher = Backend(teacher_reply)
    try:
        guide = gcop.Guide(MathGuide, lm=teacher.model_string)
        policy = gcop.GuideCorePolicy(guide=guide, core=http_core(server))
        result = run_acceptance(
            policy,
            trainset(4),
            teacher_lm=teacher_for(policy, teacher.model_string, cache=False),
            metric=metric,
            config=ExecTuneConfig(concurrency=1, max_retries=3, max_core_calls=max_core_calls),
        )
    finally:
        teacher.close()
        server.close()
    return result, policy.ledger.records("core")


def verdicts(result) -> list[tuple]:
    return [(p.example_index, p.round, p.verdict, p.scores) for p in result.proposals]


def test_acceptance_through_every_fault_decides_as_without_faults(fast_backoff):
    clean, _ = accept(core_server(core_answer, faulty=False))
    expected = clean.core_calls + REPEATS * len(FAILING)

    server = core_server(core_answer, faulty=True)
    start = time.monotonic()
    result, calls = accept(server, max_core_calls=expected)
    elapsed = time.monotonic() - start

    assert verdicts(result) == verdicts(clean)
    assert result.summary()["accepted"] == clean.summary()["accepted"] == 4
    assert result.infra_errors == 0 and not result.undecided and not result.budget_exhausted
    trials = [t for p in result.proposals for t in p.trials]
    assert all(t.status == "ok" for t in trials)  # a failed attempt is retried, never scored
    assert sum(t.attempts for t in trials) == result.core_calls
    assert sorted(map(str, server.injected)) == sorted(map(str, REPEATS * [*FAILING, "slow"]))
    assert server.requests == len(calls) == result.core_calls == expected
    assert sum(call.error is not None for call in calls) == REPEATS * len(FAILING)
    assert len(fast_backoff) == REPEATS * len(FAILING)
    assert fast_backoff.count(RETRY_AFTER_S) == REPEATS * 2  # the 429s and 500s
    assert elapsed < 5

    server = core_server(core_answer, faulty=True)
    tight, _ = accept(server, max_core_calls=expected - 1)
    assert server.requests == tight.core_calls == expected - 1  # the budget counts retries too
    assert tight.budget_exhausted and tight.undecided == [3]
    assert tight.summary()["rejected"] == 0


def parity_core(messages: list[dict]) -> str:
    """A core that is right exactly when its strategy has an even number of characters."""
    a, b = (int(x) for x in re.search(r"What is (\d+) plus (\d+)\?", user_text(messages)).groups())
    right = len(strategy_sent(messages).strip()) % 2 == 0
    return f"[[ ## answer ## ]]\nThe answer is {a + b if right else a + b + 1}"


def grpo(server: FaultServer):
    core = http_core(server)
    config = small_config(
        grpo_steps=2, grpo_generations=4, concurrency=1, max_retries=3, lambda_judge=0.0
    )
    try:
        trained, summary = train_grpo(
            tiny_guide(), core, trainset(2), metric=metric, config=config, reward="task"
        )
    finally:
        server.close()
    return trained, summary, core.ledger.records("core")


def test_grpo_through_every_fault_trains_as_without_faults(one_thread, fast_backoff):
    clean_guide, clean, clean_calls = grpo(core_server(parity_core, faulty=False))
    assert any(0 < row["reward"] < 1 for row in clean["history"])  # the plans score apart

    server = core_server(parity_core, faulty=True)
    start = time.monotonic()
    guide, summary, calls = grpo(server)
    elapsed = time.monotonic() - start

    assert [row["reward"] for row in summary["history"]] == [
        row["reward"] for row in clean["history"]
    ]
    assert summary["core_errors"] == 0
    assert all(row["failed_samples"] == 0 for row in summary["history"])
    assert same_weights(snapshot(guide), snapshot(clean_guide))
    assert len(server.injected) == REPEATS * (len(FAILING) + 1)  # the script played in full
    assert server.requests == len(calls) == summary["core_calls"]
    assert server.requests == len(clean_calls) + REPEATS * len(FAILING)
    assert sum(call.error is not None for call in calls) == REPEATS * len(FAILING)
    assert elapsed < 10
