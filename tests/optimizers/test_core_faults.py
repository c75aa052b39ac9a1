"""Acceptance sampling against a flaky OpenAI-compatible core served on 127.0.0.1.

Rate limits, 5xx, replies slower than the client's timeout and malformed JSON are retried with
backoff, recorded in the ledger, and never counted as the strategy's failure.
"""

import time

import dspy
import pytest
from acceptance_fakes import (
    Backend,
    FakeOpenAI,
    example,
    metric,
    teacher_for,
    teacher_reply,
    trainset,
)
from dspy.utils import exceptions as dspy_errors

import gcop
from gcop.lm import resolve, retries
from gcop.lm.retries import backoff_delay, is_transient
from gcop.optimizers.acceptance.run import run_acceptance
from gcop.optimizers.config import ExecTuneConfig
from gcop.signatures import MathSolve


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.01)


@pytest.fixture
def server():
    fake = FakeOpenAI(slow_s=1.5)
    yield fake
    fake.close()


@pytest.fixture
def teacher_backend():
    backend = Backend(teacher_reply, name="faults-teacher")
    yield backend
    backend.close()


def http_policy(server, teacher_backend):
    core_lm = dspy.LM(
        "openai/fake-model",
        api_base=server.api_base,
        api_key="x",
        timeout=0.5,
        num_retries=0,
        cache=False,
    )
    guide = gcop.Guide(gcop.signatures.MathGuide, lm=teacher_backend.model_string)
    policy = gcop.GuideCorePolicy(guide=guide, core=gcop.Core(MathSolve, lm=core_lm))
    assert policy.core.lm.kwargs["timeout"] == 0.5 and policy.core.lm.num_retries == 0
    return policy, teacher_for(policy, teacher_backend.model_string, cache=False)


def string_core_policy(server, teacher_backend):
    """The core as a user names it: a model string and an address, no timeout, no retry setting."""
    core = gcop.Core(
        MathSolve, lm="openai/fake-model", api_base=server.api_base, api_key="x", cache=False
    )
    guide = gcop.Guide(gcop.signatures.MathGuide, lm=teacher_backend.model_string)
    policy = gcop.GuideCorePolicy(guide=guide, core=core)
    return policy, teacher_for(policy, teacher_backend.model_string, cache=False)


def test_transient_faults_are_retried_and_verdicts_stay_correct(server, teacher_backend):
    server.faults = {2: 429, 4: 500, 6: "slow", 9: "garbage", 10: 500}
    policy, teacher_lm = http_policy(server, teacher_backend)
    config = ExecTuneConfig(concurrency=2, max_retries=3)
    result = run_acceptance(
        policy, trainset(4), teacher_lm=teacher_lm, metric=metric, config=config
    )

    assert len(result.accepted) == 4 and all(a.round == 1 for a in result.accepted)
    assert [p.verdict for p in result.proposals] == ["rejected", "accepted"] * 4
    assert [len(p.trials) for p in result.proposals] == [2, 3] * 4  # as with no faults at all
    assert result.infra_errors == 0 and not result.undecided
    assert len(server.injected) == 5
    core_records = policy.ledger.records("core")
    errors = [r.error for r in core_records if r.error]
    assert len(errors) == 5  # every failed attempt is in the ledger
    for kind in ("LMRateLimitError", "LMServerError", "LMTransportError", "LMProviderError"):
        assert any(error.startswith(kind) for error in errors), kind
    assert result.core_calls == server.requests == len(core_records) == 20 + 5
    attempts = sum(t.attempts for p in result.proposals for t in p.trials)
    assert attempts == result.core_calls


def test_a_persistent_outage_leaves_the_task_undecided_not_rejected(
    server, teacher_backend, tmp_path
):
    server.always_500 = lambda text: "down" in text
    policy, teacher_lm = http_policy(server, teacher_backend)
    data = trainset(2) + [example(3, 4, "down ")]
    config = ExecTuneConfig(concurrency=2, max_retries=1)
    result = run_acceptance(
        policy, data, teacher_lm=teacher_lm, metric=metric, config=config, run_dir=tmp_path
    )
    assert result.undecided == [2] and result.summary()["rejected"] == 0
    down = [p for p in result.proposals if p.example_index == 2]
    assert [(p.round, p.verdict) for p in down] == [(0, "undecided")]  # never refined
    assert sum("down" in call for call in teacher_backend.calls) == 1
    assert result.infra_errors >= 2
    assert all(t.status == "infra_error" and t.score is None for t in down[0].trials)
    assert result.certificate.m == 4  # the two decided proposals of each healthy task

    server.always_500 = lambda text: False  # the outage ends; rerun with the same run_dir
    before, teacher_before = server.requests, len(teacher_backend.calls)
    policy, teacher_lm = http_policy(server, teacher_backend)
    again = run_acceptance(
        policy, data, teacher_lm=teacher_lm, metric=metric, config=config, run_dir=tmp_path
    )
    assert len(again.accepted) == 3 and not again.undecided
    assert server.requests - before == 2 + 3  # only the down task's trials run
    assert len(teacher_backend.calls) - teacher_before == 1  # its refinement
    assert again.reused_trials == 2 * (2 + 3)


def test_a_bad_key_stops_the_run_instead_of_retrying(server, teacher_backend):
    server.faults = {i: 401 for i in range(1, 100)}
    policy, teacher_lm = http_policy(server, teacher_backend)
    with pytest.raises(dspy_errors.LMAuthError):
        run_acceptance(
            policy, trainset(1), teacher_lm=teacher_lm, metric=metric, config=ExecTuneConfig()
        )
    assert server.requests == 2  # the first wave of two trials, neither retried


@pytest.mark.parametrize(
    "error, transient",
    [
        (dspy_errors.LMRateLimitError("slow down"), True),
        (dspy_errors.LMServerError("502"), True),
        (dspy_errors.LMTimeoutError("late"), True),
        (dspy_errors.LMTransportError("reset"), True),
        (dspy_errors.LMProviderError("body is not JSON"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (dspy_errors.LMAuthError("bad key"), False),
        (dspy_errors.LMInvalidRequestError("bad request"), False),
        (dspy_errors.ContextWindowExceededError(), False),
        (ValueError("a bug"), False),
    ],
)
def test_transient_error_classification(error, transient):
    assert is_transient(error) is transient


def test_backoff_grows_and_honours_retry_after():
    base = retries.BACKOFF_BASE_S
    assert base <= backoff_delay(0) <= 1.25 * base
    assert 8 * base <= backoff_delay(3) <= 10 * base
    assert backoff_delay(0, dspy_errors.LMRateLimitError("x", retry_after=0.3)) == 0.3


def test_a_hung_core_times_out_and_leaves_the_task_undecided(teacher_backend, monkeypatch):
    monkeypatch.setattr(resolve, "LOCAL_TIMEOUT_S", 0.3)  # the default for a server on 127.0.0.1
    server = FakeOpenAI({i: "slow" for i in range(1, 100)}, slow_s=5.0)  # answers after 5 s
    try:
        policy, teacher_lm = string_core_policy(server, teacher_backend)
        config = ExecTuneConfig(concurrency=2, max_retries=1, max_rounds=0)
        start = time.monotonic()
        result = run_acceptance(
            policy, trainset(1), teacher_lm=teacher_lm, metric=metric, config=config
        )
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert result.undecided == [0] and result.summary()["rejected"] == 0
    assert [p.verdict for p in result.proposals] == ["undecided"]
    errors = [r.error for r in policy.ledger.records("core")]
    assert errors and all("timed out" in error for error in errors)
    assert server.served == 0 and elapsed < server.slow_s
    assert result.core_calls == server.requests == len(errors)


def test_every_request_is_counted_once_in_the_ledger_and_the_budget(teacher_backend):
    server = FakeOpenAI(retry_after=0)
    server.always_500 = lambda text: True
    try:
        policy, teacher_lm = string_core_policy(server, teacher_backend)
        config = ExecTuneConfig(concurrency=1, max_retries=1, max_core_calls=4)
        result = run_acceptance(
            policy, trainset(2), teacher_lm=teacher_lm, metric=metric, config=config
        )
    finally:
        server.close()
    # one trial: 2 attempts, then requeued once: 2 more; the budget stops the second task
    assert server.requests == len(policy.ledger.records("core")) == result.core_calls == 4
    assert result.budget_exhausted and result.undecided == [0, 1]


def test_retries_stop_at_max_core_calls(teacher_backend):
    server = FakeOpenAI(retry_after=0)
    server.always_500 = lambda text: True
    try:
        policy, teacher_lm = string_core_policy(server, teacher_backend)
        config = ExecTuneConfig(concurrency=1, max_retries=3, max_core_calls=2)
        result = run_acceptance(
            policy, trainset(1), teacher_lm=teacher_lm, metric=metric, config=config
        )
    finally:
        server.close()
    # the first trial's second retry would be the third request: it is never sent
    assert server.requests == len(policy.ledger.records("core")) == result.core_calls == 2
    assert result.budget_exhausted and result.undecided == [0]
    trial = result.proposals[0].trials[0]
    assert trial.attempts == 2 and "not retried: the budget is spent" in trial.error


def test_rate_limits_wait_as_long_as_the_server_asks(teacher_backend, monkeypatch):
    delays = []

    def recorded(attempt, error=None):
        delays.append(backoff_delay(attempt, error))
        return delays[-1]

    monkeypatch.setattr(retries, "backoff_delay", recorded)
    server = FakeOpenAI({1: 429, 2: 429}, retry_after=0.2)
    try:
        policy, teacher_lm = string_core_policy(server, teacher_backend)
        config = ExecTuneConfig(concurrency=1)
        result = run_acceptance(
            policy, trainset(1), teacher_lm=teacher_lm, metric=metric, config=config
        )
    finally:
        server.close()
    assert delays == [0.2, 0.2]
    assert [p.verdict for p in result.proposals] == ["rejected", "accepted"]  # as with no faults
    assert server.requests == len(policy.ledger.records("core")) == result.core_calls == 2 + 5
