"""Training hands the heap memory it freed back to the OS before evaluation starts."""

import platform
import subprocess
import sys
import textwrap

import pytest
from training_fakes import QUESTIONS, exact_metric, examples, keyword_core, small_config, tiny_guide

from gcop.optimizers import sft
from gcop.optimizers.grpo import trainer as grpo

FRAGMENTED_HEAP = textwrap.dedent(
    """
    import psutil, torch
    from gcop.optimizers.freed_memory import release_freed_memory

    blocks = [torch.ones(16_000) for _ in range(8_000)]  # 64 KB each: on the heap, 512 MB
    last = blocks[-1]  # alive above the rest, so free() cannot shrink the heap by itself
    del blocks
    before = psutil.Process().memory_info().rss
    released = release_freed_memory()
    print(before - psutil.Process().memory_info().rss, released)
    """
)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_pages_go_back_to_the_os():
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, check=True
    ).stdout.split()
    returned, released = int(out[0]), out[1]
    assert released == "True"
    assert returned > 256 * 2**20  # most of the 512 MB freed


THREAD_HEAPS = textwrap.dedent(
    """
    import ctypes, sys, tempfile, threading
    from gcop.optimizers.freed_memory import cap_heap_arenas

    capped = cap_heap_arenas(2) if sys.argv[1] == "cap" else None
    start, kept = threading.Barrier(8), []

    def allocate():
        start.wait()  # all eight threads alive at once: each wants its own heap
        kept.append([bytearray(4096) for _ in range(200)])

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile(suffix=".xml") as report:
        stream = libc.fopen(report.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        print(open(report.name).read().count("<heap nr="), capped)
    """
)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_capped_arenas_keep_new_threads_on_two_heaps():
    def heaps(mode: str) -> tuple[int, str]:
        out = subprocess.run(
            [sys.executable, "-c", THREAD_HEAPS, mode], capture_output=True, text=True, check=True
        ).stdout.split()
        return int(out[0]), out[1]

    uncapped, _ = heaps("free")
    capped, took = heaps("cap")
    assert uncapped > 2  # without the cap the threads spread over several heaps
    assert capped <= 2 and took == "True"


def calls_to_release(monkeypatch, module) -> list[int]:
    calls = []
    monkeypatch.setattr(module, "release_freed_memory", lambda: calls.append(1) or True)
    return calls


def test_sft_releases_freed_memory_when_done(monkeypatch):
    calls = calls_to_release(monkeypatch, sft)
    sft.train_sft(tiny_guide(), [({"question": q}, "1. add") for q in QUESTIONS], small_config())
    assert calls == [1]


def test_grpo_releases_freed_memory_when_done(monkeypatch, scripted_lm):
    calls = calls_to_release(monkeypatch, grpo)
    core, _ = keyword_core(scripted_lm)
    config = small_config(grpo_steps=1, lambda_judge=0.0)
    grpo.train_grpo(tiny_guide(), core, examples(), metric=exact_metric, config=config)
    assert calls == [1]
