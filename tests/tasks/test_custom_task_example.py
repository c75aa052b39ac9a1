"""examples/custom_task.py: the README's own-task example runs, as code and through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import gcop
from gcop.tasks import load_task

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_task.py"


@pytest.fixture
def custom_task(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    return load_task("custom_task:TASK")


def test_the_readme_shows_the_example_as_it_is_tested():
    code = EXAMPLE.read_text().split('"""', 2)[2].strip()
    assert code in (ROOT / "README.md").read_text()


def test_the_example_tasks_kit_agrees_on_plans_and_verifies_them(custom_task, scripted_lm):
    plans = ["<strategy>7 is odd, so no</strategy>", "<strategy>Say no.</strategy>", "x"]
    guide, core = scripted_lm(plans), scripted_lm(["no"])
    settings = gcop.tasks.task.PolicySettings(samples=3, min_agreement=0.6)
    policy = custom_task.policy(guide.model_string, core.model_string, settings)
    plan = policy.guide(question="Is 7 even?")
    assert (plan.valid, plan.agreement, plan.sample_keys.count("no")) == (True, 2 / 3, 2)
    prediction = policy(question="Is 7 even?")
    assert prediction.valid and prediction.strategy in ("7 is odd, so no", "Say no.")
    example = custom_task.load("test", n=2)[1]  # "Is 41 even?"
    assert custom_task.kit.verifier("41 is odd, so no.", example) == 1.0
    assert custom_task.kit.verifier("Say yes.", example) == 0.0
    assert custom_task.metric(example, prediction)


def test_gcop_compile_runs_the_example_task(tmp_path, monkeypatch, capsys):
    from gcop.cli import main

    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    out = tmp_path / "run"
    args = ["compile", "--task", "custom_task:TASK", "--core", "tiny", "--guide", "tiny"]
    args += ["--teacher", "tiny", "--n-train", "3", "--k", "2", "--grpo-steps", "0", "--json"]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    saved = json.loads(capsys.readouterr().out)
    assert saved["acceptance"]["cost"]["teacher"]["calls"] >= 3
    inference = json.loads((out / "policy.json").read_text())["inference"]
    assert inference["kit"]["name"] == "parity" and inference["kit"]["verifier"] is True


def test_the_example_runs_as_a_script():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()  # the tiny core's answer, whatever it is
