"""Local models load from many threads at once in a fresh process (transformers' lazy imports)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

LOAD_AT_ONCE = """
import sys, threading
import torch
from gcop.lm.local_folder import load_model, load_tokenizer

folder = sys.argv[1]
barrier = threading.Barrier(8)
errors = []

def load(i):
    barrier.wait()
    try:
        if i % 2:
            load_tokenizer(folder)
        else:
            load_model(folder, "cpu", torch.float32)
    except Exception as error:
        errors.append(repr(error))

threads = [threading.Thread(target=load, args=(i,)) for i in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
if errors:
    sys.exit(f"{len(errors)} of 8 loads failed: {errors[0]}")
"""


def test_models_and_tokenizers_load_from_eight_threads_at_once_in_fresh_processes(tmp_path):
    from gcop.lm.tiny import tiny_model

    model, tokenizer = tiny_model(seed=0)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    def fresh_process(_: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", LOAD_AT_ONCE, str(tmp_path)], capture_output=True, text=True
        )

    # without the lock, every one of 4 such processes failed (7 of 8 loads in each)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(fresh_process, range(2)))
    failures = [run.stderr.strip().splitlines()[-1] for run in runs if run.returncode != 0]
    assert failures == []
