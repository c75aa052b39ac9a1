"""GuideCorePolicy, Guide and Core against scripted fake LMs."""

import dspy
import pytest
from fakes import last_user_text

import gcop
from gcop.modules.strategy_adapter import STRATEGY_HEADER
from gcop.signatures import MathGuide, MathSolve

QUESTION = "Tom has 3 apples and buys 4 more. How many apples?"


def core_reply(messages):
    """Answers 7 only when told to add; otherwise a wrong 12."""
    text = last_user_text(messages)
    answer = 7 if "add the two counts" in text else 12
    return f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"


def make_policy(scripted_lm, guide_reply="<strategy>1. add the two counts</strategy>"):
    guide_lm = scripted_lm([guide_reply])
    core_lm = scripted_lm(core_reply)
    guide = gcop.Guide(MathGuide, lm=guide_lm.model_string)
    core = gcop.Core(MathSolve, lm=core_lm.model_string)
    return gcop.GuideCorePolicy(guide=guide, core=core), guide_lm, core_lm


def test_guided_prediction_carries_strategy_answer_and_cost(scripted_lm):
    policy, guide_lm, core_lm = make_policy(scripted_lm)
    pred = policy(question=QUESTION)
    assert pred.valid is True
    assert pred.strategy == "1. add the two counts"
    assert pred.answer == "The answer is 7"
    assert pred.cost.calls == 2
    assert pred.cost.dollars == 0.0
    sent = last_user_text(core_lm.calls[0]["messages"])
    assert STRATEGY_HEADER in sent and QUESTION in sent
    assert QUESTION in last_user_text(guide_lm.calls[0]["messages"])


def test_invalid_strategy_never_reaches_the_core(scripted_lm):
    policy, _, core_lm = make_policy(scripted_lm, guide_reply="just add them")
    pred = policy(question=QUESTION)
    assert pred.valid is False and pred.reason == "no <strategy> block"
    assert STRATEGY_HEADER not in last_user_text(core_lm.calls[0]["messages"])
    assert pred.answer == "The answer is 12"


def test_unguided_mode_skips_the_guide(scripted_lm):
    policy, guide_lm, _ = make_policy(scripted_lm)
    pred = policy.unguided()(question=QUESTION)
    assert guide_lm.calls == []
    assert pred.answer == "The answer is 12" and pred.cost.calls == 1


def test_with_core_swaps_the_lm_and_keeps_the_guide(scripted_lm):
    policy, guide_lm, core_lm = make_policy(scripted_lm)
    other_core = scripted_lm(["[[ ## answer ## ]]\nThe answer is 99"])
    swapped = policy.with_core(other_core.model_string)
    assert swapped(question=QUESTION).answer == "The answer is 99"
    assert swapped.guide.lm.model == policy.guide.lm.model
    assert core_lm.calls == [] and len(other_core.calls) == 1
    assert policy.core.lm.model == core_lm.model_string  # the original is untouched


def test_wraps_an_existing_multi_predictor_program(scripted_lm):
    class TwoStep(dspy.Module):
        def __init__(self):
            super().__init__()
            self.draft = dspy.Predict("question -> draft")
            self.final = dspy.Predict("question, draft -> answer")

        def forward(self, question):
            draft = self.draft(question=question).draft
            return self.final(question=question, draft=draft)

    def reply(messages):
        text = last_user_text(messages)
        assert STRATEGY_HEADER in text  # every predictor sees the strategy
        field = "answer" if "[[ ## draft ## ]]" in text else "draft"
        return f"[[ ## {field} ## ]]\n{field}-text\n\n[[ ## completed ## ]]"

    core_lm = scripted_lm(reply)
    guide_lm = scripted_lm(["<strategy>think twice</strategy>"])
    users_program = TwoStep()
    policy = gcop.GuideCorePolicy(
        guide=gcop.Guide(MathGuide, lm=guide_lm.model_string),
        core=users_program,
        core_lm=core_lm.model_string,
    )
    pred = policy(question=QUESTION)
    assert pred.answer == "answer-text" and pred.strategy == "think twice"
    assert len(core_lm.calls) == 2
    assert users_program.draft.lm is None  # the user's object is not modified


def test_lenient_parse_keeps_unformatted_replies(scripted_lm):
    core_lm = scripted_lm(["We add 3 and 4. The answer is 7"])
    core = gcop.Core(MathSolve, lm=core_lm.model_string)
    assert core(question=QUESTION).answer == "We add 3 and 4. The answer is 7"


def test_trials_with_rollout_ids_are_not_collapsed_by_the_cache(scripted_lm):
    core_lm = scripted_lm(["[[ ## answer ## ]]\n1", "[[ ## answer ## ]]\n2"])
    core = gcop.Core(MathSolve, lm=core_lm.model_string, temperature=0.7)
    for trial in range(2):
        core(question=QUESTION, lm_kwargs={"rollout_id": trial})
    core(question=QUESTION, lm_kwargs={"rollout_id": 0})  # a repeat: served from the cache
    assert len(core_lm.calls) == 2
    summary = core.ledger.summary("core")
    assert summary.calls == 3 and summary.cache_hits == 1


def test_works_inside_dspy_evaluate_and_parallel(scripted_lm):
    policy, _, _ = make_policy(scripted_lm)
    examples = [
        dspy.Example(question=f"{QUESTION} ({i})", gold="7").with_inputs("question")
        for i in range(4)
    ]

    def metric(example, pred, trace=None):
        return pred.answer.endswith(example.gold)

    result = dspy.Evaluate(devset=examples, metric=metric, num_threads=2)(policy)
    assert result.score == 100.0
    outputs = dspy.Parallel(num_threads=2)([(policy, ex) for ex in examples])
    assert all(out.valid for out in outputs)


def test_save_and_load_round_trip(scripted_lm, tmp_path):
    policy, _, _ = make_policy(scripted_lm)
    policy.artifacts["certificate"] = {"bound": 0.5}
    policy.save(tmp_path / "run")
    fresh, _, _ = make_policy(scripted_lm)
    fresh.guided = False
    fresh.load(tmp_path / "run")
    assert fresh.guided is True
    assert fresh.artifacts == {"certificate": {"bound": 0.5}}
    assert fresh.core.lm.model == policy.core.lm.model


def test_bad_inputs_raise_clear_errors(scripted_lm, tmp_path):
    with pytest.raises(ValueError, match="core_lm"):
        gcop.GuideCorePolicy(guide=None, core=dspy.Predict("question -> answer"))
    with pytest.raises(ValueError, match="cannot route"):
        gcop.Core(MathSolve, lm="nonsense-provider-xyz")
    with pytest.raises(ValueError, match="no local model"):
        gcop.Core(MathSolve, lm="local/never-registered")
    policy, _, _ = make_policy(scripted_lm)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        policy.save(tmp_path / "file")


def test_non_strict_policy_sends_an_unparsed_completion_to_the_core(scripted_lm):
    policy, _, core_lm = make_policy(scripted_lm, guide_reply="just add the two counts")
    policy.strict = False
    pred = policy(question=QUESTION)
    assert pred.valid is False and pred.strategy == "just add the two counts"
    assert "just add the two counts" in last_user_text(core_lm.calls[0]["messages"])
    assert pred.answer == "The answer is 7"
