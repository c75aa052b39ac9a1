"""What produced a result: library versions and a digest of the data it was trained on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from importlib import metadata
from typing import Any

LIBRARIES = ("dspy", "litellm", "trl", "transformers", "peft", "torch")


def library_versions() -> dict[str, str | None]:
    """gcop's version and those of the libraries it runs on (``None``: not installed), read from
    the installed packages' metadata without importing them."""
    from gcop import __version__

    versions: dict[str, str | None] = {"gcop": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def examples_digest(examples: Iterable[Any]) -> dict[str, Any]:
    """``{"n": ..., "sha256": ...}`` of a list of ``dspy.Example``: their fields and which of them
    are inputs, in order, so the same trainset gives the same digest in any process.

    >>> import dspy
    >>> one = [dspy.Example(question="1 + 1?", answer="2").with_inputs("question")]
    >>> examples_digest(one) == examples_digest(list(one))
    True
    >>> examples_digest(one)["n"], len(examples_digest(one)["sha256"])
    (1, 64)
    """
    digest = hashlib.sha256()
    n = 0
    for example in examples:
        fields = example.toDict() if hasattr(example, "toDict") else dict(example)
        inputs = sorted(getattr(example, "_input_keys", None) or [])
        row = {"fields": fields, "inputs": inputs}
        digest.update(json.dumps(row, sort_keys=True, default=str).encode() + b"\n")
        n += 1
    return {"n": n, "sha256": digest.hexdigest()}


def training_provenance(trainset: list[Any], valset: list[Any] | None) -> dict[str, Any]:
    """What a compile records beside its configuration: the library versions it trained with and
    digests of its data (see :func:`examples_digest`)."""
    return {
        "versions": library_versions(),
        "trainset": examples_digest(trainset),
        "valset": examples_digest(valset) if valset is not None else None,
    }
