"""What a run used of the machine: the process's peak memory and how full its local batches were.

The demo writes both into its report, so a run that nearly exhausted memory, or decoded mostly
padding, says so without a profiler.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Iterable

from gcop.lm import provider
from gcop.lm.generation import BatchStats


def peak_memory_gb() -> float:
    """The most resident memory this process has held so far, in GB (10⁹ bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9  # macOS counts bytes


def local_decoding(model_strings: Iterable[str]) -> dict[str, str]:
    """For each in-process model among ``model_strings`` (``local/<name>``) that has generated:
    its batches, rows, the share of decoded row-steps that kept no token (a reply cut at a stop
    string) and the requests that joined an identical one in flight, all counted since the model
    was created."""
    lines = {}
    for model in dict.fromkeys(model_strings):
        if not model.startswith(f"{provider.PROVIDER}/"):
            continue
        try:
            backend = provider.get_backend(model)
        except ValueError:
            continue  # no longer served
        stats = getattr(backend, "stats", None)
        if isinstance(stats, BatchStats) and stats.batches:
            lines[model] = (
                f"{stats.batches} batches, {stats.rows} rows, "
                f"{stats.waste:.0%} of decoded row-steps kept no token"
            )
            shared = getattr(backend, "shared_requests", 0)
            if shared:
                lines[model] += f"; {shared} requests answered by an identical one in flight"
    return lines
