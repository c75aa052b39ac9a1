"""MeteredLM: every call is in the ledger, a cache hit at what its reply cost when made."""

import asyncio

import dspy

from gcop.cost import CostLedger
from gcop.lm.metered import MeteredLM

MESSAGES = [{"role": "user", "content": "one two three"}]  # the fake counts words as tokens


def test_a_cache_hit_is_recorded_at_its_replys_tokens_even_in_a_new_process(scripted_lm):
    fake = scripted_lm(["four five"])
    made = MeteredLM(fake.model_string, ledger=CostLedger(), role="core")
    made(messages=MESSAGES)
    dspy.cache.reset_memory_cache()  # what a new process sees: only the disk cache
    again = MeteredLM(fake.model_string, ledger=CostLedger(), role="core")
    again(messages=MESSAGES)
    assert len(fake.calls) == 1
    [first], [hit] = made.ledger.records(), again.ledger.records()
    assert (first.cache_hit, first.prompt_tokens, first.completion_tokens) == (False, 3, 2)
    assert (hit.cache_hit, hit.prompt_tokens, hit.completion_tokens) == (True, 3, 2)
    assert hit.latency_s == first.latency_s > 0
    summary = again.ledger.summary()
    assert (summary.tokens, summary.cached_tokens, summary.unmetered_hits) == (5, 5, 0)


def test_async_calls_are_metered_the_same_way(scripted_lm):
    fake = scripted_lm(["four five"])
    lm = MeteredLM(fake.model_string)
    for _ in range(2):
        asyncio.run(lm.acall(messages=MESSAGES))
    assert len(fake.calls) == 1
    records = lm.ledger.records()
    assert [(r.cache_hit, r.tokens) for r in records] == [(False, 5), (True, 5)]


def test_prices_apply_to_cache_hits_and_different_requests_are_different_replies(scripted_lm):
    fake = scripted_lm(["four five", "six"])
    ledger = CostLedger(prices={fake.model_string: (0.01, 0.1)})
    lm = MeteredLM(fake.model_string, ledger=ledger, temperature=0.7)
    lm(messages=MESSAGES, rollout_id=1)
    lm(messages=MESSAGES, rollout_id=2)  # another sample: not a hit
    lm(messages=MESSAGES, rollout_id=1)
    records = ledger.records()
    assert [r.cache_hit for r in records] == [False, False, True]
    assert [r.completion_tokens for r in records] == [2, 1, 2]
    assert [round(r.dollars, 6) for r in records] == [0.23, 0.13, 0.23]
    summary = ledger.summary()
    assert round(summary.dollars, 6) == 0.59 and round(summary.cached_dollars, 6) == 0.23


def test_a_reply_cached_without_metering_has_an_unknown_cost(scripted_lm):
    fake = scripted_lm(["four five"])
    dspy.LM(fake.model_string)(messages=MESSAGES)  # cached by a plain dspy.LM
    lm = MeteredLM(fake.model_string)
    lm(messages=MESSAGES)
    [record] = lm.ledger.records()
    assert record.cache_hit and not record.usage_known
    assert (record.tokens, record.dollars) == (0, None)
    summary = lm.ledger.summary()
    assert summary.unmetered_hits == 1 and summary.dollars is None


def test_without_the_cache_every_call_is_made_and_counted(scripted_lm):
    fake = scripted_lm(["four five"])
    lm = MeteredLM(fake.model_string, cache=False)
    lm(messages=MESSAGES)
    lm(messages=MESSAGES)
    assert len(fake.calls) == 2
    assert [(r.cache_hit, r.tokens) for r in lm.ledger.records()] == [(False, 5), (False, 5)]


def test_a_copy_keeps_rollout_ids_at_temperature_zero_quiet(scripted_lm):
    """A MeteredLM's rollout_id also names its server, so DSPy's warning that it does nothing at
    temperature 0 is wrong for it; ``copy`` (how a loaded policy sets its saved sampling) must
    not turn the warning back on."""
    import warnings

    fake = scripted_lm(["four five"])
    copied = MeteredLM(fake.model_string, temperature=0.0).copy(max_tokens=8)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="rollout_id")
        copied(messages=MESSAGES, rollout_id=3)
    assert len(fake.calls) == 1
