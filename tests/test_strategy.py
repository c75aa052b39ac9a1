"""The deterministic <strategy> parser (§A.8): malformed inputs, budgets, speed."""

import time

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
