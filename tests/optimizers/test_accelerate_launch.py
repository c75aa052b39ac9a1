"""examples/train_guide.py as docs/scaling.md runs it: acceptance and SFT once, then SFT and GRPO
data-parallel under ``accelerate launch --num_processes 2``, on the CPU (gloo), tiny models."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "examples/train_guide.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], tmp_path: Path) -> None:
    """Run ``command`` offline on the CPU, one torch thread per process."""
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_OFFLINE_MODE": "true",
        "DSPY_CACHEDIR": str(tmp_path / "dspy-cache"),
    }
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]


def process_records(run_dir: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((run_dir / "processes").glob("*"))]


def fingerprint(model_name: str) -> str:
    return model_name.rpartition("-")[2]


@pytest.mark.slow
def test_sft_and_grpo_run_data_parallel_on_two_processes(tmp_path):
    run_dir = tmp_path / "run"
    run([sys.executable, SCRIPT, "--tiny", "--sft-only", "--run-dir", str(run_dir)], tmp_path)
    [alone] = process_records(run_dir)
    assert (alone["processes"], alone["saved"], alone["grpo"]) == (1, True, None)
    assert alone["acceptance"]["teacher_calls"] > 0 and alone["sft"]["n_pairs"] > 0

    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    launch += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    launch += ["--dynamo_backend", "no", "--main_process_port", str(free_port())]
    run([*launch, SCRIPT, "--tiny", "--run-dir", str(run_dir)], tmp_path)

    records = process_records(run_dir)
    assert [r["rank"] for r in records] == [0, 1]
    for record in records:
        assert (record["processes"], record["backend"], record["device"]) == (2, "gloo", "cpu")
        # the acceptance decisions of the first run are reused: no teacher or core call
        assert record["acceptance"]["teacher_calls"] == record["acceptance"]["core_calls"] == 0
        assert record["grpo"]["steps"] == 4
    assert [r["saved"] for r in records] == [True, False]  # the main process alone saves

    # one model, trained together: the same weights on both processes after each phase
    sft, grpo = {r["sft"]["model"] for r in records}, {r["grpo"]["model"] for r in records}
    assert len(sft) == len(grpo) == 1
    [sft], [grpo] = sft, grpo
    assert grpo.startswith(f"{sft}-grpo-") and fingerprint(grpo) != fingerprint(sft)
    # the pairs were split between the processes: other SFT updates than the lone run took
    assert fingerprint(sft) != fingerprint(alone["sft"]["model"])

    saved = json.loads((run_dir / "policy" / "policy.json").read_text())
    assert saved["guide_model"] == f"local/{grpo}"
    adapter = load_file(run_dir / "policy" / "guide" / "adapter" / "adapter_model.safetensors")
    trained = [weights for name, weights in adapter.items() if "lora_B" in name]
    assert trained and all(bool(torch.any(weights != 0)) for weights in trained)  # B starts at 0
