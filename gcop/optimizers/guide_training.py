"""Plumbing shared by the guide trainers (SFT, GRPO, Advisor): copy, adapt, hand back a new Guide.

The input guide is never modified: its model is deep-copied before peft injects LoRA layers (peft
edits modules in place), and the trained weights come back in a new :class:`gcop.Guide` on a new
:class:`gcop.LocalLM`, whose name carries a fingerprint of the weights so that DSPy's cache never
serves one trained guide's outputs for another's.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gcop.extras import optional_imports, require_extra
from gcop.lm.head_input import contiguous_head_input
from gcop.lm.local import LocalLM
from gcop.lm.local_folder import is_peft
from gcop.lm.weights import weights_digest
from gcop.modules.guide import Guide
from gcop.optimizers.config import ExecTuneConfig

logger = logging.getLogger(__name__)


def require_trainable(program: Any, optimizer: str) -> None:
    """Raise unless ``program`` is a policy whose guide runs on a trainable ``gcop.LocalLM`` and
    the trainers are installed (``gcop[train]``)."""
    from gcop.modules.policy import GuideCorePolicy

    if not isinstance(program, GuideCorePolicy) or program.guide is None:
        raise TypeError(f"{optimizer} needs a GuideCorePolicy with a guide")
    _local_lm(program.guide)
    require_extra("train")  # before acceptance sampling spends core calls


def _local_lm(guide: Guide) -> Any:
    local = getattr(guide, "local_lm", None)
    if local is None:
        raise ValueError(
            "the guide must run on a trainable gcop.LocalLM, e.g. "
            "Guide(signature, lm=gcop.LocalLM('smollm2-135m'))"
        )
    return local


def trainable_copy(guide: Guide, config: ExecTuneConfig) -> tuple[Any, Any]:
    """A deep copy of the guide's model and tokenizer, safe to train.

    A guide that already carries a LoRA adapter (from SFT) keeps it, and LoRA training goes on
    in that adapter: merging it into bfloat16 base weights would round most of its small updates
    away. A full fine-tune gets one flat float32 model (adapters merged in float32), since
    bfloat16 master weights would lose small updates the same way.
    """
    local = _local_lm(guide)
    model = strip_trainer_patches(copy.deepcopy(local.model))
    contiguous_head_input(model)  # GRPO samples its groups with the frozen base head
    if config.lora and is_peft(model):
        for name, parameter in model.named_parameters():
            parameter.requires_grad_("lora_" in name)
        model.train()
        return model, copy.deepcopy(local.tokenizer)
    if not config.lora:
        model = model.float()
    if is_peft(model):  # a full fine-tune trains one flat model
        model = model.merge_and_unload()
    model.requires_grad_(True)  # a merged adapter leaves the base frozen; peft re-freezes for LoRA
    model.train()
    return model, copy.deepcopy(local.tokenizer)


def new_adapter(model: Any, config: ExecTuneConfig) -> Any:
    """The peft ``LoraConfig`` a trainer should add to ``model``: none when LoRA is off or the
    model already carries the adapter being trained."""
    return None if is_peft(model) else lora_config(config)


def strip_trainer_patches(model: Any) -> Any:
    """Remove the ``forward`` methods trainers patch onto a model instance; the class's own
    ``forward`` takes over again.

    Two patches: TRL's fused LM head, a closure over the *original* model's bound ``forward`` (left
    in place, a deep copy would keep running the original's weights and training the copy would
    change nothing it generates); and accelerate's mixed-precision wrapper, which would serve the
    trained guide under bf16 autocast with its outputs cast to float32, so it would not answer as
    the same weights loaded from disk do.
    """
    for module in model.modules():
        patched = module.__dict__.get("forward")
        code = getattr(getattr(patched, "__func__", patched), "__code__", None)
        fused = code is not None and code.co_name == "_fused_forward"
        autocast = module.__dict__.pop("_original_forward", None) is not None
        if patched is not None and (fused or autocast):
            del module.__dict__["forward"]
    return model


def lora_config(config: ExecTuneConfig) -> Any:
    """The peft ``LoraConfig`` (all linear layers, ``config.lora_args`` on top), or ``None`` for
    a full fine-tune."""
    if not config.lora:
        return None
    with optional_imports():
        from peft import LoraConfig

    settings = {
        "r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": 0.0,
        "target_modules": "all-linear",
        "task_type": "CAUSAL_LM",
    }
    return LoraConfig(**{**settings, **config.lora_args})


def micro_batches(batch_size: int, most: int, trl_args: dict[str, Any]) -> dict[str, int]:
    """TRL settings that take ``batch_size`` examples per optimizer step in forward passes of
    at most ``most`` examples: the largest divisor of ``batch_size`` that fits, accumulated.
    Measured on the 0.5B guide's SFT (docs/engine.md, Training): 4 × 2 instead of 8 at once
    trains with the same losses in two thirds of the time and about half the peak memory, since
    short rows no longer pad to the longest of 8. Where the user's ``trl_args`` set either TRL
    setting, they keep TRL's meaning over a batch of ``batch_size`` per pass.

    >>> micro_batches(8, 2, {})
    {'per_device_train_batch_size': 2, 'gradient_accumulation_steps': 4}
    >>> micro_batches(6, 4, {})
    {'per_device_train_batch_size': 3, 'gradient_accumulation_steps': 2}
    >>> micro_batches(8, 2, {"gradient_accumulation_steps": 2})
    {'per_device_train_batch_size': 8, 'gradient_accumulation_steps': 1}
    """
    if {"per_device_train_batch_size", "gradient_accumulation_steps"} & set(trl_args):
        return {"per_device_train_batch_size": batch_size, "gradient_accumulation_steps": 1}
    micro = max(size for size in range(1, min(batch_size, most) + 1) if batch_size % size == 0)
    steps = batch_size // micro
    return {"per_device_train_batch_size": micro, "gradient_accumulation_steps": steps}


def shared_trainer_args(model: Any, config: ExecTuneConfig, output_dir: str) -> dict[str, Any]:
    """Settings every TRL config here shares: no saving, no reports, seeded, quiet logs; bf16
    autocast where the hardware computes bfloat16 natively (see :mod:`gcop.lm.precision`).
    ``ExecTuneConfig.sft_args`` / ``grpo_args`` override any of them."""
    from gcop.lm.precision import pick_dtype

    device = next(model.parameters()).device
    return {
        "output_dir": output_dir,
        "use_cpu": device.type == "cpu",
        "bf16": str(pick_dtype("auto", str(device))) == "torch.bfloat16",
        "fp16": False,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "activation_checkpointing": False,
        "seed": config.seed,
        "data_seed": config.seed,
        "dataloader_num_workers": 0,
    }


@contextmanager
def dataset_bars_off() -> Iterator[None]:
    """No progress bars from ``datasets`` (TRL's tokenizing and label passes over a few hundred
    rows) while the block runs: a phase shows its training bar alone."""
    with optional_imports():
        from datasets.utils import logging as datasets_logging

    was_on = datasets_logging.is_progress_bar_enabled()
    datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            datasets_logging.enable_progress_bar()


# what the training bar shows of a step's logs, and as what
BAR_FIELDS = {"loss": "loss", "reward": "reward", "gcop/plan_right_rate": "right plans"}


def quiet_progress(trainer: Any) -> Any:
    """Swap the trainer's progress bar for one that shows the step's loss and reward (and, with
    a plan verifier, the share of right plans) instead of printing log dicts."""
    with optional_imports():
        from transformers.trainer_callback import ProgressCallback

    class LossBar(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.training_bar is not None and logs:
                shown = {name: logs[key] for key, name in BAR_FIELDS.items() if key in logs}
                if shown:
                    self.training_bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()})

    if any(type(cb) is ProgressCallback for cb in trainer.callback_handler.callbacks):
        trainer.remove_callback(ProgressCallback)  # absent when the user disabled tqdm
        trainer.add_callback(LossBar())
    return trainer


def trained_guide(guide: Guide, model: Any, tokenizer: Any, suffix: str) -> Guide:
    """A new Guide serving ``model``, with the input guide's settings (:meth:`Guide.with_lm`).
    A LoRA adapter stays unmerged: merged into bfloat16 weights its updates would mostly round
    away, and unmerged it saves as an adapter over the input guide's base model (see
    :meth:`gcop.LocalLM.save`)."""
    strip_trainer_patches(model).eval()
    name = f"{guide.local_lm.name}-{suffix}-{fingerprint(model)}"
    base = guide.local_lm.base if is_peft(model) else None
    local = LocalLM(model, tokenizer=tokenizer, name=name, base=base)
    return guide.with_lm(local)


def fingerprint(model: Any) -> str:
    """8 hex digits that change when the weights change (a sample of every tensor is hashed)."""
    return weights_digest(model.state_dict(), digest_size=4)


def loss_history(trainer: Any) -> list[float]:
    """The per-step training losses TRL logged."""
    return [round(float(e["loss"]), 6) for e in trainer.state.log_history if "loss" in e]


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (peft draws LoRA weights as soon as it wraps the model)."""
    with optional_imports():
        from transformers import set_seed as hf_set_seed

    hf_set_seed(seed)
