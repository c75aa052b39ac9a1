"""A server that lets requests time out twice in a row is not asked again at once.

Without this a hung server holds a run for one timeout per request and per retry: 100 examples,
3 retries and a 30 s timeout wait 100 minutes on a server that will never answer. One timeout
may be a lost request, so the next request is still sent (a retry usually succeeds); after
``STRIKES`` timeouts in a row, later requests fail at once with :class:`ServerNotAnswering`, which
gcop's retry loop does not retry, so a run over a hung server ends about two timeouts after it
began. Every ``PROBE_EVERY_S`` one request is let through to see whether the server is back; any
answer clears the count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

STRIKES = 2  # timeouts in a row after which a server is not asked again at once
PROBE_EVERY_S = 60.0  # how long such a server is left alone before one request tries it

_LOCK = threading.Lock()


@dataclass
class _Timeouts:
    in_a_row: int = 0
    last: float = 0.0  # monotonic time of the last timeout (or probe)


_SERVERS: dict[str, _Timeouts] = {}


class ServerNotAnswering(TimeoutError):
    """A request refused without being sent: its server let the requests before it time out."""


def is_timeout(error: BaseException) -> bool:
    """True when ``error`` (or what it wraps) is a request timing out, on any client's route.

    >>> is_timeout(TimeoutError("read timed out")), is_timeout(ValueError("bad"))
    (True, False)
    """
    return _wraps(error, _timed_out)


def refused_unsent(error: BaseException) -> bool:
    """True when ``error`` is, or wraps, a :class:`ServerNotAnswering`."""
    return _wraps(error, lambda seen: isinstance(seen, ServerNotAnswering))


def check(server: str) -> None:
    """Raise :class:`ServerNotAnswering` when ``server`` timed out ``STRIKES`` times in a row
    and is not due for a probe."""
    now = time.monotonic()
    with _LOCK:
        state = _SERVERS.get(server)
        if state is None or state.in_a_row < STRIKES:
            return
        if now - state.last >= PROBE_EVERY_S:
            state.last = now  # this request probes; the others keep failing at once
            return
        ago = now - state.last
    raise ServerNotAnswering(
        f"{server} let {STRIKES} requests in a row time out (the last {ago:.0f} s ago), so this "
        f"request was not sent; it is tried again {PROBE_EVERY_S:.0f} s after the last timeout"
    )


def record(server: str, error: BaseException | None) -> None:
    """Note how a request to ``server`` ended: a timeout counts, an answer clears the count."""
    with _LOCK:
        if error is None:
            _SERVERS.pop(server, None)
        elif is_timeout(error) and not refused_unsent(error):
            state = _SERVERS.setdefault(server, _Timeouts())
            state.in_a_row += 1
            state.last = time.monotonic()


def forget(server: str | None = None) -> None:
    """Clear the count of ``server`` (of every server when ``None``)."""
    with _LOCK:
        if server is None:
            _SERVERS.clear()
        else:
            _SERVERS.pop(server, None)


def _timed_out(error: BaseException) -> bool:
    name = type(error).__name__
    return isinstance(error, TimeoutError) or ("Timeout" in name and "Lock" not in name)


def _wraps(error: BaseException, test: Callable[[BaseException], bool]) -> bool:
    seen: BaseException | None = error
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        if test(seen):
            return True
        visited.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return False
