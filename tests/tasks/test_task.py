"""gcop.Task: a task written by a user (here, in this file) runs through the same path as
gcop's own; every entry point builds a task's policy the same way."""

import dspy
import pytest

import gcop
from gcop.signatures import MathGuide, MathSolve
from gcop.tasks import load_task
from gcop.tasks.task import PolicySettings


def parity_metric(example, prediction, trace=None) -> bool:
    return str(example.answer) in str(getattr(prediction, "answer", prediction))


def load_parity(split: str = "train", n: int | None = None, seed: int = 0) -> list:
    examples = [
        dspy.Example(question=f"Is {i} even?", answer="yes" if i % 2 == 0 else "no").with_inputs(
            "question"
        )
        for i in range(8)
    ]
    return examples[:n] if n else examples


def last_word(strategy: str) -> str | None:
    words = strategy.split()
    return words[-1].strip(".").lower() if words else None


PARITY = gcop.Task(
    name="parity",
    load=load_parity,
    guide_signature=MathGuide,
    core_signature=MathSolve,
    metric=parity_metric,
    kit=gcop.StrategyKit("parity", consensus=last_word),
)


def test_a_users_task_is_loaded_by_its_module_path_and_runs(scripted_lm):
    task = load_task("test_task:PARITY")
    assert task is PARITY
    guide = scripted_lm(["<strategy>Check the last digit: answer yes.</strategy>"])
    core = scripted_lm(["yes"])
    policy = task.policy(guide.model_string, core.model_string)
    examples = task.load("dev", n=2)
    scores = [task.metric(ex, policy(question=ex.question)) for ex in examples]
    assert scores == [True, False]  # the core says "yes" to 0 and to 1
    assert policy.kit.name == "parity" and policy.kit.samples == 1


def test_a_kit_a_task_lacks_is_refused_with_its_name(scripted_lm):
    with pytest.raises(ValueError, match="its kit has no render"):
        PARITY.policy(None, scripted_lm(["yes"]).model_string, PolicySettings(render=True))
    humaneval = load_task("humaneval")
    with pytest.raises(ValueError, match="'humaneval': its kit has no consensus"):
        humaneval.policy(None, "openai/any", PolicySettings(samples=3))


def test_teacher_names_are_checked_against_the_tasks_own(tmp_path, monkeypatch):
    gsm8k = load_task("gsm8k")
    gsm8k.check_teacher("symbolic-planner")
    gsm8k.check_teacher("openai/gpt-4.1-mini")  # a LiteLLM string is the provider's to check
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-teacher").mkdir()
    gsm8k.check_teacher("my-teacher")  # a local model folder
    with pytest.raises(ValueError, match="unknown teacher 'symbolic-planer'.*symbolic-planner"):
        gsm8k.check_teacher("symbolic-planer")
    with pytest.raises(ValueError, match="plans for another task and cannot read 'humaneval'"):
        load_task("humaneval").check_teacher("reference-planner")


def test_the_cli_and_the_demo_build_the_same_gsm8k_policy():
    """`gcop compile/evaluate --preset quick` and the demo's quick preset run the same
    configuration: the same models, core format, token budgets and kit."""
    from gcop.commands import _task_policy
    from gcop.demo import demo_policy
    from gcop.presets import PRESETS

    preset = PRESETS["tiny"]
    demo = demo_policy(preset)
    cli = _task_policy(load_task("gsm8k"), preset.guide, preset.core, "tiny")
    for policy in (demo, cli):
        assert policy.kit == demo.kit
    assert (cli.core.adapter, cli.guide.token_budget) == (
        demo.core.adapter,
        demo.guide.token_budget,
    )
    assert cli.core.lm.kwargs == demo.core.lm.kwargs and cli.guide.lm.kwargs == demo.guide.lm.kwargs
    assert cli.core.lm.model == demo.core.lm.model and cli.guide.lm.model == demo.guide.lm.model
    quick = PRESETS["quick"]
    settings = quick.policy_settings()
    kit = load_task("gsm8k").policy_kit(settings)
    assert (kit.samples, kit.min_agreement) == (quick.guide_samples, quick.min_agreement)
    assert (kit.render is not None, kit.answer_key is not None) == (
        quick.render,
        quick.keep_core_answer,
    )


def test_the_cli_refuses_an_unknown_task_or_teacher_before_any_work(tmp_path, capsys):
    from gcop.cli import main

    code = main(["evaluate", "--task", "nope", "--core", "tiny", "--out", str(tmp_path / "x")])
    assert code == 2 and "unknown task 'nope'" in capsys.readouterr().err
    args = ["compile", "--core", "tiny", "--teacher", "refrence-planner", "--out", str(tmp_path)]
    assert main(args) == 2
    assert "unknown teacher 'refrence-planner'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
