"""scripts/demo.sh, the README's main job: which command it runs (with gcop and the setup
replaced by stubs that print or do nothing)."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = "policies/gsm8k-1.5b-guide"


@pytest.fixture
def demo_script(tmp_path):
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    (tmp_path / "scripts" / "setup.sh").write_text("exit 0\n")
    gcop = tmp_path / ".venv" / "bin" / "gcop"
    gcop.parent.mkdir(parents=True)
    gcop.write_text('#!/bin/sh\necho "$@"\n')
    gcop.chmod(0o755)

    def run(*args: str, **env: str) -> str:
        command = ["bash", str(tmp_path / "scripts" / "demo.sh"), *args]
        done = subprocess.run(command, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.decode().strip()

    return run


def test_the_main_job_evaluates_the_shipped_guide_beside_its_own_training(demo_script):
    assert demo_script() == f"demo --preset quick --saved-policy {SHIPPED}"
    assert demo_script("--out", "x") == f"demo --preset quick --saved-policy {SHIPPED} --out x"
    assert (REPO / SHIPPED / "policy.json").is_file()


def test_the_shipped_guide_can_be_left_out_or_replaced(demo_script):
    assert demo_script(GCOP_SAVED_POLICY="") == "demo --preset quick"
    assert demo_script("--saved-policy", "b") == "demo --preset quick --saved-policy b"
    assert demo_script(GCOP_PRESET="tiny") == "demo --preset tiny"  # the smoke run stays small
