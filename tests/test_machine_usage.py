"""What a run reports of its machine use: peak memory and the local models' decoding."""

import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from gcop.lm.local import LocalLM
from gcop.machine_usage import local_decoding


def test_peak_memory_counts_what_the_process_held():
    script = (
        "from gcop.machine_usage import peak_memory_gb\n"
        "before = peak_memory_gb()\n"  # imports alone may have peaked high: go 0.4 GB above it
        "block = b'x' * (int(before * 1e9) + 400_000_000)\n"
        "del block\n"
        "print(before, peak_memory_gb())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    before, after = map(float, done.stdout.split())
    assert before > 0.01 and after >= before + 0.4  # the block, freed by now, still counts


def test_local_decoding_reports_the_served_models_that_generated():
    name = f"test-usage-{uuid.uuid4().hex[:8]}"
    lm = LocalLM("tiny", name=name, batch_wait_s=0.0)
    idle = LocalLM("tiny", name=name + "-idle", batch_wait_s=0.0)
    lm.complete([{"role": "user", "content": "hi"}], max_tokens=6)
    lines = local_decoding([lm.model_string, lm.model_string, idle.model_string, "openai/x"])
    assert list(lines) == [lm.model_string]  # once; the idle model and API models left out
    assert lines[lm.model_string].startswith(f"{lm.stats.batches} batches, 1 rows")
    assert f"{lm.stats.waste:.0%} of decoded row-steps" in lines[lm.model_string]
    assert "in flight" not in lines[lm.model_string]  # nothing was shared
    lm.close()
    assert local_decoding([lm.model_string]) == {}  # no longer served


def test_local_decoding_counts_requests_that_joined_one_in_flight():
    lm = LocalLM("tiny", name=f"test-usage-{uuid.uuid4().hex[:8]}", batch_wait_s=0.5)
    barrier = threading.Barrier(3)

    def ask(_: int):
        barrier.wait()
        return lm.complete([{"role": "user", "content": "hi"}], max_tokens=6)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(ask, range(3)))
    line = local_decoding([lm.model_string])[lm.model_string]
    assert line.startswith(f"{lm.stats.batches} batches, 1 rows")
    assert line.endswith("; 2 requests answered by an identical one in flight")
    lm.close()
