"""Spending limits for acceptance sampling: ``max_core_calls`` and ``max_dollars``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from gcop.cost import CostLedger

logger = logging.getLogger(__name__)


class Budget:
    """Tracks this run's spending against the config's limits; once exceeded it stays exhausted.

    Every core request is counted before it is sent, retries included (the sampling loop asks for
    a trial's first attempt, the worker making it for each retry), so a run never sends more than
    ``max_core_calls``. Dollars are read from the ledger (every role) since the budget was
    created; a cache hit spends nothing now and is not counted, and a call with no known price
    counts as $0, with a warning. Safe to ask from several threads.
    """

    def __init__(self, config: Any, ledger: CostLedger) -> None:
        self.max_core_calls = config.max_core_calls
        self.max_dollars = config.max_dollars
        self.ledger = ledger
        self.exhausted = False
        self.core_requests = 0
        self.dollars = 0.0
        self._seen = len(ledger)
        self._warned = False
        self._lock = threading.Lock()

    def take(self, role: str) -> bool:
        """May one more ``role`` request be sent now? A core request allowed is counted."""
        with self._lock:
            if self.exhausted:
                return False
            if role == "core" and self.max_core_calls is not None:
                if self.core_requests >= self.max_core_calls:
                    return self._stop(f"max_core_calls={self.max_core_calls} reached")
            if self.max_dollars is not None and self._spent() >= self.max_dollars:
                return self._stop(f"max_dollars={self.max_dollars} reached (${self.dollars:.4f})")
            self.core_requests += role == "core"
            return True

    def _stop(self, why: str) -> bool:
        logger.info("acceptance sampling stops: %s", why)
        self.exhausted = True
        return False

    def _spent(self) -> float:
        new = self.ledger.since(self._seen)
        self._seen += len(new)
        for record in new:
            if record.cache_hit:
                continue  # it cost something when it was made, nothing now
            if record.dollars is None and not self._warned:
                self._warned = True
                logger.warning(
                    "max_dollars: %s has no known price, its calls count as $0; pass prices= to "
                    "the CostLedger to enforce the budget",
                    record.model,
                )
            self.dollars += record.dollars or 0.0
        return self.dollars
