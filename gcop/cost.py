"""Cost ledger: per-call tokens, latency, dollars and cache hits; net utility J = V − λ·C.

Dollars come from a user price table first, then LiteLLM's cost map. In-process local models
(``local/…``) cost 0 dollars. A model neither table knows is reported as *unknown* (``None``), never
as a silent 0. A call served from the cache costs what its reply cost when it was made, so a
recipe's cost does not depend on which recipe ran first; summaries say separately how much of it
the cache saved.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

CostUnit = Literal["dollars", "tokens", "latency_s", "calls"]
LOCAL_PREFIX = "local/"


@dataclass(frozen=True)
class CallRecord:
    """One LM call as the ledger saw it.

    Tokens, latency and dollars are those of the reply when it was made, also for a cache hit
    (``cache_hit``: nothing was spent now). ``usage_known`` is false for a cache hit whose reply
    was cached without this metering (by an older gcop or a plain ``dspy.LM``): its tokens and
    latency are recorded as 0 and its dollars as unknown.
    """

    model: str
    role: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    dollars: float | None
    cache_hit: bool = False
    error: str | None = None
    timestamp: float = field(default_factory=time.time)
    usage_known: bool = True

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CostSummary:
    """Totals over a set of calls, each counted at what its reply cost when made (cached or not).

    ``cached_tokens`` and ``cached_dollars`` are the part of those totals the cache served, i.e.
    saved this run. ``dollars`` is ``None`` when any call had no price; ``unmetered_hits`` counts
    cache hits whose cost was never recorded (see :class:`CallRecord`).
    """

    calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    dollars: float | None = 0.0
    unpriced_calls: int = 0
    cached_tokens: int = 0
    cached_dollars: float | None = 0.0
    unmetered_hits: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: CostSummary) -> CostSummary:
        """Totals of two summaries; dollars stay unknown if either side's are."""

        def add(a, b):
            return None if a is None or b is None else a + b

        return CostSummary(
            **{f.name: add(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)}
        )

    def in_unit(self, unit: CostUnit) -> float:
        """The total in one cost unit; unknown dollars raise, since a guess would mislead."""
        if unit == "dollars":
            if self.dollars is None:
                raise ValueError(
                    f"{self.unpriced_calls} call(s) have no known price: pass prices= to the "
                    "CostLedger, or measure cost in 'tokens' or 'latency_s'"
                )
            return self.dollars
        values = {"tokens": self.tokens, "latency_s": self.latency_s, "calls": self.calls}
        if unit not in values:
            raise ValueError(f"unknown cost unit {unit!r}: use dollars, tokens, latency_s or calls")
        return float(values[unit])


def summarize(records: Iterable[CallRecord]) -> CostSummary:
    """Add up call records, cache hits at their reply's cost."""
    total = CostSummary()
    for record in records:
        hit = record.cache_hit
        total += CostSummary(
            calls=1,
            cache_hits=int(hit),
            errors=int(record.error is not None),
            prompt_tokens=record.prompt_tokens,
            completion_tokens=record.completion_tokens,
            latency_s=record.latency_s,
            dollars=record.dollars,
            unpriced_calls=int(record.dollars is None),
            cached_tokens=record.tokens if hit else 0,
            cached_dollars=record.dollars if hit else 0.0,
            unmetered_hits=int(not record.usage_known),
        )
    return total


class CostLedger:
    """Thread-safe list of :class:`CallRecord`, shared (never copied) by the modules that use it.

    Args:
        prices: optional ``{model: (dollars per prompt token, dollars per completion token)}``
            that overrides LiteLLM's cost map.
    """

    def __init__(self, prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.prices = dict(prices or {})
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict) -> CostLedger:
        return self  # a copied program keeps reporting into the same ledger

    def __len__(self) -> int:
        return len(self._records)

    def price(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Dollars for a call, or ``None`` when the model has no known price."""
        if model in self.prices:
            per_in, per_out = self.prices[model]
            return per_in * prompt_tokens + per_out * completion_tokens
        if model.startswith(LOCAL_PREFIX):
            return 0.0
        try:
            import litellm

            per_in, per_out = litellm.cost_per_token(
                model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception:  # litellm raises a bare Exception for unmapped models
            return None
        return float(per_in + per_out)

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self, role: str | None = None) -> list[CallRecord]:
        with self._lock:
            return [r for r in self._records if role is None or r.role == role]

    def summary(self, role: str | None = None) -> CostSummary:
        return summarize(self.records(role))

    def since(self, start: int) -> list[CallRecord]:
        """Records added after the ledger held ``start`` records (use ``len(ledger)`` as a mark)."""
        with self._lock:
            return list(self._records[start:])


_SCOPES: contextvars.ContextVar[tuple[list[CallRecord], ...]] = contextvars.ContextVar(
    "gcop_cost_scopes", default=()
)


@contextlib.contextmanager
def cost_scope() -> Iterator[list[CallRecord]]:
    """Collect the calls made inside this block, in this thread, into a list (nests).

    This gives a per-prediction cost even when many predictions run concurrently.
    """
    calls: list[CallRecord] = []
    token = _SCOPES.set((*_SCOPES.get(), calls))
    try:
        yield calls
    finally:
        _SCOPES.reset(token)


def record_call(ledger: CostLedger, record: CallRecord) -> None:
    """Write ``record`` to ``ledger`` and to every open :func:`cost_scope`."""
    ledger.record(record)
    for calls in _SCOPES.get():
        calls.append(record)


def net_utility(value: float, cost: float, cost_weight: float) -> float:
    """Net utility J = V − λ·C (task value minus weighted cost).

    >>> net_utility(0.9, 120.0, 0.001)
    0.78
    """
    return round(value - cost_weight * cost, 12)


def attach_cost(prediction: Any, cost: CostSummary) -> Any:
    """Give ``prediction`` a ``.cost`` attribute that is not one of its output fields.

    DSPy serialises a prediction's fields (``dspy.Evaluate(save_as_json=...)``), and a program's
    outputs should stay what the program returns; the cost rides along as metadata instead.
    """
    object.__setattr__(prediction, "cost", cost)
    return prediction
