"""The tiny random-weight model: deterministic, chat-capable, saveable and trainable by TRL."""

from __future__ import annotations

import time

import pytest
import torch

from gcop.lm.tiny import tiny_model, tiny_tokenizer

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]


def _params(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_seed_fixes_the_weights_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a, _ = tiny_model(seed=0)
    assert torch.equal(torch.rand(1), expected)
    b, _ = tiny_model(seed=0)
    c, _ = tiny_model(seed=1)
    assert torch.equal(_params(a), _params(b))
    assert not torch.equal(_params(a), _params(c))
    assert sum(p.numel() for p in a.parameters()) < 200_000


def test_tokenizer_round_trips_text_and_has_chat_template():
    tokenizer = tiny_tokenizer()
    text = "def f(x):\n\treturn x * 2  # ok!"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)
    assert tokenizer.decode(ids) == text
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    prompt = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>user\n2+2?<|im_end|>" in prompt
    assert tokenizer.decode(tokenizer(prompt)["input_ids"]) == prompt


def test_chat_template_marks_assistant_tokens_for_loss_masking():
    tokenizer = tiny_tokenizer()
    chat = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "bc"}]
    out = tokenizer.apply_chat_template(chat, return_dict=True, return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(masked) == "bc<|im_end|>"


def test_save_pretrained_round_trip(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = tiny_model(seed=0)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    loaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    ids = torch.tensor([tokenizer("hello")["input_ids"]])
    assert torch.allclose(model(ids).logits, loaded(ids).logits)
    assert loaded_tokenizer.chat_template == tokenizer.chat_template
    assert loaded_tokenizer.eos_token == tokenizer.eos_token


def test_registry_name_tiny_is_a_loadable_folder(cache):
    from transformers import AutoModelForCausalLM

    from gcop.lm.model_cache import resolve_model

    folder = resolve_model("tiny")
    assert folder.is_relative_to(cache)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert torch.equal(_params(model), _params(tiny_model(seed=0)[0]))


def _sft_dataset():
    from datasets import Dataset

    rows = [
        [{"role": "user", "content": f"{i}+1?"}, {"role": "assistant", "content": str(i + 1)}]
        for i in range(4)
    ]
    return Dataset.from_dict({"messages": rows})


def test_trl_sft_step_is_fast(tmp_path):
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = tiny_model(seed=0)
    before = _params(model).clone()
    config = SFTConfig(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=2,
        learning_rate=1e-2,
        assistant_only_loss=True,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=_sft_dataset(), processing_class=tokenizer
    )
    start = time.process_time()  # CPU time: other processes on the machine do not count
    trainer.train()
    assert time.process_time() - start < 5.0  # ~0.2 s of CPU for two steps
    assert not torch.equal(_params(model), before)


def test_trl_grpo_step_is_fast(tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    model, tokenizer = tiny_model(seed=0)
    prompts = [[{"role": "user", "content": f"Say {c}"}] for c in "abcd"]
    dataset = Dataset.from_dict({"prompt": prompts})

    def reward_a(completions, **kwargs):
        return [float(c[0]["content"].count("a")) for c in completions]

    config = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        learning_rate=1e-2,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_a,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    start = time.process_time()  # CPU time: other processes on the machine do not count
    trainer.train()
    assert time.process_time() - start < 5.0  # ~0.6 s of CPU


@pytest.mark.parametrize("seed", [0, 7])
def test_generation_is_printable(seed):
    model, tokenizer = tiny_model(seed=seed)
    ids = torch.tensor([tokenizer("<|im_start|>user\nhi<|im_end|>\n")["input_ids"]])
    out = model.generate(ids, max_new_tokens=30, do_sample=False, pad_token_id=0)
    text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert set(text) <= set("\t\n" + "".join(map(chr, range(32, 127))))
