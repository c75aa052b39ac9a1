"""The guide's ``dspy.Predict``: DSPy optimizers see it, and its instructions and demos reach the
guide's prompt in inference, in training and through a saved policy."""

import json

import dspy
from fakes import last_user_text

import gcop
from gcop.optimizers.sft import sft_rows
from gcop.signatures import MathGuide, MathSolve

QUESTION = "Tom has 3 apples and buys 4 more. How many apples?"
PLAN = "1. add the two counts"


def core_reply(messages):
    """Answers 7 only when told to add; otherwise a wrong 12."""
    answer = 7 if "add the two counts" in last_user_text(messages) else 12
    return f"[[ ## answer ## ]]\nThe answer is {answer}\n\n[[ ## completed ## ]]"


def make_policy(scripted_lm, guide_reply=f"<strategy>{PLAN}</strategy>"):
    guide_lm = scripted_lm(lambda messages: guide_reply)
    guide = gcop.Guide(MathGuide, lm=guide_lm.model_string)
    core = gcop.Core(MathSolve, lm=scripted_lm(core_reply).model_string)
    return gcop.GuideCorePolicy(guide=guide, core=core), guide_lm


def test_named_predictors_list_the_guide_beside_the_core(scripted_lm):
    policy, _ = make_policy(scripted_lm)
    names = [name for name, _ in policy.named_predictors()]
    assert names == ["guide.predict", "core.program"]
    assert policy.guide.predict.signature is policy.guide.signature


def test_instructions_an_optimizer_writes_reach_the_guides_prompt(scripted_lm):
    policy, guide_lm = make_policy(scripted_lm)
    predictor = dict(policy.named_predictors())["guide.predict"]
    predictor.signature = predictor.signature.with_instructions("Plan in at most two steps.")
    policy(question=QUESTION)
    system = guide_lm.calls[0]["messages"][0]["content"]
    assert system.startswith("Plan in at most two steps.")


def test_demos_become_turns_and_incomplete_ones_are_left_out(scripted_lm):
    policy, guide_lm = make_policy(scripted_lm)
    policy.guide.predict.demos = [
        dspy.Example(question="What is 2 + 2?", strategy="1. add 2 and 2"),
        dspy.Example(question="A raw training example", answer="5"),  # no strategy: left out
    ]
    policy(question=QUESTION)
    messages = guide_lm.calls[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "What is 2 + 2?" in messages[1]["content"]
    assert messages[2]["content"] == "<strategy>\n1. add 2 and 2\n</strategy>"
    assert QUESTION in messages[3]["content"]


def test_training_prompts_are_the_inference_prompts_demos_included(scripted_lm):
    policy, _ = make_policy(scripted_lm)
    guide = policy.guide
    guide.predict.demos = [dspy.Example(question="What is 2 + 2?", strategy="1. add 2 and 2")]
    row = sft_rows(guide, [({"question": QUESTION}, PLAN)])[0]
    assert row["prompt"] == guide.messages(question=QUESTION)
    assert len(row["prompt"]) == 4
    assert guide.with_lm(guide.lm).messages(question=QUESTION) == row["prompt"]


def test_bootstrap_few_shot_bootstraps_a_demo_for_the_guide(scripted_lm):
    policy, guide_lm = make_policy(scripted_lm)
    trainset = [dspy.Example(question=QUESTION, answer="7").with_inputs("question")]

    def right(example, prediction, trace=None):
        return prediction.answer.endswith(example.answer)

    optimizer = dspy.BootstrapFewShot(metric=right, max_bootstrapped_demos=1, max_labeled_demos=0)
    compiled = optimizer.compile(policy, trainset=trainset)

    demos = compiled.guide.predict.demos
    assert len(demos) == 1 and demos[0].question == QUESTION and demos[0].strategy == PLAN
    assert policy.guide.predict.demos == []  # the student is left as it was
    compiled(question="Ann has 2 pens and buys 5 more. How many pens?")
    sent = guide_lm.calls[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]


def test_a_saved_policy_keeps_the_guides_instructions_and_demos(scripted_lm, tmp_path):
    policy, _ = make_policy(scripted_lm)
    guide = policy.guide
    guide.predict.signature = guide.signature.with_instructions("Plan in two steps.")
    guide.predict.demos = [dspy.Example(question="What is 2 + 2?", strategy="1. add 2 and 2")]
    policy.save(tmp_path / "run")
    fresh, fresh_lm = make_policy(scripted_lm)

    fresh.load(tmp_path / "run")

    assert fresh.guide.signature.instructions == "Plan in two steps."
    assert fresh.guide.predict.demos[0]["strategy"] == "1. add 2 and 2"
    fresh(question=QUESTION)
    assert len(fresh_lm.calls[0]["messages"]) == 4


def test_a_policy_file_without_the_guides_program_loads_as_before(scripted_lm, tmp_path):
    policy, _ = make_policy(scripted_lm)
    policy.save(tmp_path / "run")
    path = tmp_path / "run" / "policy.json"
    saved = json.loads(path.read_text())
    del saved["guide_program"]
    saved["format_version"] = 2
    path.write_text(json.dumps(saved))
    fresh, _ = make_policy(scripted_lm)
    fresh.guide.predict.demos = [dspy.Example(question="What is 2 + 2?", strategy="add")]

    fresh.load(tmp_path / "run")

    assert fresh.guide.predict.demos[0]["strategy"] == "add"
    assert fresh.guide.signature.instructions == MathGuide.instructions
