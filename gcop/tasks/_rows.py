"""Shared helpers for task loaders: shipped data files, required fields, seeded subsets."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a ``.jsonl`` or ``.jsonl.gz`` file into a list of dicts."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def require(row: dict[str, Any], fields: Iterable[str], where: str) -> None:
    """Raise ``ValueError`` naming ``where`` (the row) and the first missing or empty field."""
    for field in fields:
        value = row.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(f"{where} has no {field!r} field; every row needs {sorted(fields)}")


def check_split(split: str, splits: Sequence[str], task: str) -> None:
    if split not in splits:
        raise ValueError(f"unknown {task} split {split!r}; choose one of {list(splits)}")


def check_source(source: str) -> None:
    if source not in ("auto", "shipped", "hub"):
        raise ValueError(f"source must be 'auto', 'shipped' or 'hub', got {source!r}")


def take(items: list, n: int | None, seed: int) -> list:
    """All ``items`` in order when ``n`` is None, else the first ``n`` of a ``seed``-shuffled copy
    (so the same seed gives the same, nested subsets).

    >>> take([1, 2, 3, 4], None, 0)
    [1, 2, 3, 4]
    >>> take([1, 2, 3, 4], 2, 0) == take([1, 2, 3, 4], 2, 0)
    True
    """
    if n is None:
        return list(items)
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int or None, got {n!r}")
    if n > len(items):
        raise ValueError(f"n={n} exceeds the {len(items)} examples of this split")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    return [items[i] for i in order[:n]]
