"""Identical greedy or seeded requests in flight share one computation; unseeded samples do not."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from gcop.lm.generation import GenRequest
from gcop.lm.local import LocalLM
from gcop.lm.shared_requests import SharedRequests

ASK = [{"role": "user", "content": "How many legs do 3 spiders have?"}]


def _pending_runs() -> tuple[SharedRequests, list[GenRequest], list[Future]]:
    runs: list[GenRequest] = []
    futures: list[Future] = []

    def run(request: GenRequest) -> Future:
        runs.append(request)
        futures.append(Future())
        return futures[-1]

    return SharedRequests(run), runs, futures


def test_identical_greedy_requests_in_flight_run_once():
    shared, runs, futures = _pending_runs()
    request = GenRequest(prompt_ids=(1, 2, 3), max_tokens=8)
    first, second = shared.submit(request), shared.submit(request)
    assert first is second and len(runs) == 1 and shared.shared == 1
    futures[0].set_result("answer")
    assert second.result() == "answer"
    shared.submit(request)  # finished requests are not kept: a later ask runs again
    assert len(runs) == 2


def test_seeded_samples_share_and_unseeded_samples_never_do():
    shared, runs, _ = _pending_runs()
    seeded = GenRequest(prompt_ids=(1, 2), temperature=0.7, seed=5)
    unseeded = GenRequest(prompt_ids=(1, 2), temperature=0.7)
    assert shared.submit(seeded) is shared.submit(seeded)
    assert shared.submit(unseeded) is not shared.submit(unseeded)
    assert len(runs) == 3


def test_requests_that_differ_in_any_setting_run_apart():
    shared, runs, _ = _pending_runs()
    shared.submit(GenRequest(prompt_ids=(1, 2), max_tokens=8))
    shared.submit(GenRequest(prompt_ids=(1, 2), max_tokens=9))
    shared.submit(GenRequest(prompt_ids=(1, 2), max_tokens=8, stop=("\n",)))
    assert len(runs) == 3 and shared.shared == 0


def test_forget_all_stops_sharing_what_is_in_flight():
    shared, runs, _ = _pending_runs()
    request = GenRequest(prompt_ids=(4,), max_tokens=2)
    shared.submit(request)
    shared.forget_all()
    shared.submit(request)
    assert len(runs) == 2


def test_local_lm_answers_concurrent_identical_questions_with_one_row(unique_name):
    lm = LocalLM("tiny", name=unique_name, max_batch_size=8, batch_wait_s=0.5)
    expected = lm.complete(ASK, max_tokens=6)
    rows_before = lm.stats.rows
    barrier = threading.Barrier(4)

    def ask(_: int):
        barrier.wait()
        return lm.complete(ASK, max_tokens=6)

    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(ask, range(4)))
    assert [reply.texts for reply in replies] == [expected.texts] * 4
    assert lm.stats.rows - rows_before == 1
    assert all(reply.completion_tokens == expected.completion_tokens for reply in replies)
