"""The reward's per-step rows kept inside each GRPO checkpoint.

A resumed run starts a new reward function whose history is empty; without these files its
summary (``history``, ``first_reward``, core calls and tokens, training time) and the report's
curves would cover only the steps since the last resume. They are written after transformers'
own files, so a run resumes from the newest checkpoint that holds them.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback  # imported only where GRPO trains, never by `import gcop`
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from gcop.optimizers.checkpoints import TRAINER_STATE, last_checkpoint

logger = logging.getLogger(__name__)

HISTORY_FILE = "gcop_reward_history.json"


class KeepRewardHistory(TrainerCallback):
    """Writes the reward's rows so far, and the training time, into each checkpoint it saves.

    ``earlier_s`` is the training time of the runs this one resumes (from
    :func:`restore_reward_history`); :attr:`train_time_s` adds this run's.
    """

    def __init__(self, reward_fn: Any, earlier_s: float = 0.0) -> None:
        self.reward_fn, self.earlier_s = reward_fn, earlier_s
        self.started = time.perf_counter()

    @property
    def train_time_s(self) -> float:
        return round(self.earlier_s + time.perf_counter() - self.started, 3)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if not folder.is_dir():
            return
        rows = [row for row in self.reward_fn.history if row["step"] <= state.global_step]
        saved = {"history": rows, "train_time_s": self.train_time_s}
        (folder / HISTORY_FILE).write_text(json.dumps(saved))


def last_complete_checkpoint(folder: str | None) -> str | None:
    """The checkpoint a GRPO run in ``folder`` resumes from: the newest that holds the reward's
    rows, which go in after transformers' files (or, for a folder from before those rows
    existed, the newest with transformers' state)."""
    with_rows = folder is not None and any(Path(folder).glob(f"checkpoint-*/{HISTORY_FILE}"))
    required = (TRAINER_STATE, HISTORY_FILE) if with_rows else (TRAINER_STATE,)
    return last_checkpoint(folder, required)


def restore_reward_history(reward_fn: Any, checkpoint: str | None) -> float:
    """Put the rows saved in ``checkpoint`` before ``reward_fn``'s own; returns the training time
    they took (0 when there is no checkpoint, or it predates these files)."""
    if checkpoint is None:
        return 0.0
    path = Path(checkpoint) / HISTORY_FILE
    if not path.is_file():
        logger.warning("%s has no %s: the summary covers the resumed steps", checkpoint, path.name)
        return 0.0
    saved = json.loads(path.read_text())
    reward_fn.history[:0] = saved["history"]
    return float(saved["train_time_s"])
