"""Strategy SFT (§3.5, §A.7): fine-tune the guide on accepted (task, strategy) pairs.

Each pair becomes a chat-format prompt/completion row: the prompt is exactly what the guide sees at
inference (:func:`gcop.modules.guide.guide_messages`), the completion is the assistant's
``<strategy>`` block, and the loss falls on the completion only. LoRA by default, full fine-tune
with ``config.lora=False``. The input guide is left unchanged; a new Guide is returned. With
``config.sft_checkpoint_dir`` a stopped run resumes from its last checkpoint
(:mod:`gcop.optimizers.checkpoints`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from gcop.extras import optional_imports
from gcop.modules.guide import Guide
from gcop.optimizers.checkpoints import checkpoint_args, last_checkpoint
from gcop.optimizers.config import ExecTuneConfig
from gcop.optimizers.freed_memory import release_freed_memory
from gcop.optimizers.guide_training import (
    dataset_bars_off,
    loss_history,
    micro_batches,
    new_adapter,
    quiet_progress,
    set_seed,
    shared_trainer_args,
    trainable_copy,
    trained_guide,
)
from gcop.strategy import format_strategy

logger = logging.getLogger(__name__)


def sft_rows(guide: Guide, pairs: Sequence[tuple[dict[str, Any], str]]) -> list[dict[str, Any]]:
    """Conversational prompt/completion rows for TRL's ``SFTTrainer``."""
    rows = []
    for index, pair in enumerate(pairs):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ValueError(f"pairs[{index}] must be (guide inputs dict, strategy text)")
        inputs, strategy = pair
        if not isinstance(strategy, str) or not strategy.strip():
            raise ValueError(f"pairs[{index}] has an empty strategy: drop it before SFT")
        rows.append(
            {
                "prompt": guide.messages(**inputs),
                "completion": [{"role": "assistant", "content": format_strategy(strategy)}],
            }
        )
    return rows


def sft_trainer(
    guide: Guide, pairs: Sequence[tuple[dict[str, Any], str]], config: ExecTuneConfig, output_dir
):
    """The configured TRL ``SFTTrainer`` over a copy of the guide's model (not yet trained)."""
    with optional_imports():
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

    rows = sft_rows(guide, pairs)
    if not rows:
        raise ValueError("train_sft got no pairs: acceptance sampling accepted nothing")
    set_seed(config.seed)
    model, tokenizer = trainable_copy(guide, config)
    settings = dict(
        shared_trainer_args(model, config, output_dir),
        num_train_epochs=config.sft_epochs,
        learning_rate=config.sft_learning_rate,
        **micro_batches(config.sft_batch_size, config.sft_micro_batch_size, config.sft_args),
        completion_only_loss=True,
        max_length=None,
        dataset_num_proc=None,
        **checkpoint_args(config.sft_save_steps),
    )
    args = SFTConfig(**{**settings, **config.sft_args})
    with dataset_bars_off():  # one progress display for the phase: the training bar
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=new_adapter(model, config),
        )
    return quiet_progress(trainer)


def train_sft(
    guide: Guide, pairs: Sequence[tuple[dict[str, Any], str]], config: ExecTuneConfig
) -> tuple[Guide, dict[str, Any]]:
    """Fine-tune a copy of ``guide`` on ``pairs`` of (guide inputs, accepted strategy text).

    Returns the new guide (its LocalLM is named ``<base>-sft-<weights fingerprint>``) and a
    JSON-able summary of what ran: optimizer steps and epochs completed (next to the epochs
    configured), losses, train time, number of pairs. With ``config.sft_checkpoint_dir`` set,
    checkpoints are kept there (every ``config.sft_save_steps`` steps) and a run that finds one
    resumes from it, on the same pairs.
    """
    if not isinstance(config, ExecTuneConfig):
        raise TypeError(f"config must be an ExecTuneConfig, got {type(config).__name__}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gcop-sft-") as scratch:
        trainer = sft_trainer(guide, pairs, config, config.sft_checkpoint_dir or scratch)
        logger.info("SFT of %s on %d pairs", guide.local_lm.name, len(pairs))
        result = trainer.train(resume_from_checkpoint=last_checkpoint(config.sft_checkpoint_dir))
    losses = loss_history(trainer)
    new_guide = trained_guide(guide, trainer.model, trainer.processing_class, "sft")
    summary = {
        "n_pairs": len(pairs),
        # what ran: sft_args' max_steps can end training before sft_epochs
        "steps": int(trainer.state.global_step),
        "epochs": round(float(trainer.state.epoch or 0.0), 4),
        "epochs_planned": config.sft_epochs,
        "max_steps": int(trainer.state.max_steps),
        "lora": config.lora,
        "final_loss": losses[-1] if losses else None,
        "mean_loss": round(float(result.training_loss), 6),
        "loss_history": losses,
        "train_time_s": round(time.perf_counter() - start, 3),
        "model": new_guide.local_lm.name,
    }
    logger.info("SFT done: %d steps, final loss %s", summary["steps"], summary["final_loss"])
    # drop the trainer (its optimizer state and buffers), then hand the freed heap back
    del trainer, result
    release_freed_memory()
    return new_guide, summary
