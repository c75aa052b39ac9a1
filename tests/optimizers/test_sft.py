"""Strategy SFT on the tiny model: trains a copy, leaves the input alone, learns the format."""

import json
import tempfile
import uuid

import pytest
import torch
from training_fakes import (
    QUESTIONS,
    StopAt,
    same_weights,
    small_config,
    snapshot,
    tiny_guide,
    valid_rate,
)

import gcop
from gcop.lm.local_folder import SPEC_FILE
from gcop.modules.guide import guide_messages
from gcop.optimizers.sft import sft_trainer, train_sft
from gcop.signatures import MathGuide, MathSolve

PAIRS = [({"question": q}, "1. add") for q in QUESTIONS]


def test_sft_trains_a_new_guide_and_leaves_the_input_alone(capfd):
    guide = tiny_guide()
    before = snapshot(guide)
    rate_before = valid_rate(guide)

    trained, summary = train_sft(guide, PAIRS * 2, small_config())
    shown = capfd.readouterr().err  # the phase's one progress display: the training bar
    assert "Tokenizing" not in shown and "Building labels" not in shown

    assert same_weights(snapshot(guide), before)  # the input guide's model is untouched
    assert not same_weights(snapshot(trained), before)
    assert trained is not guide and trained.local_lm is not guide.local_lm
    assert trained.local_lm.name.startswith(f"{guide.local_lm.name}-sft-")
    assert trained.token_budget == guide.token_budget
    assert trained.lm.ledger is guide.lm.ledger
    assert trained.lm.kwargs == guide.lm.kwargs
    assert valid_rate(trained) > rate_before
    assert valid_rate(trained) >= 0.5
    json.dumps(summary)
    assert summary["n_pairs"] == 8 and summary["steps"] == 20
    assert summary["final_loss"] < summary["loss_history"][0]
    assert summary["train_time_s"] > 0


def test_training_prompt_is_the_inference_prompt():
    guide = tiny_guide()
    with tempfile.TemporaryDirectory() as folder:
        trainer = sft_trainer(guide, PAIRS[:1], small_config(), folder)
    row = trainer.train_dataset[0]
    prompt_ids = [
        t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label == -100
    ]
    completion_ids = [label for label in row["labels"] if label != -100]
    tokenizer = guide.local_lm.tokenizer
    expected = guide.local_lm.chat_prompt(guide_messages(guide.signature, PAIRS[0][0]))
    assert tokenizer.decode(prompt_ids) == expected
    assert tokenizer.decode(completion_ids).startswith("<strategy>\n1. add\n</strategy>")


def test_full_fine_tune_also_trains_and_copies():
    guide = tiny_guide(seed=1)
    before = snapshot(guide)
    config = small_config(lora=False, sft_epochs=1, sft_learning_rate=1e-3)
    trained, summary = train_sft(guide, PAIRS, config)
    assert summary["lora"] is False and summary["steps"] == 1
    assert same_weights(snapshot(guide), before)
    assert not same_weights(snapshot(trained), before)
    assert all(
        p.requires_grad is False or p.grad is None for p in guide.local_lm.model.parameters()
    )


def test_bad_pairs_raise_clear_errors():
    guide = tiny_guide()
    with pytest.raises(ValueError, match="no pairs"):
        train_sft(guide, [], small_config())
    with pytest.raises(ValueError, match=r"pairs\[0\] has an empty strategy"):
        train_sft(guide, [({"question": "q"}, "  ")], small_config())
    with pytest.raises(ValueError, match="missing field"):
        train_sft(guide, [({"prompt": "q"}, "1. add")], small_config())
    with pytest.raises(TypeError, match="ExecTuneConfig"):
        train_sft(guide, PAIRS, {"sft_epochs": 1})


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/optimizers/conftest.py


def test_bf16_guide_keeps_its_adapter_unmerged_so_updates_survive():
    from training_fakes import tiny_guide_bf16

    guide = tiny_guide_bf16()
    base = snapshot(guide)
    trained, _ = train_sft(guide, PAIRS * 2, small_config())
    model = trained.local_lm.model
    assert callable(getattr(model, "merge_and_unload", None))  # served as base + LoRA
    weights = {k: v for k, v in model.state_dict().items() if "lora_" not in k}
    base_keys = {
        k.replace("base_model.model.", "").replace("base_layer.", ""): v for k, v in weights.items()
    }
    assert all(torch.equal(base_keys[k], v) for k, v in base.items())  # the bf16 base is untouched
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in model.state_dict().items())
    assert valid_rate(trained) >= 0.5


def test_trl_and_peft_settings_pass_through_and_the_guide_saves_as_an_adapter(tmp_path):
    guide = gcop.Guide(MathGuide, gcop.LocalLM("tiny", name=f"tiny-{uuid.uuid4().hex[:8]}"))
    before = snapshot(guide)
    config = small_config(sft_args={"max_steps": 1}, lora_args={"r": 4})

    trained, summary = train_sft(guide, PAIRS, config)

    assert summary["steps"] == 1  # max_steps beat sft_epochs=20
    model = trained.local_lm.model
    assert model.peft_config["default"].r == 4
    lora = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    assert {v.shape[0] for k, v in lora.items() if "lora_A" in k} == {4}
    assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)  # trained
    assert same_weights(snapshot(guide), before)

    policy = gcop.GuideCorePolicy(trained, gcop.Core(MathSolve, lm="openai/gpt-4.1-mini"))
    folder = policy.save(tmp_path / "run")
    weights = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.suffix in (".safetensors", ".bin", ".pt")
    )
    assert weights == ["guide/adapter/adapter_model.safetensors"]  # no full copy of the base
    spec = json.loads((folder / "guide" / SPEC_FILE).read_text())
    assert spec["model"] == "tiny" and len(spec["base_fingerprint"]) == 16
    saved = json.loads((folder / "policy.json").read_text())
    assert saved["models"]["guide"]["base"] == "tiny"

    fresh = gcop.GuideCorePolicy(tiny_guide(), gcop.Core(MathSolve, lm="openai/gpt-4.1-mini"))
    fresh.load(folder)
    reloaded = fresh.guide.local_lm.model.state_dict()
    assert all(torch.equal(reloaded[k].float(), v.float()) for k, v in lora.items())
    # the same weights reply alike (an exact bf16 tie at token 24 flipped while training's autocast
    # wrapper stayed on the trained guide)
    messages = guide_messages(MathGuide, {"question": QUESTIONS[0]})
    assert fresh.guide.local_lm.complete(messages, max_tokens=32) == trained.local_lm.complete(
        messages, max_tokens=32
    )


def test_the_trained_guide_is_served_without_trainings_autocast_wrapper():
    """accelerate wraps the model's ``forward`` in bf16 autocast for mixed-precision training; the
    guide handed back must run its class's own ``forward``, as the same weights loaded do."""
    guide = gcop.Guide(MathGuide, gcop.LocalLM("tiny", name=f"tiny-{uuid.uuid4().hex[:8]}"))
    trained, _ = train_sft(guide, PAIRS, small_config(sft_args={"max_steps": 1, "bf16": True}))

    model = trained.local_lm.model
    ids = torch.tensor([[5, 9, 2, 7, 11, 3]])
    with torch.no_grad():
        served = model(input_ids=ids).logits
        own = type(model).forward(model, input_ids=ids).logits
    assert served.dtype == own.dtype
    assert torch.equal(served, own)


def test_micro_batches_accumulate_to_the_same_update_as_one_batch():
    """sft_batch_size examples per step, in forward passes of sft_micro_batch_size: one step
    over 8 pairs of different lengths moves the weights as one batch of 8 does."""
    pairs = [({"question": q}, "1. add" + " then add" * i) for i, q in enumerate(QUESTIONS * 2)]
    config = small_config(sft_args={"max_steps": 1, "optim": "sgd"})  # the update is lr × grad
    whole, one_pass = train_sft(
        tiny_guide(), pairs, config.model_copy(update={"sft_micro_batch_size": 8})
    )
    parts, summary = train_sft(tiny_guide(), pairs, config)  # default: 4 passes of 2
    assert summary["steps"] == 1
    assert summary["final_loss"] == pytest.approx(one_pass["final_loss"], rel=1e-4)
    one, four = snapshot(whole), snapshot(parts)
    adapter = [key for key in one if "lora_B" in key]  # B starts at 0: its value is the update
    update = torch.cat([one[key].flatten() for key in adapter])
    difference = torch.cat([(four[key] - one[key]).flatten() for key in adapter])
    assert update.norm() > 0
    # bf16 autocast on this CPU leaves ~0.2%; one micro-batch alone would differ by ~100%
    assert difference.norm() / update.norm() < 0.01


def test_a_stopped_sft_run_resumes_from_its_checkpoint(tmp_path, caplog):
    def lora(guide):
        weights = guide.local_lm.model.state_dict()
        return {k: v.detach().clone() for k, v in weights.items() if "lora_" in k}

    def config_in(folder):
        return small_config(
            sft_args={"max_steps": 4}, sft_save_steps=1, sft_checkpoint_dir=str(folder)
        )

    start = tiny_guide()
    stopped = sft_trainer(start, PAIRS, config_in(tmp_path), str(tmp_path))
    stopped.add_callback(StopAt(2))
    stopped.train()
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]

    with caplog.at_level("INFO", logger="gcop.optimizers.checkpoints"):
        resumed, summary = train_sft(start, PAIRS, config_in(tmp_path))
    assert "resumes from" in caplog.text and "checkpoint-2" in caplog.text
    assert summary["steps"] == 4
    straight, _ = train_sft(start, PAIRS, config_in(tmp_path / "straight"))
    after_resume, never_stopped = lora(resumed), lora(straight)
    assert any(v.abs().sum() > 0 for k, v in after_resume.items() if "lora_B" in k)  # trained
    # the resumed run is the one that never stopped: weights, optimizer, schedule, data order
    for name, value in never_stopped.items():
        torch.testing.assert_close(after_resume[name], value, rtol=1e-4, atol=1e-6)


def test_sft_checkpoints_need_a_folder_to_keep_them_in():
    with pytest.raises(ValueError, match="sft_save_steps needs sft_checkpoint_dir"):
        small_config(sft_save_steps=5)
