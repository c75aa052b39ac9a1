"""The cost ledger: totals, unknown prices, cache hits, per-prediction scopes, net utility."""

import copy
import threading

import pytest

from gcop.cost import CallRecord, CostLedger, cost_scope, net_utility, record_call


def call(model="local/x", p=10, c=5, dollars=0.0, hit=False, role="core"):
    return CallRecord(model, role, p, c, latency_s=1.5, dollars=dollars, cache_hit=hit)


def test_cache_hits_count_at_their_reply_cost_and_show_as_savings():
    ledger = CostLedger()
    for record in [call(dollars=0.25), call(dollars=0.5), call(dollars=9.0, hit=True)]:
        ledger.record(record)
    summary = ledger.summary()
    assert (summary.calls, summary.cache_hits) == (3, 1)
    assert (summary.prompt_tokens, summary.completion_tokens, summary.tokens) == (30, 15, 45)
    assert summary.latency_s == 4.5 and summary.dollars == 9.75
    assert (summary.cached_tokens, summary.cached_dollars) == (15, 9.0)
    assert summary.in_unit("tokens") == 45.0 and summary.in_unit("calls") == 3.0
    assert summary.unmetered_hits == 0


def test_a_hit_without_a_recorded_cost_is_unknown_not_free():
    ledger = CostLedger()
    ledger.record(call(dollars=0.25))
    ledger.record(CallRecord("local/x", "core", 0, 0, 0.0, None, cache_hit=True, usage_known=False))
    summary = ledger.summary()
    assert summary.unmetered_hits == 1 and summary.cache_hits == 1 and summary.tokens == 15
    assert summary.dollars is None and summary.cached_dollars is None


def test_summaries_add_up_and_keep_unknown_dollars_unknown():
    ledger = CostLedger()
    ledger.record(call(dollars=0.25))
    priced = ledger.summary()
    total = priced + priced
    assert (total.calls, total.tokens, total.dollars) == (2, 30, 0.5)
    unknown = CostLedger()
    unknown.record(call(model="mystery/model", dollars=None))
    mixed = priced + unknown.summary()
    assert mixed.dollars is None and mixed.unpriced_calls == 1 and mixed.calls == 2


def test_unpriced_models_are_unknown_not_zero():
    ledger = CostLedger()
    ledger.record(call(model="mystery/model", dollars=None))
    summary = ledger.summary()
    assert summary.dollars is None and summary.unpriced_calls == 1
    with pytest.raises(ValueError, match="no known price"):
        summary.in_unit("dollars")
    with pytest.raises(ValueError, match="unknown cost unit"):
        summary.in_unit("bananas")  # type: ignore[arg-type]


def test_price_sources():
    ledger = CostLedger(prices={"my/model": (1e-6, 2e-6)})
    assert ledger.price("my/model", 1000, 500) == pytest.approx(0.002)
    assert ledger.price("local/anything", 1000, 500) == 0.0
    assert ledger.price("not-a-provider/unknown-model-xyz", 10, 10) is None
    gpt = ledger.price("openai/gpt-4o-mini", 1_000_000, 0)  # from LiteLLM's local cost map
    assert gpt is not None and gpt > 0


def test_roles_scopes_and_sharing_on_deepcopy():
    ledger = CostLedger()
    assert copy.deepcopy(ledger) is ledger
    with cost_scope() as outer:
        record_call(ledger, call(role="guide"))
        with cost_scope() as inner:
            record_call(ledger, call(role="core"))
    record_call(ledger, call(role="core"))
    assert len(outer) == 2 and len(inner) == 1
    assert ledger.summary("core").calls == 2 and ledger.summary("guide").calls == 1
    assert len(ledger.since(2)) == 1


def test_scopes_are_per_thread():
    ledger = CostLedger()
    seen = {}

    def work(name, n):
        with cost_scope() as calls:
            for _ in range(n):
                record_call(ledger, call())
        seen[name] = len(calls)

    threads = [threading.Thread(target=work, args=(i, i + 1)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {0: 1, 1: 2, 2: 3, 3: 4} and len(ledger) == 10


def test_net_utility():
    assert net_utility(0.9, 120.0, 0.001) == 0.78
    assert net_utility(1.0, 0.0, 5.0) == 1.0
