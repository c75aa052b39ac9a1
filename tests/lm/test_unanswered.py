"""A server that lets requests time out twice in a row is not asked again at once (issue 31)."""

import time

import pytest
from fault_server import FaultServer

from gcop.lm import unanswered
from gcop.lm.resolve import as_lm
from gcop.lm.unanswered import ServerNotAnswering

TIMEOUT_S = 0.3


@pytest.fixture
def hung_server():
    server = FaultServer(lambda messages: "hi", {i: "hang" for i in range(1, 50)}, lifetime_s=30)
    yield server
    server.close()


def ask(lm) -> tuple[float, Exception]:
    """Seconds ``lm`` took to fail, and its error."""
    start = time.monotonic()
    with pytest.raises(Exception) as caught:
        lm("hello")
    return time.monotonic() - start, caught.value


def test_two_timeouts_in_a_row_and_later_requests_fail_at_once_unsent(hung_server, monkeypatch):
    lm = as_lm("openai/hang", api_base=hung_server.api_base, api_key="x", timeout=TIMEOUT_S)
    for _ in range(unanswered.STRIKES):  # one timeout may be a lost request: it is sent again
        elapsed, error = ask(lm)
        assert elapsed >= TIMEOUT_S and unanswered.is_timeout(error)
    elapsed, error = ask(lm)
    assert isinstance(error, ServerNotAnswering) and elapsed < TIMEOUT_S / 2
    assert hung_server.api_base in str(error)
    assert hung_server.requests == unanswered.STRIKES == len(lm.ledger.records())

    monkeypatch.setattr(unanswered, "PROBE_EVERY_S", 0.0)  # due for a probe: one is sent
    elapsed, error = ask(lm)
    assert elapsed >= TIMEOUT_S and hung_server.requests == unanswered.STRIKES + 1


def test_an_answer_clears_the_count(monkeypatch):
    server = FaultServer(lambda messages: "hi", {1: "hang", 2: "hang"}, lifetime_s=30)
    try:
        lm = as_lm("openai/m", api_base=server.api_base, api_key="x", timeout=TIMEOUT_S)
        ask(lm), ask(lm)
        monkeypatch.setattr(unanswered, "PROBE_EVERY_S", 0.0)
        assert lm("hello", cache=False) == ["hi"]  # the probe is answered
        monkeypatch.setattr(unanswered, "PROBE_EVERY_S", 60.0)
        assert lm("again", cache=False) == ["hi"]  # and the server is asked as before
    finally:
        server.close()


def test_only_timeouts_count():
    assert unanswered.is_timeout(TimeoutError()) and not unanswered.is_timeout(ValueError())
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = ServerNotAnswering("x")
    assert unanswered.refused_unsent(wrapped) and not unanswered.refused_unsent(ValueError())
    unanswered.record("http://a", ValueError("401"))
    unanswered.record("http://a", ValueError("401"))
    unanswered.check("http://a")  # refusals and other errors never mark a server
