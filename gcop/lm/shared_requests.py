"""Identical requests in flight share one computation.

A greedy request, or a sampled one with a seed, has one answer: a second caller asking the same
while the first is queued or running waits for that answer instead of adding a row to a batch.
DSPy's cache only helps once a reply is written; the demo's guided rows ask the core alone the
very question the core-only row is still answering, so without this the core answers it twice.
Unseeded sampled requests always run: each caller is owed its own sample.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from gcop.lm.generation import GenRequest


class SharedRequests:
    """``submit(request)`` through ``run``, sharing the future of an identical request in flight."""

    def __init__(self, run: Callable[[GenRequest], Future]) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._in_flight: dict[GenRequest, Future] = {}
        self.shared = 0  # requests answered by another caller's computation

    def submit(self, request: GenRequest) -> Future:
        if not request.reproducible:
            return self._run(request)
        with self._lock:
            future = self._in_flight.get(request)
            if future is not None:
                self.shared += 1
                return future
            future = self._run(request)
            self._in_flight[request] = future
        future.add_done_callback(lambda done: self._forget(request, done))
        return future

    def forget_all(self) -> None:
        """Share nothing already in flight with later callers (the served weights changed)."""
        with self._lock:
            self._in_flight.clear()

    def _forget(self, request: GenRequest, future: Future) -> None:
        with self._lock:
            if self._in_flight.get(request) is future:
                del self._in_flight[request]
