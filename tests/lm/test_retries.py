"""call_with_retries: transient failures retried with backoff, others raised."""

import pytest

from gcop.lm import retries
from gcop.lm.retries import Attempted, call_with_retries


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)


def flaky(failures: int, error: Exception):
    """A call that raises ``error`` ``failures`` times, then answers "done"."""
    state = {"calls": 0}

    def call():
        state["calls"] += 1
        if state["calls"] <= failures:
            raise error
        return "done"

    return call


def test_a_transient_failure_is_retried_and_the_attempts_counted():
    attempted = call_with_retries(flaky(2, TimeoutError("slow")), max_retries=3)
    assert attempted == Attempted("done", None, 3)
    assert attempted.ok


def test_a_failure_that_outlasts_the_retries_comes_back_as_text():
    attempted = call_with_retries(flaky(5, TimeoutError("slow")), max_retries=1)
    assert (attempted.value, attempted.attempts, attempted.ok) == (None, 2, False)
    assert attempted.error == "TimeoutError: slow"


def test_the_budget_can_stop_the_retries():
    attempted = call_with_retries(flaky(5, TimeoutError("slow")), 3, may_retry=lambda: False)
    assert attempted.attempts == 1
    assert attempted.error.endswith("(not retried: the budget is spent)")


def test_an_error_that_is_not_transient_is_raised_at_once():
    call = flaky(1, KeyError("bug in the metric"))
    with pytest.raises(KeyError):
        call_with_retries(call, max_retries=3)
