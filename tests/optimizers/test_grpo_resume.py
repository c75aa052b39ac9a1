"""GRPO checkpoints: a stopped or killed run resumes where it stopped, with the same step count."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from training_fakes import (
    KEYWORD,
    StopAt,
    exact_metric,
    examples,
    half_keyword_guide,
    keyword_core,
    small_config,
    tiny_guide,
)

from gcop.optimizers.grpo.reward_history import HISTORY_FILE, restore_reward_history
from gcop.optimizers.grpo.trainer import train_grpo

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py


def says_add(strategy, example):
    return float(KEYWORD in strategy)


def lora(guide):
    return {
        k: v.detach().clone() for k, v in guide.local_lm.model.state_dict().items() if "lora_" in k
    }


def config_in(folder, steps):
    return small_config(
        lambda_judge=0.0,
        grpo_core_share=0.0,
        grpo_steps=steps,
        grpo_save_steps=1,
        grpo_checkpoint_dir=str(folder),
    )


def test_a_stopped_run_resumes_from_its_checkpoint_and_continues_the_steps(scripted_lm, tmp_path):
    core, _ = keyword_core(scripted_lm)
    start = half_keyword_guide()
    run = dict(metric=exact_metric, plan_verifier=says_add)
    first, summary = train_grpo(
        start, core, examples(), config=config_in(tmp_path, 4), callbacks=[StopAt(2)], **run
    )
    assert summary["steps"] == 2 and any(row["reward"] > 0 for row in summary["history"])
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    saved = tmp_path / "checkpoint-2"
    for name in ("optimizer.pt", "scheduler.pt", "trainer_state.json", "adapter_model.safetensors"):
        assert (saved / name).is_file(), name
    assert list(saved.glob("rng_state*.pth"))

    stopped_rows, stopped_s = summary["history"], summary["train_time_s"]
    resumed, summary = train_grpo(start, core, examples(), config=config_in(tmp_path, 4), **run)
    assert summary["steps"] == 4
    # steps 1-2 were not redone, and the summary still reports them: the whole run's curve
    assert [row["step"] for row in summary["history"]] == [1, 2, 3, 4]
    assert summary["history"][:2] == stopped_rows
    assert summary["steps_logged"] == 4 and summary["train_time_s"] > stopped_s
    after_stop, after_resume = lora(first), lora(resumed)
    assert any(not torch.equal(after_stop[k], after_resume[k]) for k in after_stop)

    straight, _ = train_grpo(
        start, core, examples(), config=config_in(tmp_path / "straight", 4), **run
    )
    # the resumed run is the same as one that never stopped (weights, optimizer, data order, RNG)
    for name, value in lora(straight).items():
        torch.testing.assert_close(after_resume[name], value, rtol=1e-4, atol=1e-6)


def test_a_checkpoint_killed_while_saving_is_passed_over_for_the_one_before(scripted_lm, tmp_path):
    core, _ = keyword_core(scripted_lm)
    run = dict(metric=exact_metric, plan_verifier=says_add)
    train_grpo(half_keyword_guide(), core, examples(), config=config_in(tmp_path, 2), **run)
    # killed after transformers wrote checkpoint-2 and before gcop's reward rows went into it
    (tmp_path / "checkpoint-2" / HISTORY_FILE).unlink()
    _, summary = train_grpo(
        half_keyword_guide(), core, examples(), config=config_in(tmp_path, 3), **run
    )
    # resumed from checkpoint-1: step 2 trained again, no row lost (before: rows of step 3 only)
    assert [row["step"] for row in summary["history"]] == [1, 2, 3]
    assert (tmp_path / "checkpoint-3" / HISTORY_FILE).is_file()


CHILD = """
import sys, time
sys.path[:0] = [{tests!r}, {here!r}]
import torch
from transformers import TrainerCallback
from fakes import ScriptedLM
import gcop
from gcop.signatures import MathSolve
from training_fakes import examples, exact_metric, keyword_core_reply, small_config, tiny_guide
from gcop.optimizers.grpo.trainer import train_grpo

class Slow(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(0.3)  # time for the parent to kill it mid-run

core = gcop.Core(MathSolve, lm=ScriptedLM(keyword_core_reply).model_string)
config = small_config(lambda_judge=0.0, grpo_core_share=0.0, grpo_steps=40, grpo_save_steps=1,
                      grpo_checkpoint_dir={folder!r})
train_grpo(tiny_guide(), core, examples(), metric=exact_metric, config=config,
           plan_verifier=lambda s, ex: float("add" in s), callbacks=[Slow()])
"""


def test_a_killed_process_resumes_from_its_last_checkpoint(scripted_lm, tmp_path):
    here = Path(__file__).parent
    script = CHILD.format(tests=str(here.parent), here=str(here), folder=str(tmp_path))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (tmp_path / "checkpoint-3" / "trainer_state.json").exists():
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "the child wrote no checkpoint in time"
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    last = max(int(p.name.split("-")[1]) for p in tmp_path.glob("checkpoint-*"))
    assert 3 <= last < 40

    core, _ = keyword_core(scripted_lm)
    config = config_in(tmp_path, last + 2)
    resumed, summary = train_grpo(
        tiny_guide(), core, examples(), metric=exact_metric, config=config, plan_verifier=says_add
    )
    assert summary["steps"] == last + 2
    assert [row["step"] for row in summary["history"]] == list(range(1, last + 3))
    assert (tmp_path / f"checkpoint-{last + 2}" / "optimizer.pt").is_file()


def test_a_checkpoint_without_reward_rows_resumes_with_the_new_rows_only(tmp_path, caplog):
    reward_fn = SimpleNamespace(history=[{"step": 3}])
    (tmp_path / "checkpoint-2").mkdir()
    assert restore_reward_history(reward_fn, str(tmp_path / "checkpoint-2")) == 0.0
    assert reward_fn.history == [{"step": 3}]
    assert "covers the resumed steps" in caplog.text
