"""write_report: errors and denominators in the table, cache savings, certificates, provenance."""

import json

import dspy

import gcop
from gcop.evaluate import evaluate
from gcop.report import results_table, write_report


def questions(n):
    return [dspy.Example(question=str(i), gold=str(i)).with_inputs("question") for i in range(n)]


def metric(example, prediction, trace=None):
    return prediction.answer == example.gold


def echo(question):
    return dspy.Prediction(answer=question if int(question) % 3 else "wrong")


def unreachable(question):
    raise ConnectionError("nobody home")


def half_down(question):
    if int(question) % 2:
        raise TimeoutError("core timed out")
    return echo(question)


def row(text, name):
    return next(line for line in text.splitlines() if line.startswith(f"| {name} |"))


def test_table_states_the_denominator_and_the_errors(tmp_path):
    results = [
        evaluate(echo, questions(6), metric, name="healthy", progress=False),
        evaluate(half_down, questions(6), metric, name="flaky", progress=False),
        evaluate(unreachable, questions(6), metric, name="offline", progress=False),
    ]
    text = write_report(tmp_path, results).read_text()
    # healthy: 0 and 3 wrong; flaky: 1, 3, 5 errored, 0 wrong, 2 and 4 right
    assert row(text, "healthy").startswith("| healthy | 66.7% (4/6) | ")
    assert row(text, "flaky").startswith("| flaky | 66.7% (2/3) | ")
    assert row(text, "offline").startswith("| offline | – (0/0) | – | 6 | ")
    assert [r.errors for r in results] == [0, 3, 6]
    assert "**Every example of offline failed with an error" in text
    assert "healthy" not in text.split("**Every example of")[1].split("**")[0]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [(r["n"], r["errors"]) for r in saved["results"]] == [(6, 0), (6, 3), (6, 6)]


def test_cache_savings_have_their_own_column(scripted_lm):
    reply = "[[ ## answer ## ]]\nThe answer is 3\n\n[[ ## completed ## ]]"
    core = gcop.Core(gcop.signatures.MathSolve, lm=scripted_lm([reply]).model_string)
    policy = gcop.GuideCorePolicy(guide=None, core=core)
    first = evaluate(policy, questions(2), metric, name="first", progress=False)
    again = evaluate(policy, questions(2), metric, name="again", progress=False)
    table = results_table([first, again])
    per_task = f"{first.cost.tokens / 2:,.0f} tokens/task"
    assert row(table, "first").count("| 0/2 calls, 0 tokens/task |") == 1
    assert f"| 2/2 calls, {per_task} |" in row(table, "again")
    assert first.mean_cost == again.mean_cost > 0


def test_a_stored_certificate_with_a_negative_alpha_bound_reads_clipped(tmp_path):
    old = {  # as an older gcop stored it: α_LB below 0, no bound, no suggested_m
        "alpha_hat": 0.1,
        "alpha_lb": -0.287,
        "epsilon": 0.612,
        "delta": 0.05,
        "beta": 0.05,
        "k": 4,
        "tau": 0.75,
        "m": 10,
        "n_accepted": 1,
        "bound": None,
        "non_vacuous": False,
        "suggested_k": None,
    }
    results = [evaluate(echo, questions(3), metric, name="x", progress=False)]
    text = write_report(tmp_path, results, certificate=old).read_text()
    reading = text.split("## Acceptance-sampling certificate")[1].split("\n- **")[0]
    assert "α ≥ 0.00" in reading and "-0.29" not in reading and "vacuous" in reading
    assert "4453 decided proposals (not 10) with k = 79" in reading


def test_provenance_is_recorded_with_the_versions(tmp_path):
    results = [evaluate(echo, questions(3), metric, name="x", progress=False)]
    models = {"guide": "local/smollm2-135m-guide-sft-1a2b3c4d", "core": "local/qwen2.5-coder-0.5b"}
    config = gcop.ExecTuneConfig(k=2, tau=0.5)
    provenance = {"config": config, "models": models, "seed": 7}
    text = write_report(tmp_path, results, title="T", provenance=provenance).read_text()
    saved = json.loads((tmp_path / "results.json").read_text())
    recorded = saved["provenance"]
    assert recorded["versions"]["gcop"] == gcop.__version__
    assert recorded["versions"]["dspy"] == dspy.__version__
    assert recorded["config"] == config.model_dump(mode="json")
    assert (recorded["config"]["k"], recorded["models"], recorded["seed"]) == (2, models, 7)
    assert saved["title"] == "T"
    section = text.split("## Provenance")[1].split("## Plots")[0]
    assert f"gcop {gcop.__version__}" in section and models["guide"] in section
    assert "  - **tau**: 0.5" in section and "- **seed**: 7" in section
    assert "```" not in text  # settings read as lists, not JSON dumps
    again = write_report(tmp_path, results, provenance=recorded)  # a rebuilt report keeps it
    assert json.loads((tmp_path / "results.json").read_text())["provenance"] == recorded
    assert again.exists()


def test_grpo_curves_put_each_recipes_reward_on_its_own_axis(tmp_path):
    """ExecTune's shaped reward and the Advisor's task reward are on different scales: one
    panel each above the shared valid-rate panel (issue 30.6)."""
    from matplotlib.image import imread

    from gcop.report_plots import plot_training_curves

    rows = [
        {"step": 1, "reward": 1.1, "valid_rate": 1.0},
        {"step": 2, "reward": 0.6, "valid_rate": 1.0},
    ]
    one = imread(plot_training_curves({"ExecTune": rows}, tmp_path / "one.png"))
    two = imread(plot_training_curves({"ExecTune": rows, "Advisor": rows}, tmp_path / "two.png"))
    assert one.shape[1] == two.shape[1] and two.shape[0] == one.shape[0] * 3 // 2
