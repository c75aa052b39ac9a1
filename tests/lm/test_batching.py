"""MicroBatcher: grouping by key and size, per-caller results and errors, worker lifetime."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gcop.lm.batching import MicroBatcher


class Recorder:
    def __init__(self, delay: float = 0.0):
        self.batches: list[list] = []
        self.delay = delay

    def __call__(self, requests):
        self.batches.append(list(requests))
        time.sleep(self.delay)
        return [f"done:{r}" for r in requests]


def submit_all(batcher, requests):
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(batcher, requests))


def test_concurrent_requests_share_a_batch_and_get_their_own_result():
    run = Recorder()
    batcher = MicroBatcher(run, max_batch_size=8, max_wait_s=0.3)
    assert submit_all(batcher, list(range(8))) == [f"done:{i}" for i in range(8)]
    assert len(run.batches) < 8 and batcher.batches_run == len(run.batches)


def test_keys_separate_batches_and_sizes_bound_them():
    run = Recorder()
    batcher = MicroBatcher(
        run, max_batch_size=4, max_wait_s=0.3, key=lambda r: r[0], size=lambda r: r[1]
    )
    requests = [("a", 1), ("b", 1), ("a", 2), ("b", 1), ("a", 2), ("a", 5)]
    assert submit_all(batcher, requests) == [f"done:{r}" for r in requests]
    for batch in run.batches:
        assert len({key for key, _ in batch}) == 1
        assert sum(size for _, size in batch) <= 4 or len(batch) == 1
    assert sorted(r for batch in run.batches for r in batch) == sorted(requests)


def test_errors_reach_every_caller_of_the_batch_and_serving_goes_on():
    def run(requests):
        if "bad" in requests:
            raise RuntimeError("boom")
        return requests

    batcher = MicroBatcher(run, max_wait_s=0.0)
    with pytest.raises(RuntimeError, match="boom"):
        batcher("bad")
    assert batcher("good") == "good"
    short = MicroBatcher(lambda requests: [], max_wait_s=0.0)
    with pytest.raises(RuntimeError, match="0 results for 1"):
        short("x")


def test_exclusive_waits_for_the_running_batch():
    run = Recorder(delay=0.3)
    batcher = MicroBatcher(run, max_wait_s=0.0)
    future = batcher.submit("slow")
    time.sleep(0.1)  # the batch is running now
    with batcher.exclusive():
        assert future.done()


def test_worker_exits_when_idle_and_restarts():
    batcher = MicroBatcher(Recorder(), max_wait_s=0.0, idle_s=0.05, name="idle-test")
    assert batcher("a") == "done:a"
    time.sleep(0.3)
    assert not any(t.name == "idle-test" and t.is_alive() for t in threading.enumerate())
    assert batcher("b") == "done:b"


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="max_batch_size"):
        MicroBatcher(Recorder(), max_batch_size=0)
    with pytest.raises(ValueError, match="batch_wait_s"):
        MicroBatcher(Recorder(), max_wait_s=-1)
