"""SFT computes in bfloat16 where :mod:`gcop.lm.precision` says the CPU has it, float32 otherwise:
observed in the dtype the model's linear layers produce while the trainer trains. The bf16
autocast wrapper accelerate installs for that is on the model during training and gone from the
guide handed back."""

import pytest
import torch
from training_fakes import QUESTIONS, small_config, tiny_guide

from gcop.lm import precision
from gcop.optimizers.guide_training import trained_guide
from gcop.optimizers.sft import sft_trainer, train_sft

PAIRS = [({"question": q}, "1. add") for q in QUESTIONS]


def train_one_step(tmp_path, sft_args=None):
    """(trainer after one SFT step, the set of dtypes its linear layers produced meanwhile)."""
    config = small_config(sft_args={"max_steps": 1, **(sft_args or {})})
    trainer = sft_trainer(tiny_guide(), PAIRS, config, str(tmp_path))
    seen = set()
    hooks = [
        module.register_forward_hook(lambda module, args, output: seen.add(output.dtype))
        for module in trainer.model.modules()
        if isinstance(module, torch.nn.Linear)
    ]
    try:
        trainer.train()
    finally:
        for hook in hooks:
            hook.remove()
    return trainer, seen


def autocast_wrapped(model) -> bool:
    """Whether accelerate's mixed-precision wrapper sits on any module of ``model``."""
    return any("_original_forward" in module.__dict__ for module in model.modules())


def test_sft_trains_in_the_dtype_precision_picks_for_this_cpu(tmp_path):
    expected = precision.pick_dtype("auto", "cpu")
    assert expected == (torch.bfloat16 if precision.cpu_supports_bf16() else torch.float32)
    trainer, seen = train_one_step(tmp_path)
    assert trainer.args.bf16 is (expected == torch.bfloat16)
    assert seen == {expected}
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    assert trainable and {p.dtype for p in trainable} == {torch.float32}  # float32 master weights


@pytest.mark.parametrize("has_bf16", [True, False], ids=["bf16-cpu", "plain-cpu"])
def test_sft_follows_the_cpus_bf16_support(tmp_path, monkeypatch, has_bf16):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: has_bf16)
    trainer, seen = train_one_step(tmp_path)
    assert trainer.args.bf16 is has_bf16
    assert seen == {torch.bfloat16 if has_bf16 else torch.float32}


def test_sft_args_bf16_false_trains_in_float32_on_any_cpu(tmp_path):
    _, seen = train_one_step(tmp_path, {"bf16": False})  # bf16=True: see the wrapper test below
    assert seen == {torch.float32}


def test_training_installs_the_autocast_wrapper_and_the_served_guide_drops_it(tmp_path):
    guide = tiny_guide()
    trainer, seen = train_one_step(tmp_path, {"bf16": True})
    assert seen == {torch.bfloat16}
    assert autocast_wrapped(trainer.model)  # what strip_trainer_patches exists to remove
    served = trained_guide(guide, trainer.model, trainer.processing_class, "sft").local_lm.model
    assert not autocast_wrapped(served)
    assert not any("forward" in module.__dict__ for module in served.modules())

    public, _ = train_sft(guide, PAIRS, small_config(sft_args={"max_steps": 1, "bf16": True}))
    assert not autocast_wrapped(public.local_lm.model)
