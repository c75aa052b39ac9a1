"""The ICL baseline: nearest training pairs, and an embedding model's calls in the ledger."""

from types import SimpleNamespace

import dspy
import pytest

import gcop
from gcop.baselines.icl import ICLPolicy
from gcop.signatures import MathSolve

TRAIN = [
    dspy.Example(question=q, answer=a).with_inputs("question")
    for q, a in [("apples and pears", "1"), ("trains and buses", "2"), ("apples again", "3")]
]


def fake_embedding(model, input, **kwargs):
    """Two-dimensional vectors: how much each text is about apples, and about transport."""
    vectors = [[float("apple" in t), float("train" in t or "bus" in t)] for t in input]
    data = [{"embedding": v} for v in vectors]
    return SimpleNamespace(data=data, usage=SimpleNamespace(prompt_tokens=3 * len(input)))


def test_an_embedding_models_calls_are_metered_into_the_cores_ledger(monkeypatch, scripted_lm):
    import litellm

    monkeypatch.setattr(litellm, "embedding", fake_embedding)
    core = gcop.Core(MathSolve, lm=scripted_lm(["answer: 1"]).model_string)
    icl = ICLPolicy(core, TRAIN, shots=2, embedding_model="openai/text-embedding-3-small")
    assert [ex.answer for ex in icl.nearest({"question": "apples"})] == ["1", "3"]
    records = core.ledger.records("embedder")
    assert [(r.model, r.prompt_tokens) for r in records] == [
        ("openai/text-embedding-3-small", 9),  # the training pool, once
        ("openai/text-embedding-3-small", 3),  # the query
    ]
    assert all(r.dollars is not None for r in records)


def test_an_unroutable_embedding_model_is_refused_before_any_call(scripted_lm):
    core = gcop.Core(MathSolve, lm=scripted_lm(["answer: 1"]).model_string)
    with pytest.raises(ValueError, match="LiteLLM cannot route"):
        ICLPolicy(core, TRAIN, embedding_model="nosuchprovider/embed")


def test_examples_without_the_cores_output_are_refused_naming_the_fix(scripted_lm):
    """A demo lacking the core's output field is dropped by the adapter without a word, so ICL
    would silently be the core alone (the code preset's first table: byte-identical replies)."""
    from gcop.tasks.code import mbpp

    core = mbpp.TASK.policy(None, scripted_lm(["```python\npass\n```"]).model_string).core
    with pytest.raises(ValueError, match="no 'code' .*task.demos"):
        ICLPolicy(core, mbpp.load("train", n=3, seed=0))


def test_a_code_task_shows_its_reference_solutions_as_worked_examples(scripted_lm):
    from fakes import last_user_text

    from gcop.tasks.code import mbpp
    from gcop.tasks.task import PolicySettings

    core_lm = scripted_lm(["```python\ndef f():\n    pass\n```"])
    core = mbpp.TASK.policy(None, core_lm.model_string, PolicySettings(core_adapter="plain")).core
    train = mbpp.load("train", n=3, seed=0)
    icl = ICLPolicy(core, mbpp.TASK.demos(train), shots=2)
    task = mbpp.load("dev", n=1, seed=0)[0]
    icl(prompt=task.prompt)
    messages = core_lm.calls[-1]["messages"]
    shown = [m["content"] for m in messages if m["role"] == "assistant"]
    nearest = icl.nearest({"prompt": task.prompt})
    assert shown == [f"```python\n{ex.solution.strip()}\n```" for ex in nearest]
    assert task.prompt in last_user_text(messages)
