"""LocalLM on the tiny model: sampling options, usage, batching, swapping, persistence, DSPy."""

from __future__ import annotations

import copy
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import gcop.lm.local
from gcop.lm.local import LocalLM
from gcop.lm.local_folder import SPEC_FILE
from gcop.lm.tiny import tiny_model

HI = [{"role": "user", "content": "hi"}]


def ask(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"question {i}"}]


def test_identity_and_chat_prompt(tiny_lm):
    assert tiny_lm.model_string == f"local/{tiny_lm.name}"
    expected = tiny_lm.tokenizer.apply_chat_template(HI, tokenize=False, add_generation_prompt=True)
    assert (
        tiny_lm.chat_prompt(HI)
        == expected
        == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert LocalLM("tiny").name == "tiny"
    assert LocalLM("some-org/some-model").name == "some-org--some-model"  # lazy: nothing loaded


def test_greedy_is_deterministic_and_reports_usage(tiny_lm):
    first = tiny_lm.complete(HI, max_tokens=12)
    assert first == tiny_lm.complete(HI, max_tokens=12, temperature=0)
    assert first.prompt_tokens == len(tiny_lm.tokenizer(tiny_lm.chat_prompt(HI))["input_ids"])
    assert len(first.texts) == 1 and first.completion_tokens <= 12
    if first.finish_reasons[0] == "length":  # one character per token in the tiny tokenizer
        assert first.completion_tokens == len(first.texts[0]) == 12


def test_max_tokens_caps_the_completion(tiny_lm):
    for budget in (1, 3, 7):
        result = tiny_lm.complete(HI, max_tokens=budget)
        assert result.completion_tokens <= budget
        assert len(result.texts[0]) <= budget


def test_n_samples_with_seed_are_reproducible_and_distinct(tiny_lm):
    result = tiny_lm.complete(HI, n=3, temperature=1.0, max_tokens=10, seed=5)
    assert len(result.texts) == len(result.finish_reasons) == 3
    assert len(set(result.texts)) == 3
    assert result.completion_tokens >= sum(len(t) for t in result.texts)
    assert result == tiny_lm.complete(HI, n=3, temperature=1.0, max_tokens=10, seed=5)
    assert result.texts != tiny_lm.complete(HI, n=3, temperature=1.0, max_tokens=10, seed=6).texts


def test_seeded_sample_does_not_depend_on_its_batch(unique_name):
    lm = LocalLM("tiny", name=unique_name, batch_wait_s=0.3)
    alone = lm.complete(HI, temperature=0.9, max_tokens=10, seed=11)
    with ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(lm.complete, ask(i), temperature=0.5, max_tokens=6) for i in range(3)]
        mine = pool.submit(lm.complete, HI, temperature=0.9, max_tokens=10, seed=11)
        [call.result() for call in calls]
    assert mine.result() == alone


def test_greedy_n_returns_copies(tiny_lm):
    result = tiny_lm.complete(HI, n=2, max_tokens=5)
    single = tiny_lm.complete(HI, max_tokens=5)
    assert result.texts == single.texts * 2
    assert result.completion_tokens == 2 * single.completion_tokens


def test_tiny_top_p_is_greedy(tiny_lm):
    greedy = tiny_lm.complete(HI, max_tokens=10)
    nucleus = tiny_lm.complete(HI, max_tokens=10, temperature=1.0, top_p=1e-6)
    assert nucleus.texts == greedy.texts


def test_stop_strings_truncate(tiny_lm):
    full = tiny_lm.complete(HI, max_tokens=30).texts[0]
    assert len(full) >= 12, "tiny model should not end this prompt early"
    stop = full[8:11]
    result = tiny_lm.complete(HI, max_tokens=30, stop=[stop, "never-seen"])
    assert result.texts == [full[: full.find(stop)]]
    assert result.finish_reasons == ["stop"]
    assert result.completion_tokens < 30
    assert tiny_lm.complete(HI, max_tokens=30, stop=stop).texts == result.texts  # a bare str


@pytest.mark.parametrize(
    "kwargs",
    [{"n": 0}, {"max_tokens": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"top_p": 1.5}],
)
def test_bad_sampling_options_raise(tiny_lm, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        tiny_lm.complete(HI, **kwargs)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown model"):
        LocalLM("no-such-model")
    with pytest.raises(ValueError, match="tokenizer"):
        LocalLM(tiny_model()[0])
    with pytest.raises(TypeError):
        LocalLM(42)
    model, tokenizer = tiny_model()
    with pytest.raises(ValueError, match="base only applies to a loaded model"):
        LocalLM("tiny", base="tiny")
    with pytest.raises(ValueError, match="unknown model"):
        LocalLM(model, tokenizer=tokenizer, base="no-such-model")


def batch_sizes(monkeypatch) -> list[int]:
    """The rows of every batch LocalLM decodes from now on."""
    sizes = []
    serve = gcop.lm.local.generate_batch

    def counting(model, tokenizer, requests, **options):
        sizes.append(sum(request.rows for request in requests))
        return serve(model, tokenizer, requests, **options)

    monkeypatch.setattr(gcop.lm.local, "generate_batch", counting)
    return sizes


def test_concurrent_calls_share_batches_and_get_their_own_answers(
    tiny_lm, unique_name, monkeypatch
):
    expected = [tiny_lm.complete(ask(i), max_tokens=4 + i) for i in range(8)]  # one at a time
    lm = LocalLM("tiny", name=unique_name, max_batch_size=8, batch_wait_s=0.5)
    calls = batch_sizes(monkeypatch)
    barrier = threading.Barrier(8)

    def call(i: int):
        barrier.wait()
        return lm.complete(ask(i), max_tokens=4 + i)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8)))
    assert results == expected
    assert len(calls) < 8 and sum(calls) == 8
    assert max(calls) > 1


def test_max_batch_size_bounds_rows_per_batch(unique_name, monkeypatch):
    lm = LocalLM("tiny", name=unique_name, max_batch_size=2, batch_wait_s=0.3)
    sizes = batch_sizes(monkeypatch)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: lm.complete(ask(i), max_tokens=3), range(6)))
    assert max(sizes) <= 2 and sum(sizes) == 6


def test_set_model_swaps_what_is_served(unique_name):
    lm = LocalLM("tiny", name=unique_name)
    before = lm.complete(HI, max_tokens=10)
    other, tokenizer = tiny_model(seed=1)
    reference = LocalLM(other, tokenizer=tokenizer, name=f"{unique_name}-ref")
    lm.set_model(other)
    after = lm.complete(HI, max_tokens=10)
    assert after != before
    assert after == reference.complete(HI, max_tokens=10)


def test_save_load_untouched_registry_model_writes_no_weights(tmp_path, unique_name):
    lm = LocalLM("tiny", name=unique_name, max_batch_size=3)
    expected = lm.complete(HI, max_tokens=8)
    lm.save(tmp_path)
    assert not (tmp_path / "model").exists() and not (tmp_path / "adapter").exists()
    loaded = LocalLM.load(tmp_path)
    assert loaded.spec()["max_batch_size"] == 3 and loaded.name == unique_name
    assert loaded.complete(HI, max_tokens=8) == expected


def test_save_load_modified_model_writes_full_weights(tmp_path, unique_name):
    lm = LocalLM("tiny", name=unique_name)
    lm.set_model(tiny_model(seed=2)[0])
    expected = lm.complete(HI, max_tokens=8)
    lm.save(tmp_path)
    assert (tmp_path / "model" / "config.json").exists()
    assert LocalLM.load(tmp_path, name=f"{unique_name}-2").complete(HI, max_tokens=8) == expected


def test_a_model_loaded_from_a_folder_saves_a_copy_of_it(tmp_path, unique_name):
    lm = LocalLM("tiny", name=unique_name)
    lm.set_model(tiny_model(seed=2)[0])
    expected = lm.complete(HI, max_tokens=8)
    first, second = tmp_path / "first", tmp_path / "second"
    lm.save(first)
    loaded = LocalLM.load(first, name=f"{unique_name}-2")
    loaded.save(second)  # never used: its weights exist only in the first folder
    loaded.save(first)  # saving into its own folder leaves it whole
    assert LocalLM.load(first, name=f"{unique_name}-3").complete(HI, max_tokens=8) == expected
    shutil.rmtree(first)
    assert json.loads((second / SPEC_FILE).read_text())["weights"] == "full"
    again = LocalLM.load(second, name=f"{unique_name}-4")
    assert again.complete(HI, max_tokens=8) == expected


def test_save_load_peft_model_writes_an_adapter(tmp_path, unique_name):
    from peft import LoraConfig, get_peft_model

    lm = LocalLM("tiny", name=unique_name, dtype="float32")  # the dtype of the model set below
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    lm.set_model(get_peft_model(tiny_model(seed=0)[0], config))
    expected = lm.complete(HI, max_tokens=8)
    assert expected != LocalLM("tiny", name=f"{unique_name}-base").complete(HI, max_tokens=8)
    lm.save(tmp_path)
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    assert not (tmp_path / "model").exists()
    loaded = LocalLM.load(tmp_path, name=f"{unique_name}-2")
    assert loaded.complete(HI, max_tokens=8) == expected
    loaded.save(tmp_path / "again")  # never loaded again: the adapter is copied
    again = LocalLM.load(tmp_path / "again", name=f"{unique_name}-3")
    assert again.complete(HI, max_tokens=8) == expected


def test_a_lora_model_over_a_named_base_saves_its_adapter_and_checks_the_base(
    tmp_path, unique_name
):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    base = LocalLM("tiny", name=f"{unique_name}-base")
    model = get_peft_model(copy.deepcopy(base.model), config)
    lm = LocalLM(model, tokenizer=base.tokenizer, name=unique_name, base="tiny")
    assert lm.base == "tiny" and LocalLM(tiny_model()[0], tokenizer=base.tokenizer).base is None
    expected = lm.complete(HI, max_tokens=8)
    lm.save(tmp_path / "good")
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.safetensors"))
    assert files == ["good/adapter/adapter_model.safetensors"]  # the base is named, not copied
    loaded = LocalLM.load(tmp_path / "good", name=f"{unique_name}-2")
    assert loaded.complete(HI, max_tokens=8) == expected

    other = get_peft_model(tiny_model(seed=2)[0], config)  # claims a base it was not built on
    LocalLM(other, tokenizer=base.tokenizer, name=f"{unique_name}-3", base="tiny").save(
        tmp_path / "bad"
    )
    wrong = LocalLM.load(tmp_path / "bad", name=f"{unique_name}-4")
    with pytest.raises(ValueError, match="'tiny' is not the base model the adapter .* trained on"):
        wrong.complete(HI, max_tokens=8)


def test_a_saved_adapter_is_what_peft_loads_without_gcop(tmp_path, unique_name):
    """The adapter folder holds the trained adapter alone (not the ``ref`` copy TRL's GRPO keeps
    beside it) and names its base, so peft loads it by itself."""
    import torch
    from peft import AutoPeftModelForCausalLM, LoraConfig, PeftModel, get_peft_model

    from gcop.lm import resolve_model

    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    base = LocalLM("tiny", name=f"{unique_name}-base", dtype="float32")
    model = get_peft_model(copy.deepcopy(base.model), config)
    model.add_adapter("ref", config)  # a second adapter, as TRL's GRPO adds for its reference
    LocalLM(model, tokenizer=base.tokenizer, name=unique_name, base="tiny").save(tmp_path)
    adapter = tmp_path / "adapter"
    assert sorted(p.name for p in adapter.iterdir() if p.is_dir()) == []  # no adapter/ref/
    saved = json.loads((adapter / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == str(resolve_model("tiny"))

    ids = base.tokenizer("question 1", return_tensors="pt").input_ids
    with torch.no_grad():
        expected = model(ids).logits
        loaded = PeftModel.from_pretrained(tiny_model(seed=0)[0].float(), str(adapter))
        assert torch.allclose(loaded(ids).logits, expected, atol=1e-5)
        auto = AutoPeftModelForCausalLM.from_pretrained(str(adapter), dtype=torch.float32)
        assert torch.allclose(auto(ids).logits, expected, atol=1e-5)


def test_close_unregisters(unique_name):
    from gcop.lm import provider

    lm = LocalLM("tiny", name=unique_name)
    assert provider.get_backend(lm.model_string) is lm
    lm.close()
    with pytest.raises(ValueError, match="no local model"):
        provider.get_backend(lm.model_string)


def test_spec_is_json(tiny_lm):
    import json

    spec = json.loads(json.dumps(tiny_lm.spec()))
    assert spec["model"] == "tiny" and spec["name"] == tiny_lm.name


def test_deepcopy_returns_self(tiny_lm):
    import dspy

    assert copy.deepcopy(tiny_lm) is tiny_lm
    program = dspy.Predict("question -> answer")
    program.backend = tiny_lm
    assert copy.deepcopy(program).backend is tiny_lm


def test_routing_through_dspy_lm(tiny_lm):
    import dspy

    lm = dspy.LM(tiny_lm.model_string, cache=False, max_tokens=9, temperature=0.0)
    assert lm("hi") == tiny_lm.complete(HI, max_tokens=9).texts
    sampled = lm("hi", n=2, temperature=1.0, seed=3)
    assert sampled == tiny_lm.complete(HI, n=2, max_tokens=9, temperature=1.0, seed=3).texts


def test_importing_the_local_lm_modules_is_cheap():
    import os
    import subprocess
    import sys
    from pathlib import Path

    import gcop

    root = str(Path(gcop.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    code = (
        "import sys, gcop.lm.local, gcop.lm.registry, gcop.lm.tiny\n"
        "heavy = [m for m in ('torch', 'transformers', 'litellm', 'dspy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_seeded_sample_is_the_same_alone_and_in_a_full_batch(unique_name, dtype):
    lm = LocalLM("tiny", name=unique_name, dtype=dtype, max_batch_size=32, batch_wait_s=0.5)
    alone = lm.complete(HI, temperature=0.8, max_tokens=12, seed=7)
    greedy_alone = lm.complete(ask(0), max_tokens=12)
    with ThreadPoolExecutor(32) as pool:
        others = [
            pool.submit(lm.complete, ask(i), temperature=0.7, max_tokens=20) for i in range(30)
        ]
        mine = pool.submit(lm.complete, HI, temperature=0.8, max_tokens=12, seed=7)
        greedy = pool.submit(lm.complete, ask(0), max_tokens=12)
        [call.result() for call in others]
    assert mine.result() == alone and greedy.result() == greedy_alone
    assert lm.stats.rows >= 32 and lm.stats.batches <= 4  # most rows shared one batch
    assert 0.0 <= lm.stats.waste < 1.0 and lm.stats.tokens > 0


def test_batch_stats_count_decoded_steps_that_kept_no_token_as_waste():
    from gcop.lm.generation import BatchStats

    stats = BatchStats()
    stats.add(rows=4, row_steps=40, tokens=10 + 10 + 5 + 5)  # two rows' tails cut by a stop
    assert stats.row_steps == 40 and stats.waste == pytest.approx(0.25)
    stats.add(rows=1, row_steps=10, tokens=10)
    assert stats.batches == 2 and stats.waste == pytest.approx(10 / 50)


def test_wide_batches_run_in_token_capped_chunks_with_the_same_replies(unique_name):
    lm = LocalLM("tiny", name=unique_name, max_batch_tokens=120, batch_wait_s=0.5)
    long_prompt = [{"role": "user", "content": "x" * 80}]
    alone = [lm.complete(ask(i), max_tokens=8) for i in range(3)] + [
        lm.complete(long_prompt, max_tokens=8)
    ]
    calls_before = lm.stats.batches
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(lm.complete, ask(i), max_tokens=8) for i in range(3)]
        futures.append(pool.submit(lm.complete, long_prompt, max_tokens=8))
        together = [future.result() for future in futures]
    assert together == alone
    assert lm.batches_run - 4 <= 2 and lm.stats.batches - calls_before >= 2  # one batch, split
    with pytest.raises(ValueError, match="max_batch_tokens"):
        LocalLM("tiny", name=f"{unique_name}-bad", max_batch_tokens=0)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_rows_sharing_a_long_prefix_prefill_it_once_with_the_same_replies(unique_name, dtype):
    """An ICL-style batch (a long system prompt before each question) prefills the shared
    tokens once; greedy and seeded replies are those each request gets alone."""
    lm = LocalLM("tiny", name=unique_name, dtype=dtype, batch_wait_s=0.5)
    system = {"role": "system", "content": "Solve it. Worked example: 2+2 is 4. " * 3}

    def asked(i: int) -> list[dict[str, str]]:
        return [system, *ask(i * 37)]

    settings = [{"max_tokens": 10}, {"max_tokens": 10, "temperature": 0.9, "seed": 3}]
    alone = [lm.complete(asked(i), **settings[i % 2]) for i in range(6)]
    assert lm.stats.shared_prefill == 0  # one row at a time: nothing to share
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda i: lm.complete(asked(i), **settings[i % 2]), range(6)))
    assert together == alone
    prefix = len(lm.tokenizer(lm.chat_prompt([system]))["input_ids"])
    assert lm.stats.shared_prefill >= prefix * 4  # rows after the first in each of <= 2 batches


def test_a_lora_guide_replies_the_same_with_and_without_prefix_sharing(unique_name):
    """The shared prefix's cache goes through peft's generate too (unmerged LoRA guides)."""
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny_model(seed=0)
    lora = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    model = get_peft_model(model, lora)
    system = {"role": "system", "content": "Plan it. Worked example: 2+2 is 4. " * 3}
    replies = {}
    for share in (False, True):
        name = f"{unique_name}-{share}"
        lm = LocalLM(model, tokenizer=tokenizer, name=name, share_prefix=share, batch_wait_s=0.5)
        with ThreadPoolExecutor(4) as pool:
            asked = [pool.submit(lm.complete, [system, *ask(i)], max_tokens=10) for i in range(4)]
            replies[share] = [call.result() for call in asked]
        assert (lm.stats.shared_prefill > 0) == share
        lm.close()
    assert replies[True] == replies[False]
