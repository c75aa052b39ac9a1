"""The deterministic <strategy> parser (§A.8): malformed inputs, budgets, speed."""

import time
import uuid

import pytest

from gcop.strategy import format_strategy, parse_strategy


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("no tags at all", "no <strategy> block"),
        ("", "no <strategy> block"),
        ("<strategy>open only", "expected one opening and one closing tag, found 1 and 0"),
        ("close only</strategy>", "expected one opening and one closing tag, found 0 and 1"),
        ("</strategy>backwards<strategy>", "closing tag before opening tag"),
        ("<strategy>a</strategy><strategy>b</strategy>", "found 2 and 2"),
        ("<strategy><strategy>nested</strategy></strategy>", "found 2 and 2"),
        ("<strategy></strategy>", "empty strategy block"),
        ("<strategy> \n\t </strategy>", "empty strategy block"),
        ("<Strategy>wrong case</Strategy>", "no <strategy> block"),
    ],
)
def test_malformed_completions_are_invalid_with_a_reason(completion, reason):
    parsed = parse_strategy(completion)
    assert parsed.valid is False
    assert reason in parsed.reason
    assert parsed.strategy == ""


def test_valid_block_is_stripped_and_text_outside_is_ignored():
    parsed = parse_strategy("Sure!\n<strategy>\n 1. Add.\n 2. Check.\n</strategy>\nDone.")
    assert parsed.valid and parsed.strategy == "1. Add.\n 2. Check."
    assert parsed.n_tokens == 4


def test_unicode_content_is_kept():
    parsed = parse_strategy("<strategy>Compute 3×4 → then ½ of it; naïve café ✓</strategy>")
    assert parsed.valid and "½" in parsed.strategy


def test_token_budget():
    words = " ".join(["step"] * 11)
    assert parse_strategy(f"<strategy>{words}</strategy>", token_budget=11).valid
    over = parse_strategy(f"<strategy>{words}</strategy>", token_budget=10)
    assert not over.valid and "11 tokens, over the budget of 10" in over.reason
    by_chars = parse_strategy("<strategy>abcdef</strategy>", token_budget=3, count_tokens=len)
    assert not by_chars.valid


def test_optional_enumerated_steps_and_json_schema():
    assert not parse_strategy("<strategy>just do it</strategy>", require_steps=True).valid
    assert parse_strategy("<strategy>1. a\n2) b</strategy>", require_steps=True).valid
    assert parse_strategy('<strategy>{"steps": [1]}</strategy>', json_keys=["steps"]).valid
    missing = parse_strategy('<strategy>{"plan": 1}</strategy>', json_keys=["steps"])
    assert missing.reason == "strategy JSON lacks keys: steps"
    assert "not valid JSON" in parse_strategy("<strategy>{oops</strategy>", json_keys=[]).reason
    assert "object" in parse_strategy("<strategy>[1, 2]</strategy>", json_keys=[]).reason


def test_non_string_input_is_invalid_not_a_crash():
    assert parse_strategy(None).reason == "completion is NoneType, not str"  # type: ignore[arg-type]


def test_format_round_trips():
    assert parse_strategy(format_strategy("  1. add  ")).strategy == "1. add"


def test_megabyte_inputs_parse_fast():
    hostile = [
        "<strategy>" + "x " * 600_000 + "</strategy>",
        "<strategy>" * 200_000,
        "<" * 1_000_000 + "strategy>",
        "<strategy>" + "</strateg" * 120_000 + "</strategy>",
    ]
    for text in hostile:
        assert len(text) >= 1_000_000
        start = time.perf_counter()
        parse_strategy(text, token_budget=10**7)
        assert time.perf_counter() - start < 0.05


def test_whitespace_free_text_cannot_slip_past_the_budget():
    from gcop.strategy import parse_strategy

    flood = parse_strategy("<strategy>" + "a" * 2**20 + "</strategy>", token_budget=256)
    assert not flood.valid and "over the budget" in flood.reason
    normal = parse_strategy("<strategy>\n1. Compute 48/2.\n2. Compute 48+24.\n</strategy>")
    assert normal.valid and normal.n_tokens == 6


# --- the budget in the guide's own tokens ---------------------------------------------------

PLAN = "<strategy>Add them up</strategy>"  # 3 words, 11 characters: 11 tokens of the tiny model


@pytest.fixture
def tiny_guide():
    """A guide on the tiny local model, whose character-level tokenizer counts every character."""
    import gcop
    from gcop.signatures import MathGuide

    local = gcop.LocalLM("tiny", name=f"tiny-strategy-{uuid.uuid4().hex[:8]}")
    yield gcop.Guide(MathGuide, local, token_budget=10)
    local.close()


def test_a_local_guide_counts_with_its_tokenizer_an_api_guide_by_words(tiny_guide, scripted_lm):
    import gcop
    from gcop.signatures import MathGuide

    assert parse_strategy(PLAN, token_budget=10).valid  # 3 words: under the budget
    assert tiny_guide.count_tokens("Add them up") == 11
    parsed = tiny_guide.parse(PLAN)
    assert not parsed.valid and "11 tokens, over the budget of 10" in parsed.reason
    api_guide = gcop.Guide(MathGuide, scripted_lm([PLAN]).model_string, token_budget=10)
    assert api_guide.count_tokens("Add them up") == 3
    assert api_guide(question="What is 3 plus 4?").valid  # forward parses with the guide's count


@pytest.mark.parametrize("local, verdict", [(True, "invalid"), (False, "accepted")])
def test_acceptance_judges_proposals_by_the_guide_tokens(tiny_guide, scripted_lm, local, verdict):
    import dspy

    import gcop
    from gcop.lm.resolve import as_lm
    from gcop.optimizers.acceptance.run import run_acceptance
    from gcop.optimizers.config import ExecTuneConfig
    from gcop.signatures import MathSolve

    api_guide = gcop.Guide(tiny_guide.signature, scripted_lm([PLAN]).model_string, token_budget=10)
    guide = tiny_guide if local else api_guide
    core = gcop.Core(MathSolve, lm=scripted_lm(["[[ ## answer ## ]]\n7"]).model_string)
    policy = gcop.GuideCorePolicy(guide=guide, core=core)
    teacher = as_lm(scripted_lm([PLAN]).model_string, ledger=policy.ledger, role="teacher")
    example = dspy.Example(question="What is 3 plus 4?", gold="7").with_inputs("question")
    result = run_acceptance(
        policy,
        [example],
        teacher_lm=teacher,
        metric=lambda ex, pred, trace=None: pred.answer.strip() == ex.gold,
        config=ExecTuneConfig(max_rounds=0),
    )
    assert [p.verdict for p in result.proposals] == [verdict]


def test_grpo_gates_completions_by_the_guide_tokens(tiny_guide, scripted_lm):
    import dspy

    import gcop
    from gcop.optimizers.config import ExecTuneConfig
    from gcop.optimizers.grpo.trainer import make_reward
    from gcop.signatures import MathSolve

    core_lm = scripted_lm(["[[ ## answer ## ]]\n7"])
    example = dspy.Example(question="What is 3 plus 4?", gold="7").with_inputs("question")
    reward = make_reward(
        tiny_guide,
        gcop.Core(MathSolve, lm=core_lm.model_string),
        [example],
        metric=lambda ex, pred, trace=None: pred.answer.strip() == ex.gold,
        config=ExecTuneConfig(lambda_judge=0),
    )
    short = "<strategy>Add</strategy>"
    assert reward([PLAN, short], example_index=[0, 0]) == [0.0, pytest.approx(1.1)]
    assert len(core_lm.calls) == 2  # the unguided baseline and the short plan: never PLAN
