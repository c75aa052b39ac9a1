"""A bfloat16 row gets the same greedy tokens alone and beside any other rows."""

from __future__ import annotations

import pytest

from gcop.lm.batch_invariance import each_row_as_alone
from gcop.lm.generation import GenRequest, generate_batch, stop_token_ids
from gcop.lm.tiny import tiny_model

torch = pytest.importorskip("torch")

SYSTEM = "You are terse. " * 6  # 90 characters all rows share: prefilled once


@pytest.fixture(scope="module")
def wide_bf16():
    """A tiny model wide enough (hidden 256) that bfloat16 rounding flips greedy tokens when a
    row's numbers depend on its batch: before the fix 10 of the 12 left-padded replies equal
    those alone, 11 of 12 with the shared prefix; 12 after."""
    model, tokenizer = tiny_model(seed=0, hidden_size=256)
    return model.to(torch.bfloat16).eval(), tokenizer


def request(tokenizer, question: str, system: str | None = None) -> GenRequest:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return GenRequest(tuple(tokenizer(text, add_special_tokens=False)["input_ids"]), max_tokens=30)


def replies(model, tokenizer, requests: list[GenRequest]) -> list[str]:
    eos = stop_token_ids(model, tokenizer)
    return [done.texts[0] for done in generate_batch(model, tokenizer, requests, eos_ids=eos)]


@pytest.mark.parametrize("system", [None, SYSTEM], ids=["left-padded", "shared-prefix"])
def test_greedy_rows_get_the_tokens_they_get_alone(wide_bf16, system):
    torch.set_num_threads(1)
    model, tokenizer = wide_bf16
    questions = [f"question {i * 37} " + "why " * (i % 5) for i in range(12)]
    asked = [request(tokenizer, question, system) for question in questions]
    alone = [replies(model, tokenizer, [one])[0] for one in asked]
    assert replies(model, tokenizer, asked) == alone
    assert replies(model, tokenizer, asked[6:] + asked[:3])[:6] == alone[6:]  # other neighbours


def test_the_model_is_left_as_it_was(wide_bf16):
    model, tokenizer = wide_bf16
    implementation = model.config._attn_implementation

    def hooks() -> list[tuple[int, int]]:
        return [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in model.modules()]

    hooked = hooks()
    ids = torch.tensor([[5, 6, 7]])
    before = model(input_ids=ids).logits
    with each_row_as_alone(model):
        assert model.config._attn_implementation != implementation
        inside = model(input_ids=ids).logits
    assert model.config._attn_implementation == implementation
    assert hooks() == hooked
    assert torch.equal(model(input_ids=ids).logits, before)
    assert (inside.float() - before.float()).abs().max() < 0.1  # the same model, other rounding


@pytest.mark.parametrize(("attended", "longer"), [(810, 1106), (1500, 1800)])
def test_a_row_attends_alike_beside_a_longer_row_of_more_than_1024_keys(attended, longer):
    """A row attends alike alone and left-padded beside a longer row. Before the weights and
    values were multiplied in blocks of at most 1024 keys, the one product over 1106 keys summed
    a row's 810 in another order (an AMD EPYC, torch 2.13: the ICL baseline's long prompts got
    other greedy replies in another batch)."""
    from gcop.lm.batch_invariance import row_invariant_attention

    torch.manual_seed(0)
    heads, kv_heads, dim, queries = 14, 2, 64, 50  # Qwen2.5-0.5B's attention, 50 queries

    def states(rows: int, keys: int) -> tuple:
        return tuple(
            torch.randn(rows, n, length, dim).to(torch.bfloat16)
            for n, length in ((heads, queries), (kv_heads, keys), (kv_heads, keys))
        )

    query, key, value = states(1, attended)
    alone, _ = row_invariant_attention(
        None, query, key, value, torch.ones(1, 1, queries, attended, dtype=torch.bool)
    )
    _, other_key, other_value = states(1, longer)
    pad = longer - attended  # the shorter row is left-padded to the longer one's keys
    padded = [torch.nn.functional.pad(t, (0, 0, pad, 0)) for t in (key, value)]
    mask = torch.ones(2, 1, queries, longer, dtype=torch.bool)
    mask[0, ..., :pad] = False
    batched, _ = row_invariant_attention(
        None,
        torch.cat([query, torch.randn_like(query)]),
        torch.cat([padded[0], other_key]),
        torch.cat([padded[1], other_value]),
        mask,
    )
    assert torch.equal(batched[:1], alone)
