"""The main job end to end on the tiny preset, the CLI's errors, and the examples."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gcop.cli import main
from gcop.presets import PRESETS

PRESET_TINY = PRESETS["tiny"]

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ["core-only", "core + ICL", "None (untrained guide)", "SFT", "Advisor", "ExecTune"]


def test_tiny_demo_writes_a_report_with_all_six_recipes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--preset", "tiny", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "**SFT**: skipped (no accepted strategies)" in report  # the tiny core accepts none
    for recipe in RECIPES:
        assert f"| {recipe} |" in report
    data = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in data["results"]] == RECIPES
    for row in data["results"]:
        scores = [item["score"] for item in row.get("results", [])] or None
        assert row["n"] == 4 and 0.0 <= row["accuracy"] <= 1.0
        assert row["cost"]["calls"] > 0  # numbers come from real calls
        assert scores is None or row["accuracy"] == sum(scores) / len(scores)
    guided = [r for r in data["results"] if r["name"] not in ("core-only", "core + ICL")]
    assert all(r["valid_rate"] is not None for r in guided)
    assert (out / "accuracy_vs_cost.png").exists()
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    for row in data["results"]:
        mine = [e for e in examples if e["recipe"] == row["name"]]
        scored = [e["score"] for e in mine if e["error"] is None]
        assert len(mine) == 4 and row["accuracy"] == sum(scored) / len(scored)
    reasons = {e["recipe"]: set() for e in examples}
    for e in examples:
        reasons[e["recipe"]].add(e["reason"])
    assert reasons["core-only"] == {"unguided"}
    assert all("" not in reasons[r["name"]] for r in guided)  # why each plan was sent or not
    assert (out / "exectune_policy" / "policy.json").exists()
    assert not (tmp_path / "demo.partial").exists()
    setup = data["setup"]
    assert 0 < setup["training (s)"] and 0 < setup["evaluation (s)"]
    assert setup["training (s)"] + setup["evaluation (s)"] <= setup["wall time (s)"] + 0.2
    assert setup["peak memory (GB)"] > 0.1
    core = data["provenance"]["models"]["core-only"]["core"]
    assert " batches, " in setup[f"decoding, {core}"]  # the core served every row
    assert data["training"]["acceptance"]["wall_time_s"] > 0
    # one configuration block, the settings the run used (no second, contradicting copy)
    recorded = data["provenance"]
    assert "config" not in recorded and recorded["preset"]["teacher"] == "reference-planner"
    assert recorded["preset"]["exectune"]["privileged_teacher"] is True
    assert recorded["preset"]["exectune"]["judge"] == setup["judge"]
    shown = capsys.readouterr().err  # one progress display for the evaluation phase
    assert "evaluate 6 programs" in shown and "evaluate core-only" not in shown


def test_cli_rejects_bad_input_without_leaving_files(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main(["demo", "--preset", "tiny", "--out", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert a_file.read_text() == "x"
    args = ["evaluate", "--task", "nope", "--core", "local/x", "--out", str(tmp_path / "e")]
    assert main(args) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
    args = ["evaluate", "--core", "notaprovider-xyz", "--out", str(tmp_path / "e2"), "--n", "1"]
    assert main(args) == 2
    assert "cannot route" in capsys.readouterr().err
    assert not (tmp_path / "e").exists() and not (tmp_path / "e2").exists()


def test_unknown_preset_is_a_value_error(tmp_path):
    from gcop.demo import run_demo

    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        run_demo("huge", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_help_explains_each_command():
    out = subprocess.run(
        [sys.executable, "-m", "gcop.cli", "demo", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--preset" in out.stdout and "quick" in out.stdout


def test_humaneval_example_runs_offline_on_tiny_models():
    out = subprocess.run(
        [
            sys.executable,
            "examples/humaneval.py",
            "--guide",
            "tiny",
            "--core",
            "tiny",
            "--n",
            "2",
            "--max-tokens",
            "16",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "core-only: pass@1" in out.stdout and "guided: pass@1" in out.stdout


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="needs OPENAI_API_KEY")
def test_wrap_dspy_program_example_with_an_api_core():
    out = subprocess.run(
        [sys.executable, "examples/wrap_dspy_program.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def test_cli_evaluate_writes_a_report_from_real_runs(tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["evaluate", "--core", "tiny", "--n", "2", "--threads", "2", "--out", str(out), "--json"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n"] == 2 and printed["cost"]["calls"] == 2
    assert "| core-only |" in (out / "report.md").read_text()


def test_interrupted_demo_resumes_without_repeating_acceptance(tmp_path, monkeypatch):
    from gcop.demo import run_demo
    from gcop.optimizers.exectune import ExecTune

    real_sft = ExecTune._sft

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C right after acceptance sampling

    out = tmp_path / "demo"
    monkeypatch.setattr(ExecTune, "_sft", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_demo("tiny", out, recipes=("SFT",))
    records = tmp_path / "demo.partial" / "acceptance" / "records.jsonl"
    assert records.stat().st_size > 0  # finished trials were kept

    monkeypatch.setattr(ExecTune, "_sft", real_sft)
    run_demo("tiny", out, recipes=("SFT",))
    acceptance = json.loads((out / "results.json").read_text())["training"]["acceptance"]
    assert acceptance["core_calls"] == 0 and acceptance["teacher_calls"] == 0
    assert acceptance["reused_trials"] > 0
    assert not (tmp_path / "demo.partial").exists()


def test_interrupted_demo_reuses_the_guides_it_trained(tmp_path, monkeypatch):
    from gcop.baselines.advisor import Advisor
    from gcop.demo import run_demo
    from gcop.optimizers.exectune import ExecTune

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C once ExecTune's guides are trained, during Advisor

    out = tmp_path / "demo"
    recipes = ("SFT", "Advisor", "ExecTune")
    monkeypatch.setattr(Advisor, "compile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_demo("tiny", out, recipes=recipes)
    partial = tmp_path / "demo.partial"
    assert (partial / "exectune_policy" / "policy.json").is_file()
    assert (partial / "sft_policy" / "policy.json").is_file()
    trained = json.loads((partial / "exectune_policy" / "policy.json").read_text())

    monkeypatch.undo()
    monkeypatch.setattr(ExecTune, "compile", interrupted)  # must not be needed again
    run_demo("tiny", out, recipes=recipes)
    data = json.loads((out / "results.json").read_text())
    assert [row["name"] for row in data["results"]] == list(recipes)
    history = data["training"]["grpo"]["history"]
    assert len(history) == trained["artifacts"]["grpo"]["steps"] > 0  # the first run's training
    assert data["training"]["advisor"]["steps"] > 0
    exectune = json.loads((out / "exectune_policy" / "policy.json").read_text())
    assert exectune["guide_files"] == trained["guide_files"]  # the same weights, not retrained


def test_a_rerun_with_other_settings_does_not_reuse_guides_trained_with_the_old(tmp_path):
    from gcop.demo import run_demo

    partial = tmp_path / "demo.partial"
    (partial / "exectune_policy").mkdir(parents=True)
    (partial / "preset.json").write_text(json.dumps({"n_train": 999}))
    with pytest.raises(ValueError, match="exectune_policy.*other settings .*n_train.* delete"):
        run_demo("tiny", tmp_path / "demo")
    assert json.loads((partial / "preset.json").read_text()) == {"n_train": 999}

    shutil.rmtree(partial / "exectune_policy")  # nothing trained left: the run starts over there
    run_demo("tiny", tmp_path / "demo", recipes=("core-only",))
    assert (tmp_path / "demo" / "report.md").exists() and not partial.exists()


def test_a_preset_sets_how_local_models_are_served(tmp_path, monkeypatch):
    from gcop.demo import run_demo
    from gcop.lm import resolve
    from gcop.lm.local import LocalLM
    from gcop.presets import DemoPreset

    served = []
    real = resolve.resolve_lm

    def recording(lm, role, **settings):
        resolved = real(lm, role, **settings)
        if isinstance(resolved, LocalLM):
            served.append((role, resolved.dtype, resolved._batcher.max_batch_size))
        return resolved

    monkeypatch.setattr(resolve, "resolve_lm", recording)
    settings = {"dtype": "float32", "max_batch_size": 2}
    run_demo("tiny", tmp_path / "demo", recipes=("core-only",), local_lm=settings)
    assert set(served) == {("core", "float32", 2), ("guide", "float32", 2)}
    with pytest.raises(ValueError, match="unknown setting.*'threads'"):
        DemoPreset.model_validate({**PRESET_TINY.model_dump(), "local_lm": {"threads": 2}})


def test_a_demo_can_keep_the_cores_answer_where_a_sampled_plan_backs_it(tmp_path):
    from gcop.demo import run_demo

    out = tmp_path / "demo"
    settings = {"guide_samples": 2, "min_agreement": 0.5, "keep_core_answer": True}
    run_demo("tiny", out, recipes=("core-only", "None (untrained guide)"), **settings)
    report = (out / "report.md").read_text()
    assert "the core's own answer stands where one of them leads to it" in report
    rows = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert len([row for row in rows if row["recipe"] == "None (untrained guide)"]) == 4
    with pytest.raises(ValueError, match="set guide_samples above 1"):
        run_demo("tiny", tmp_path / "other", keep_core_answer=True)


def test_a_preset_without_grpo_trains_no_grpo(tmp_path):
    from gcop.demo import run_demo

    out = tmp_path / "demo"
    exectune = PRESET_TINY.exectune.model_copy(update={"grpo": False}).model_dump()
    run_demo("tiny", out, recipes=("ExecTune",), exectune=exectune)
    training = json.loads((out / "results.json").read_text())["training"]
    assert training["grpo"] is None and training["acceptance"]["total"] == 4


def test_paired_comparisons_leave_out_examples_that_errored():
    from gcop.cost import CostSummary
    from gcop.demo_results import paired_comparisons
    from gcop.evaluate import EvaluationResult, ExampleResult

    def result(name, scores, errors=()):
        rows = [
            ExampleResult(i, s, None, "", "", CostSummary(), "Timeout" if i in errors else None)
            for i, s in enumerate(scores)
        ]
        return EvaluationResult(
            name=name, n=len(rows), accuracy=0.0, ci_low=0.0, ci_high=1.0, executability=None,
            valid_rate=None, cost=CostSummary(), cost_unit="tokens", cost_weight=0.0, results=rows,
        )  # fmt: skip

    ours = result("ExecTune", [1, 1, 1, 0])
    base = result("core-only", [0, 0, 0, 0], errors={0, 1})
    (test,) = paired_comparisons([ours, base])
    assert (test.a, test.b, test.a_only, test.b_only) == ("ExecTune", "core-only", 1, 0)


def test_a_demo_guide_sampling_several_plans_abstains_where_they_disagree(tmp_path):
    """The tiny guide writes no plan that works out, so with two samples per task it never
    agrees with itself: every task is left to the core alone, after two guide calls. The
    render setting (GSM8K's calculator) reaches the core, and the ceiling row reads symbolic
    reference plans."""
    from gcop.demo import run_demo
    from gcop.demo_results import CEILING

    out = tmp_path / "demo"
    run_demo(
        "tiny",
        out,
        recipes=("None (untrained guide)",),
        guide_samples=2,
        teacher="symbolic-planner",
        render=True,
        ceiling=True,
    )
    report = (out / "report.md").read_text()
    assert "2 plans sampled per task" in report and "plans rendered by the gsm8k kit" in report
    rows = {r["name"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    assert rows["None (untrained guide)"]["valid_rate"] == 0.0
    assert rows["None (untrained guide)"]["cost"]["calls"] == 4 * (2 + 1)  # 2 samples, 1 core
    ceiling = [json.loads(line) for line in (out / "examples.jsonl").open()]
    assert all(" = " in e["strategy"] for e in ceiling if e["recipe"] == CEILING)


def test_gsm8k_offline_example_runs_on_the_tiny_preset(tmp_path):
    out = subprocess.run(
        [sys.executable, "examples/gsm8k_offline.py", "--preset", "tiny", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["name"] for r in results] == list(RECIPES) and "| ExecTune |" in out.stdout


def test_a_demo_trains_on_one_task_and_evaluates_on_another(tmp_path):
    """The code preset's shape at tiny size: MBPP's training split, HumanEval's test problems
    scored in the sandbox, the ceiling row planned by the code teacher from the reference."""
    from gcop.demo import run_demo
    from gcop.demo_results import CEILING
    from gcop.tasks.code import humaneval

    out = tmp_path / "demo"
    run_demo(
        "tiny",
        out,
        task="mbpp",
        eval_task="humaneval",
        teacher="code-planner",
        recipes=("core-only",),
        ceiling=True,
        n_test=2,
    )
    report = (out / "report.md").read_text()
    assert "ExecTune on humaneval" in report
    assert "4 mbpp train examples / 2 humaneval test examples" in report
    rows = {r["name"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    assert set(rows) == {"core-only", CEILING} and all(r["n"] == 2 for r in rows.values())
    problems = humaneval.load("test", n=2, seed=0)
    plans = [json.loads(line) for line in (out / "examples.jsonl").open()]
    plans = {e["index"]: e["strategy"] for e in plans if e["recipe"] == CEILING}
    for index, problem in enumerate(problems):  # a plan in words: no line of the reference
        code = [line.strip() for line in problem.canonical_solution.splitlines()]
        assert plans[index] and not any(len(line) > 12 and line in plans[index] for line in code)


def test_a_demo_refuses_an_eval_task_with_other_signatures(tmp_path):
    from gcop.demo import run_demo

    with pytest.raises(ValueError, match="another guide signature .* evaluate on a task with"):
        run_demo("tiny", tmp_path / "demo", eval_task="humaneval")


def test_a_demo_evaluates_a_saved_policy_on_its_slice_beside_what_it_trained(tmp_path):
    from gcop.demo import run_demo
    from gcop.presets import PolicySettings
    from gcop.tasks import gsm8k

    saved = tmp_path / "trained-guide"
    settings = PolicySettings(samples=2, min_agreement=0.5, core_max_tokens=24)
    gsm8k.TASK.policy("tiny", "tiny", settings).save(saved)
    out = tmp_path / "demo"
    run_demo("tiny", out, recipes=("core-only",), saved_policies=(str(saved),))
    data = json.loads((out / "results.json").read_text())
    row = next(r for r in data["results"] if r["name"] == "saved policy trained-guide")
    assert row["n"] == 4 and row["cost"]["calls"] > row["n"]  # guide samples and core calls
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    mine = [e for e in examples if e["recipe"] == row["name"]]
    assert row["accuracy"] == sum(e["score"] for e in mine) / 4
    assert all(e["reason"] != "unguided" for e in mine)  # its guide ran, with its saved kit
    pairs = [(c["a"], c["b"]) for c in data["comparisons"]]
    assert ("saved policy trained-guide", "core-only") in pairs
    assert data["setup"]["saved policy trained-guide"] == str(saved)


def test_a_demo_refuses_a_saved_policy_that_is_not_there_before_any_work(tmp_path):
    from gcop.demo import run_demo

    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match="saved policy .*nowhere not found.*GuideCorePolicy.save"):
        run_demo("tiny", tmp_path / "demo", saved_policies=(str(missing),))
    assert not (tmp_path / "demo.partial").exists() and not (tmp_path / "demo").exists()
    with pytest.raises(ValueError, match="folders of different names"):
        run_demo("tiny", tmp_path / "demo", saved_policies=("a/guide", "b/guide"))


def test_the_demo_command_takes_saved_policies_and_the_shipped_one_is_there(monkeypatch):
    from gcop.modules.policy_file import read_policy_folder

    calls = []
    monkeypatch.setattr("gcop.demo.run_demo", lambda *a, **kw: calls.append(kw) or Path(__file__))
    shipped = "policies/gsm8k-1.5b-guide"  # the README's command runs from the repository root
    main(["demo", "--saved-policy", shipped, "--saved-policy", "other"])
    main(["demo"])
    assert [kw["saved_policies"] for kw in calls] == [(shipped, "other"), None]
    assert read_policy_folder(ROOT / shipped).guided
