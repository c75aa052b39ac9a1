"""A real kill: acceptance sampling in another process, SIGKILLed once records are written, then
rerun here. The rerun reuses every finished record, recomputes none of them, and ends as an
uninterrupted run does."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dspy
from acceptance_fakes import (
    Backend,
    core_answer,
    example,
    make_policy,
    metric,
    teacher_for,
    teacher_reply,
    trainset,
)

from gcop.optimizers.acceptance.run import run_acceptance
from gcop.optimizers.acceptance.store import FOLDER, RECORDS_FILE, SUMMARY_FILE
from gcop.optimizers.config import ExecTuneConfig

TESTS = Path(__file__).resolve().parent.parent
CORE_LATENCY_S = 0.08  # slow enough to kill mid-run, fast enough for a short test
KILL_AT_LINES = 8  # of about 40 records in a whole run

# the killed process: the same run as `run` below, with its own backends of the same names
CHILD = f"""
import sys
sys.path[:0] = [{str(TESTS)!r}, {str(TESTS / "optimizers")!r}]
import dspy
dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
from test_acceptance_kill import run
run(sys.argv[1], sys.argv[2], sys.argv[3])
"""


def run(run_dir, core_name, teacher_name):
    """(result, core backend, teacher backend) of one acceptance run, no DSPy cache."""
    core = Backend(core_answer, name=core_name, latency_s=CORE_LATENCY_S)
    teacher = Backend(teacher_reply, name=teacher_name)
    try:
        policy = make_policy(core.model_string, teacher.model_string, cache=False)
        result = run_acceptance(
            policy,
            trainset(5) + [example(7, 8, "impossible ")],
            teacher_lm=teacher_for(policy, teacher.model_string, cache=False),
            metric=metric,
            config=ExecTuneConfig(max_rounds=1, concurrency=2),
            run_dir=run_dir,
        )
    finally:
        core.close()
        teacher.close()
    return result, core, teacher


def whole_records(path: Path) -> list[dict]:
    """The records a rerun can read: every whole line (a kill may cut the last one short)."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return records


def kill_after_records(run_dir: Path, names: tuple[str, str]) -> list[dict]:
    """Start the run in a child process, SIGKILL it once it has written some records, and
    return the records it left."""
    log = run_dir / FOLDER / RECORDS_FILE
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(run_dir), *names],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (log.exists() and log.read_bytes().count(b"\n") >= KILL_AT_LINES):
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the child wrote no records in 60 s"
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert not (run_dir / FOLDER / SUMMARY_FILE).exists()  # killed mid-run, not after it
    return whole_records(log)


def outcome(result) -> list:
    return [(p.example_index, p.round, p.verdict, p.strategy) for p in result.proposals]


def test_a_sigkilled_run_resumes_without_recomputing_finished_records(tmp_path):
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    suffix = uuid.uuid4().hex[:8]
    reference, ref_core, ref_teacher = run(None, f"core-ref-{suffix}", f"teacher-ref-{suffix}")

    names = (f"core-kill-{suffix}", f"teacher-kill-{suffix}")
    stored = kill_after_records(tmp_path, names)
    trials = sum(r["kind"] == "trial" for r in stored)
    proposals = sum(r["kind"] == "proposal" for r in stored)
    assert trials > 0 and proposals > 0

    resumed, core, teacher = run(tmp_path, *names)
    assert resumed.reused_trials == trials and resumed.reused_proposals == proposals
    assert len(core.calls) == resumed.core_calls == len(ref_core.calls) - trials
    assert len(teacher.calls) == len(ref_teacher.calls) - proposals
    assert outcome(resumed) == outcome(reference)
    assert [a.example.question for a in resumed.accepted] == [
        a.example.question for a in reference.accepted
    ]
    assert resumed.certificate == reference.certificate
