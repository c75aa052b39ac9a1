"""The guide, teacher and judge ask through typed DSPy requests, not deprecated ``messages=``."""

import warnings

import dspy
import pytest

import gcop
from gcop.lm.chat import chat
from gcop.lm.resolve import as_lm
from gcop.optimizers.acceptance.calls import propose
from gcop.optimizers.grpo.judge import StrategyJudge
from gcop.signatures import MathGuide

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "one two three"},
]


@pytest.fixture
def deprecated_messages_fail():
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "error", message="Passing OpenAI-style message", category=DeprecationWarning
        )
        yield


def test_guide_teacher_and_judge_make_no_deprecated_messages_call(
    scripted_lm, deprecated_messages_fail
):
    guide = gcop.Guide(MathGuide, lm=scripted_lm(["<strategy>1. add</strategy>"]).model_string)
    assert guide(question="What is 3 + 4?").strategy == "1. add"

    teacher = as_lm(scripted_lm(["<strategy>1. add</strategy>"]).model_string, role="teacher")
    reply = propose(teacher, MESSAGES, rollout=1, max_retries=0)
    assert (reply.completion, reply.error) == ("<strategy>1. add</strategy>", None)
    assert len(reply.calls) == 1

    judge_lm = as_lm(scripted_lm(["SCORE: 0.5\nLEAK: no"]).model_string, role="judge")
    verdict = StrategyJudge(judge_lm).score({"question": "What is 3 + 4?"}, "1. add")
    assert (verdict.ok, verdict.score) == (True, 0.5)


def test_chat_sends_the_lms_settings_and_meters_cache_hits(scripted_lm):
    fake = scripted_lm(["four five"])
    lm = as_lm(fake.model_string, role="guide", temperature=0.6, max_tokens=32, top_p=0.9)
    assert chat(lm, MESSAGES, temperature=0.0, rollout_id=3) == "four five"
    assert chat(lm, MESSAGES, temperature=0.0, rollout_id=3) == "four five"  # cached
    [call] = fake.calls
    assert call["messages"] == MESSAGES
    assert (call["temperature"], call["max_tokens"], call["top_p"]) == (0.0, 32, 0.9)
    records = lm.ledger.records()
    assert [(r.cache_hit, r.prompt_tokens, r.completion_tokens) for r in records] == [
        (False, 5, 2),
        (True, 5, 2),
    ]
    with pytest.raises(TypeError, match="unknown LM setting"):
        chat(lm, MESSAGES, temprature=0.0)


def test_a_plain_dspy_lm_works_too(scripted_lm):
    fake = scripted_lm(["ok"])
    assert chat(dspy.LM(fake.model_string, cache=False), MESSAGES) == "ok"
