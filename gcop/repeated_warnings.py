"""Warnings that dependencies repeat (DSPy's "response was truncated", once per reply) shown once
each, with a count of the rest at the end of a command."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

PREFIX_CHARS = 60  # messages that agree this far are the same warning


class ShownOnce(logging.Filter):
    """Lets the first record of each kind (logger, level, message start) through and counts the
    others.

    >>> shown = ShownOnce()
    >>> record = lambda text: logging.LogRecord("dspy", logging.WARNING, "", 0, text, None, None)
    >>> text = "LM response was truncated due to exceeding max_tokens=64. Reply {}"
    >>> [shown.filter(record(text.format(n))) for n in (1, 2, 3)]
    [True, False, False]
    >>> shown.left_out()
    2
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[tuple[str, int, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage()[:PREFIX_CHARS])
        self.counts[key] += 1
        return self.counts[key] == 1

    def left_out(self) -> int:
        """How many records were held back as repeats."""
        return sum(count - 1 for count in self.counts.values())


@contextmanager
def warnings_shown_once(*loggers: str) -> Iterator[ShownOnce]:
    """One :class:`ShownOnce` on each named logger while the block runs (their records stop at
    the filter before any handler), removed after it: the next command counts afresh."""
    shown = ShownOnce()
    for name in loggers:
        logging.getLogger(name).addFilter(shown)
    try:
        yield shown
    finally:
        for name in loggers:
            logging.getLogger(name).removeFilter(shown)
