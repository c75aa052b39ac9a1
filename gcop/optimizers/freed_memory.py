"""Keep the C heap small: hand what a finished training run freed back to the operating system
(``release_freed_memory``), and keep threads on few heaps (``cap_heap_arenas``).

A trainer frees its activations, gradients and sampled batches into the C heap, and glibc keeps
most of those pages for reuse instead of returning them, so a process that trains and then
evaluates carries the training's peak into the evaluation. The `evidence` demo trains three
guides and then evaluates seven recipes at once in one process; cold, it was killed for memory
at 24.3 GB, holding ~14 GB when evaluation began (docs/evidence.md §5d); with this, 9.0 GB, and
the run finished. ``malloc_trim(0)`` returns the free pages at once: 1.45 GB of 4.85 GB after
three SFT steps of the 0.5B guide. Elsewhere than glibc only Python's collector runs.
"""

from __future__ import annotations

import ctypes
import gc

M_ARENA_MAX = -8  # mallopt's parameter number for the arena cap (glibc's malloc.h)


def cap_heap_arenas(arenas: int = 2) -> bool:
    """Let at most ``arenas`` C heaps serve this process's threads; whether glibc took it.

    glibc gives each new thread its own heap (arena) up to eight per core, and each keeps the
    pages its thread freed. A GRPO run of the 1.5B guide with the core in-process (a DSPy
    thread pool, the batcher's worker, torch's threads) grew from 18.3 to 22.3 GB resident in
    12 steps and neared this 24 GB machine's limit; resumed under a cap of two it held 14.1 to
    14.9 GB over the next ten steps (docs/engine.md). Threads that already have a heap keep it,
    so call this before the work starts threads (the CLI does, first thing)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return False
    return bool(libc.mallopt(M_ARENA_MAX, int(arenas)))


def release_freed_memory() -> bool:
    """Collect garbage, then return free heap pages to the OS; whether glibc released any."""
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, Windows, musl)
        return False
    return bool(libc.malloc_trim(0))
