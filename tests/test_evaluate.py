"""evaluate(): numbers computed from real (scripted) outputs, caching, η, intervals, reports."""

import math
from collections import Counter

import dspy
import pytest
from fakes import last_user_text

import gcop
from gcop.baselines.icl import ICLPolicy, TfidfEmbedder
from gcop.commands import rewrite_report
from gcop.evaluate import evaluate, wilson_interval
from gcop.lm import retries
from gcop.paired import mcnemar
from gcop.report import write_report
from gcop.signatures import MathGuide, MathSolve


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)


def answer_by_strategy(messages):
    """Right (the gold is in the question) only when the strategy says 'copy'."""
    text = last_user_text(messages)
    gold = text.split("gold=")[1].split()[0] if "copy" in text else "0"
    return f"[[ ## answer ## ]]\nThe answer is {gold}\n\n[[ ## completed ## ]]"


def metric(example, prediction, trace=None):
    return prediction.answer.rstrip(".").split()[-1] == example.gold


def dataset(n):
    return [
        dspy.Example(question=f"q{i} gold={i + 1} ?", gold=str(i + 1)).with_inputs("question")
        for i in range(n)
    ]


def policy_with(scripted_lm, guide_replies):
    guide = gcop.Guide(MathGuide, lm=scripted_lm(guide_replies).model_string)
    core_lm = scripted_lm(answer_by_strategy)
    core = gcop.Core(MathSolve, lm=core_lm.model_string)
    return gcop.GuideCorePolicy(guide=guide, core=core), core_lm


def test_accuracy_executability_and_cost_come_from_outputs(scripted_lm):
    # guide replies cycle: valid+useful, valid+useless, invalid, valid+useful
    replies = ["<strategy>copy it</strategy>", "<strategy>guess</strategy>", "no tags"]
    policy, _ = policy_with(scripted_lm, replies + ["<strategy>copy it</strategy>"])
    result = evaluate(policy, dataset(4), metric, name="guided", num_threads=1, progress=False)
    assert result.n == 4 and result.accuracy == 0.5
    assert result.valid_rate == 0.75
    assert result.executability == pytest.approx(2 / 3)
    assert result.cost.calls == 8 and result.cost.tokens > 0
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson_interval(2, 4))
    assert [r.score for r in result.results] == [1.0, 0.0, 0.0, 1.0]

    core_only = evaluate(policy.unguided(), dataset(4), metric, name="core", progress=False)
    assert core_only.accuracy == 0.0 and core_only.executability is None


def test_a_cached_run_costs_what_the_calls_cost_when_made(scripted_lm):
    """A recipe's cost must not depend on which recipe ran first: a second evaluation, served
    wholly from the cache, reports the same tokens and latency, with the savings apart."""
    policy, core_lm = policy_with(scripted_lm, ["<strategy>copy it</strategy>"])
    first = evaluate(policy, dataset(3), metric, num_threads=2, progress=False)
    calls_after_first = len(core_lm.calls)
    second = evaluate(policy, dataset(3), metric, num_threads=2, progress=False)
    assert len(core_lm.calls) == calls_after_first == 3
    assert second.accuracy == first.accuracy == 1.0
    assert (first.cost.cache_hits, first.cost.cached_tokens) == (0, 0)
    assert second.cost.cache_hits == 6 and second.cost.tokens == first.cost.tokens > 0
    assert second.cost.cached_tokens == second.cost.tokens
    assert second.mean_cost == first.mean_cost
    assert second.cost.latency_s == pytest.approx(first.cost.latency_s)
    assert second.cost.dollars == 0 and second.cost.unmetered_hits == 0


def test_wilson_bounds_solve_the_score_equation():
    """Cross-check by the interval's definition (statsmodels' "wilson" solves the same equation):
    each bound p satisfies (p̂ − p)² = z²·p(1 − p)/n, one below p̂ and one above."""
    z = 1.96
    for successes, n in [(0, 5), (1, 10), (7, 10), (20, 40), (39, 40), (40, 40), (3, 1000)]:
        low, high = wilson_interval(successes, n, z)
        share = successes / n
        assert low <= share <= high
        for bound in (low, high):
            assert (share - bound) ** 2 == pytest.approx(z * z * bound * (1 - bound) / n, abs=1e-15)
    assert wilson_interval(0, 0) == (0.0, 1.0)  # nothing scored: nothing known


def test_errors_are_counted_apart_not_as_wrong_answers():
    def flaky(question):  # the infrastructure fails on every other example
        index = int(question.split("gold=")[1].split()[0]) - 1
        if index % 2:
            raise ConnectionError("core unreachable")
        return dspy.Prediction(answer=f"The answer is {index + 1}" if index < 4 else "0")

    result = evaluate(flaky, dataset(8), metric, num_threads=1, progress=False)
    # examples 0, 2, 4, 6 ran; 0 and 2 are right, 4 and 6 wrong; 1, 3, 5, 7 errored
    assert (result.n, result.errors, result.scored) == (8, 4, 4) and not result.all_failed
    assert result.accuracy == 0.5
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson_interval(2, 4))
    assert [r.error is not None for r in result.results] == [False, True] * 4
    assert "ConnectionError: core unreachable" in result.results[1].error
    assert result.to_dict()["errors"] == 4
    with pytest.raises(ValueError, match="empty"):
        evaluate(flaky, [], metric)


def test_a_run_where_every_call_failed_says_so(scripted_lm):
    def outage(messages):
        raise ConnectionError("nobody home")

    core = gcop.Core(MathSolve, lm=scripted_lm(outage).model_string)
    policy = gcop.GuideCorePolicy(guide=None, core=core)
    result = evaluate(policy, dataset(2), metric, progress=False)
    assert result.all_failed and (result.errors, result.scored) == (2, 0)
    assert math.isnan(result.accuracy) and math.isnan(result.net_utility)
    assert all("nobody home" in r.error for r in result.results)
    assert result.cost.errors >= 2  # the failed calls are in the ledger too


def test_transient_failures_are_retried_and_exhausted_retries_are_errors(scripted_lm):
    sent = Counter()

    def flaky(messages):  # each question's first request fails; question 3's always fail
        question = last_user_text(messages).split("gold=")[1].split()[0]
        sent[question] += 1
        if sent[question] == 1 or question == "3":
            raise ConnectionError("server overloaded")
        return f"[[ ## answer ## ]]\nThe answer is {question}"

    core_lm = scripted_lm(flaky)
    policy = gcop.GuideCorePolicy(guide=None, core=gcop.Core(MathSolve, lm=core_lm.model_string))
    result = evaluate(policy, dataset(4), metric, num_threads=2, progress=False, max_retries=2)
    assert (result.scored, result.errors, result.accuracy) == (3, 1, 1.0)
    assert sent == {"1": 2, "2": 2, "3": 3, "4": 2}  # question 3: one try and two retries
    assert [r.error is None for r in result.results] == [True, True, False, True]
    assert "server overloaded" in result.results[2].error
    assert result.results[2].error.endswith("(after 3 attempts)")
    assert result.cost.errors == 3 + 3  # every failed request is in the ledger


def test_an_unparseable_reply_is_a_wrong_answer_not_an_error():
    from dspy.utils.exceptions import AdapterParseError

    def garbled(question):
        raise AdapterParseError("ChatAdapter", MathSolve, "blah blah")

    result = evaluate(garbled, dataset(2), metric, progress=False)
    assert (result.errors, result.accuracy) == (0, 0.0)
    assert result.results[0].output == "(unparseable reply) blah blah"


def test_a_core_reply_that_cannot_be_parsed_counts_against_the_strategy_it_followed(scripted_lm):
    """The record keeps the plan the core failed on, and the failure counts in executability
    (it used to vanish from both: strategy '' and the example left out as unguided)."""
    guide = gcop.Guide(MathGuide, lm=scripted_lm(["<strategy>copy it</strategy>"]).model_string)
    core_lm = scripted_lm(["no field markers here"])
    core = gcop.Core(dspy.Predict(MathSolve), core_lm.model_string)  # strict parse
    policy = gcop.GuideCorePolicy(guide=guide, core=core)
    result = evaluate(policy, dataset(2), metric, num_threads=1, progress=False)
    assert [r.strategy for r in result.results] == ["copy it", "copy it"]
    assert [r.valid for r in result.results] == [True, True]
    assert (result.valid_rate, result.executability, result.errors) == (1.0, 0.0, 0)
    assert result.results[0].output.startswith("(unparseable reply) no field markers")


def test_the_reference_ceiling_records_its_plan_when_the_core_reply_cannot_be_parsed(
    scripted_lm,
):
    from gcop.tasks.gsm8k.ceiling import ReferencePlanPolicy

    examples = [
        dspy.Example(question="q", answer="<<2*3=6>>6 <<6+1=7>>7\n#### 7", gold="7").with_inputs(
            "question"
        )
    ]
    core = gcop.Core(dspy.Predict(MathSolve), scripted_lm(["garbled"]).model_string)
    ceiling = ReferencePlanPolicy(core, examples, style="symbolic")
    result = evaluate(ceiling, examples, metric, progress=False)
    assert result.results[0].strategy == "1. A = 2*3\n2. B = A+1"
    assert (result.accuracy, result.executability) == (0.0, 0.0)


def test_icl_retrieves_the_nearest_pairs_and_shows_them(scripted_lm):
    train = [
        dspy.Example(question="apples and pears in a basket", answer="#### 5"),
        dspy.Example(question="trains leave the station at noon", answer="#### 9"),
        dspy.Example(question="a basket of apples costs money", answer="#### 3"),
        dspy.Example(question="cars on a highway", answer="#### 1"),
    ]
    core_lm = scripted_lm(["[[ ## answer ## ]]\nThe answer is 5"])
    icl = ICLPolicy(gcop.Core(MathSolve, lm=core_lm.model_string), train, shots=2)
    nearest = icl.nearest({"question": "how many apples in the basket"})
    assert [ex.answer for ex in nearest] == ["#### 5", "#### 3"]
    icl(question="how many apples in the basket")
    prompt = " ".join(m["content"] for m in core_lm.calls[0]["messages"])
    assert "apples and pears" in prompt and "trains leave" not in prompt
    vectors = TfidfEmbedder(["a b", "b c"])(["b"])
    assert list(vectors[0]) == ["b"]


def test_report_has_every_row_and_plots_and_can_be_rewritten(scripted_lm, tmp_path):
    policy, _ = policy_with(scripted_lm, ["<strategy>copy it</strategy>"])
    results = [
        evaluate(policy.unguided(), dataset(3), metric, name="core-only", progress=False),
        evaluate(policy, dataset(3), metric, name="ExecTune", progress=False),
    ]
    history = {"ExecTune": [{"step": 1, "reward": 0.1, "valid_rate": 0.5}]}
    from gcop.optimizers.acceptance.certificate import hoeffding_certificate

    certificate = hoeffding_certificate(18, 20, k=16, tau=0.75, delta=0.05, beta=0.05)
    report = write_report(tmp_path, results, certificate=certificate.to_dict(), histories=history)
    text = report.read_text()
    assert certificate.describe() in text
    assert "| core-only | 0.0% (0/3)" in text and "| ExecTune | 100.0% (3/3)" in text
    for plot in ("accuracy_vs_cost.png", "executability.png", "grpo_curves.png"):
        assert (tmp_path / plot).stat().st_size > 1000
    (tmp_path / "report.md").unlink()
    assert "| ExecTune | 100.0% (3/3)" in rewrite_report(tmp_path).read_text()


def test_a_rewritten_report_keeps_its_title_provenance_and_paired_tests(scripted_lm, tmp_path):
    policy, _ = policy_with(scripted_lm, ["<strategy>copy it</strategy>"])
    core_only = evaluate(policy.unguided(), dataset(3), metric, name="core-only", progress=False)
    guided = evaluate(policy, dataset(3), metric, name="ExecTune", progress=False)
    paired = mcnemar(
        [r.score for r in guided.results],
        [r.score for r in core_only.results],
        a="ExecTune",
        b="core-only",
    )
    assert (paired.a_only, paired.b_only) == (3, 0)
    report = write_report(
        tmp_path,
        [core_only, guided],
        title="GSM8K, 3 problems",
        provenance={"seed": 7},
        comparisons=[paired],
    )
    written = report.read_text()
    report.unlink()
    rewritten = rewrite_report(tmp_path).read_text()
    assert rewritten.startswith("# GSM8K, 3 problems\n") and "- **seed**: 7" in rewritten
    assert "## Paired tests" in rewritten and "## How the guide was used" in rewritten
    assert rewritten == written


@pytest.mark.parametrize("verdict", ["yes", "1/2", [1], 2.5])
def test_a_metric_returning_no_score_is_an_error_not_nan(scripted_lm, verdict):
    """Issue 31: a metric returning a string gave accuracy NaN (every example an 'error')."""
    policy, _ = policy_with(scripted_lm, ["<strategy>copy it</strategy>"])
    with pytest.raises((TypeError, ValueError), match=f"{verdict!r}".replace("[", r"\[")):
        evaluate(policy, dataset(2), lambda *_: verdict, num_threads=1, progress=False)
