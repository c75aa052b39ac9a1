"""Spending limits for acceptance sampling: ``max_core_calls`` and ``max_dollars``."""

from __future__ import annotations

import logging
from typing import Any

from gcop.cost import CostLedger

logger = logging.getLogger(__name__)


class Budget:
    """Tracks this run's spending against the config's limits; once exceeded it stays exhausted.

    Core calls are counted when launched; a trial's retries (each one request, each in the
    ledger) are added when the trial ends, so a run may exceed ``max_core_calls`` by at most
    ``max_retries`` per trial in flight. Dollars are read from the ledger (every role) since the
    budget was created; a call with no known price counts as $0, with a warning.
    """

    def __init__(self, config: Any, ledger: CostLedger) -> None:
        self.max_core_calls = config.max_core_calls
        self.max_dollars = config.max_dollars
        self.ledger = ledger
        self.exhausted = False
        self.dollars = 0.0
        self._seen = len(ledger)
        self._warned = False

    def allows(self, role: str, core_calls: int) -> bool:
        """May one more ``role`` call start, with ``core_calls`` core calls made or running?"""
        if self.exhausted:
            return False
        if role == "core" and self.max_core_calls is not None:
            if core_calls >= self.max_core_calls:
                return self._stop(f"max_core_calls={self.max_core_calls} reached")
        if self.max_dollars is not None and self._spent() >= self.max_dollars:
            return self._stop(f"max_dollars={self.max_dollars} reached (${self.dollars:.4f})")
        return True

    def _stop(self, why: str) -> bool:
        logger.info("acceptance sampling stops: %s", why)
        self.exhausted = True
        return False

    def _spent(self) -> float:
        new = self.ledger.since(self._seen)
        self._seen += len(new)
        for record in new:
            if record.dollars is None and not record.cache_hit and not self._warned:
                self._warned = True
                logger.warning(
                    "max_dollars: %s has no known price, its calls count as $0; pass prices= to "
                    "the CostLedger to enforce the budget",
                    record.model,
                )
            self.dollars += record.dollars or 0.0
        return self.dollars
