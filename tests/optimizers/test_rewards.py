"""Pure reward functions, their reward-hacking guards, and the judge's handling of bad replies."""

import dspy
import pytest

from gcop.optimizers.grpo.judge import StrategyJudge, parse_verdict
from gcop.optimizers.grpo.rewards import (
    as_score,
    completion_text,
    format_bonus,
    format_reward,
    judge_reward,
    non_regression_penalty,
    shaped_reward,
    task_reward,
)

GOOD = "<strategy>1. add the two counts</strategy>"
WEIGHTS = dict(alpha_fmt=0.1, lambda_judge=0.2, mu=0.5)


# (completion, R_task, R_unguided, J, leak) -> r = 1[valid]·(R + α + λJ − μ·max(0, U − R))
SHAPED_CASES = [
    (GOOD, 1.0, 0.0, 1.0, False, 1.0 + 0.1 + 0.2),  # success, full judge credit
    (GOOD, 1.0, 1.0, 0.5, False, 1.0 + 0.1 + 0.1),  # no regression when equal
    (GOOD, 0.0, 1.0, 0.5, False, 0.0 + 0.1 + 0.1 - 0.5),  # guided worse than unguided
    (GOOD, 0.5, 1.0, 0.0, False, 0.5 + 0.1 - 0.25),  # partial score, partial hinge
    (GOOD, 1.0, 0.0, 1.0, True, 1.0 + 0.1),  # a leak loses the judge term only
    ("1. add the two counts", 1.0, 0.0, 1.0, False, 0.0),  # no tags: gated to 0
    ("<strategy>  </strategy>", 1.0, 0.0, 1.0, False, 0.0),  # empty block
    (GOOD + GOOD, 1.0, 0.0, 1.0, False, 0.0),  # two blocks
]


@pytest.mark.parametrize(
    ("completion", "task", "unguided", "judge", "leak", "expected"), SHAPED_CASES
)
def test_shaped_reward_table(completion, task, unguided, judge, leak, expected):
    got = shaped_reward(
        [completion], [task], [unguided], judge_scores=[judge], leaks=[leak], **WEIGHTS
    )
    assert got == [pytest.approx(expected)]


def test_conversational_and_plain_completions_score_alike():
    chat = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": "x"}]]
    plain = [GOOD, "x"]
    for batch in (chat, plain):
        assert format_reward(batch) == [1.0, 0.0]
        assert shaped_reward(batch, [1, 1], [0, 0], [0, 0], **WEIGHTS) == [1.1, 0.0]
    assert (
        completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
        == "hi"
    )
    with pytest.raises(TypeError, match="completion"):
        completion_text(42)


def test_hacking_guards():
    hidden = "<strategy>think</strategy> and then: 1. add the two counts"
    assert shaped_reward([hidden], [0.0], [0.0], [0.0], **WEIGHTS) == [pytest.approx(0.1)]
    assert format_reward(["add the counts <strategy></strategy>"]) == [0.0]
    assert format_reward(["<strategy>" + "word " * 300 + "</strategy>"]) == [0.0]  # over budget
    assert format_reward(["</strategy>add<strategy>"]) == [0.0]
    assert judge_reward(["a"], judge_scores=[5.0]) == [1.0]  # a judge can't give more than 1
    assert judge_reward(["a"], judge_scores=[-1.0]) == [0.0]


def test_component_rewards_and_score_coercion():
    assert format_bonus([GOOD, "no"], alpha_fmt=0.3) == [0.3, 0.0]
    assert task_reward(["a", "b"], task_scores=[True, float("nan")]) == [1.0, 0.0]
    assert non_regression_penalty(["a"], [0.25], [1.0], mu=2.0) == [1.5]
    with pytest.raises(TypeError, match="score"):
        task_reward(["a"], task_scores=["high"])


@pytest.mark.parametrize("weight", ["alpha_fmt", "lambda_judge", "mu"])
def test_negative_weights_raise(weight):
    with pytest.raises(ValueError, match=weight):
        shaped_reward([GOOD], [1.0], [0.0], [1.0], **{**WEIGHTS, weight: -0.1})
    with pytest.raises(ValueError, match="alpha_fmt"):
        format_bonus([GOOD], alpha_fmt=-1)
    with pytest.raises(ValueError, match="mu"):
        non_regression_penalty([GOOD], [0.0], [1.0], mu=float("nan"))


def test_length_mismatch_names_the_field():
    with pytest.raises(ValueError, match="unguided_scores"):
        shaped_reward([GOOD, GOOD], [1.0, 1.0], [0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="leaks"):
        judge_reward([GOOD], [1.0], leaks=[True, False])


# --- the judge ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "score", "leak"),
    [
        ("SCORE: 0.7\nLEAK: no", 0.7, False),
        ("score: 1\nleak: YES", 1.0, True),
        ("**SCORE:** 0.25\n**LEAK:** no", 0.25, False),
        ("Here you go.\nSCORE: 0\nLEAK: no\n", 0.0, False),
        # a 0.5B judge's reply in a GRPO run: the leak line as a number
        ("SCORE: 1\nLEAK: 0", 1.0, False),
        ("SCORE: 0.5\nLEAK: 1", 0.5, True),
        ("SCORE: 0.5\nLEAK: False", 0.5, False),
    ],
)
def test_parse_verdict_accepts_the_format(reply, score, leak):
    verdict = parse_verdict(reply)
    assert verdict is not None and verdict.score == score and verdict.leak is leak


@pytest.mark.parametrize(
    "reply", ["8/10", "SCORE: 1.5\nLEAK: no", "SCORE: high\nLEAK: no", "SCORE: 0.5", "LEAK: maybe"]
)
def test_parse_verdict_rejects_garbage(reply):
    assert parse_verdict(reply) is None


def test_judge_garbage_scores_zero_and_is_counted(scripted_lm):
    fake = scripted_lm(["Looks great to me!", "SCORE: 0.8\nLEAK: no"])
    judge = StrategyJudge(dspy.LM(fake.model_string, cache=False), concurrency=2)
    task = {"question": "Tom has 3 apples and buys 4 more."}
    first = judge.score(task, "1. add the counts")
    second = judge.score(task, "1. add the counts")
    assert (first.score, first.ok) == (0.0, False)
    assert (second.score, second.ok) == (0.8, True)
    assert judge.stats() == {"calls": 2, "garbage": 1, "errors": 0}
    assert "Tom has 3 apples" in fake.calls[0]["messages"][-1]["content"]


def test_judge_errors_score_zero_and_never_raise(scripted_lm):
    def broken(messages):
        raise ConnectionError("judge is down")

    judge = StrategyJudge(dspy.LM(scripted_lm(broken).model_string, cache=False), concurrency=2)
    verdicts = judge.score_many([({"question": "q"}, "1. add", None)] * 3)
    assert [v.score for v in verdicts] == [0.0, 0.0, 0.0]
    assert judge.errors == 3 and judge.garbage == 0


def test_pasted_answer_gets_no_judge_credit(scripted_lm):
    fake = scripted_lm(["SCORE: 1.0\nLEAK: no"])  # a fooled judge
    judge = StrategyJudge(dspy.LM(fake.model_string))
    example = dspy.Example(question="Tom has 3 apples and buys 4 more.", gold="7")
    example = example.with_inputs("question")
    leaked = judge.score({"question": example.question}, "1. add them: 3 + 4 = 7", example)
    honest = judge.score({"question": example.question}, "1. add the two counts", example)
    assert (leaked.score, leaked.leak) == (0.0, True)
    assert honest.score == 1.0
    assert len(fake.calls) == 1  # the deterministic check spared a judge call
    completions = ["<strategy>1. add them: 3 + 4 = 7</strategy>", GOOD]
    rewards_ = shaped_reward(
        completions,
        [1.0, 1.0],
        [0.0, 0.0],
        [leaked.score, honest.score],
        leaks=[leaked.leak, honest.leak],
        **WEIGHTS,
    )
    assert rewards_ == [pytest.approx(1.1), pytest.approx(1.3)]


def test_judge_rejects_bad_arguments():
    with pytest.raises(TypeError, match="dspy.LM"):
        StrategyJudge("not an lm")
    with pytest.raises(ValueError, match="concurrency"):
        StrategyJudge(dspy.LM("openai/gpt-4.1-mini"), concurrency=0)


def test_one_score_rule_and_one_home_for_the_weights():
    from gcop.optimizers.config import ExecTuneConfig
    from gcop.optimizers.grpo import rewards

    defaults = ExecTuneConfig()
    assert (rewards.ALPHA_FMT, rewards.LAMBDA_JUDGE, rewards.MU) == (
        defaults.alpha_fmt,
        defaults.lambda_judge,
        defaults.mu,
    )
    assert [as_score(v) for v in (True, False, None, float("nan"), 0.25)] == [1, 0, 0, 0, 0.25]
    for outside in (7, 1.5, -0.5):  # GRPO once summed these into the reward unchecked
        with pytest.raises(ValueError, match=f"the metric returned {outside}"):
            as_score(outside)
