"""Micro-batching: many threads submit requests, one worker serves them in groups.

Callers block on a :class:`~concurrent.futures.Future`; the worker takes the oldest waiting request,
waits up to ``max_wait_s`` for more with the same key, and runs up to ``max_batch_size`` (by
``size``) of them in one call. This is how a CPU model serves a thread pool of DSPy calls with one
batched forward passes instead of many single ones.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

Req = TypeVar("Req")
Res = TypeVar("Res")


@dataclass
class _Job(Generic[Req]):
    request: Req
    key: Hashable
    size: int
    future: Future = field(default_factory=Future)


class MicroBatcher(Generic[Req, Res]):
    """Group concurrent requests into batches for ``run_batch(requests) -> results``.

    ``key(request)`` says which requests may share a batch (default: all); ``size(request)`` how
    many rows a request takes (default 1). A request larger than ``max_batch_size`` runs alone.
    The worker thread starts on the first request and exits after ``idle_s`` without work.
    """

    def __init__(
        self,
        run_batch: Callable[[list[Req]], Sequence[Res]],
        *,
        max_batch_size: int = 8,
        max_wait_s: float = 0.02,
        key: Callable[[Req], Hashable] | None = None,
        size: Callable[[Req], int] | None = None,
        idle_s: float = 30.0,
        name: str = "gcop-batcher",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_wait_s < 0:
            raise ValueError(f"batch_wait_s must be >= 0 seconds, got {max_wait_s}")
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._key = key or (lambda _request: None)
        self._size = size or (lambda _request: 1)
        self._idle_s = idle_s
        self._name = name
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards the worker's lifetime
        self._serving = threading.RLock()  # held while a batch runs; see exclusive()
        self._worker: threading.Thread | None = None
        self.batches_run = 0  # how many run_batch calls so far (tests and benchmarks read it)

    def submit(self, request: Req) -> Future:
        """Queue ``request``; the future resolves to its result (or raises its batch's error)."""
        job = _Job(request, self._key(request), max(1, int(self._size(request))))
        with self._lock:
            self._queue.put(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._worker.start()
        return job.future

    def __call__(self, request: Req) -> Res:
        """Submit and wait."""
        return self.submit(request).result()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Block new batches while inside; the running batch, if any, finishes first."""
        with self._serving:
            yield

    # --- worker ------------------------------------------------------------------------------

    def _serve(self) -> None:
        pending: deque[_Job] = deque()
        while True:
            if not pending:
                try:
                    pending.append(self._queue.get(timeout=self._idle_s))
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._worker = None
                            return
                    continue
            self._gather(pending)
            batch = self._take(pending)
            self._run(batch)

    def _gather(self, pending: deque[_Job]) -> None:
        """Pull queued jobs until the first key's batch is full or the wait runs out."""
        first = pending[0].key
        deadline = time.monotonic() + self.max_wait_s
        while sum(job.size for job in pending if job.key == first) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                job = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                return
            pending.append(job)

    def _take(self, pending: deque[_Job]) -> list[_Job]:
        """Remove and return the oldest job plus later same-key jobs that fit, in arrival order."""
        first = pending.popleft()
        batch, used, rest = [first], first.size, deque()
        while pending:
            job = pending.popleft()
            if job.key == first.key and used + job.size <= self.max_batch_size:
                batch.append(job)
                used += job.size
            else:
                rest.append(job)
        pending.extend(rest)
        return batch

    def _run(self, batch: list[_Job]) -> None:
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            with self._serving:
                self.batches_run += 1
                results = list(self._run_batch([job.request for job in live]))
            if len(results) != len(live):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(live)}")
        except BaseException as error:  # hand the error to every caller; keep serving
            logger.debug("batch of %d failed: %r", len(live), error)
            for job in live:
                job.future.set_exception(error)
            return
        for job, result in zip(live, results, strict=True):
            job.future.set_result(result)

    def __repr__(self) -> str:
        return f"MicroBatcher(max_batch_size={self.max_batch_size}, max_wait_s={self.max_wait_s})"


_DEVICE_LOCKS: dict[str, threading.Lock] = {}
_DEVICE_LOCKS_GUARD = threading.Lock()


def device_lock(model: Any) -> threading.Lock:
    """The lock shared by every LocalLM whose weights live on ``model``'s device."""
    device = str(next(model.parameters()).device)
    with _DEVICE_LOCKS_GUARD:
        return _DEVICE_LOCKS.setdefault(device, threading.Lock())
