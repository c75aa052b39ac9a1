"""Training runs that survive being stopped: checkpoints in a kept folder, resumed from the last.

SFT and GRPO both use them. Each checkpoint is transformers' own (``checkpoint-<step>/``): the
LoRA adapter, the optimizer, the scheduler, the RNG states and the trainer's state (step, logs).
On resume the trainer restores them and skips the batches already trained, so the data order goes
on where it stopped.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 2  # the last two: one may be half-written when a run is killed
TRAINER_STATE = "trainer_state.json"  # transformers writes it after the weights and optimizer


def checkpoint_args(save_steps: int | None) -> dict[str, Any]:
    """Trainer settings that save every ``save_steps`` optimizer steps (none when ``None``).

    >>> checkpoint_args(10)
    {'save_strategy': 'steps', 'save_steps': 10, 'save_total_limit': 2, 'save_only_model': False}
    >>> checkpoint_args(None)
    {}
    """
    if save_steps is None:
        return {}
    return {
        "save_strategy": "steps",
        "save_steps": save_steps,
        "save_total_limit": KEEP_CHECKPOINTS,
        "save_only_model": False,  # the optimizer, scheduler and RNG too: a true resume
    }


def last_checkpoint(
    folder: str | Path | None, required: tuple[str, ...] = (TRAINER_STATE,)
) -> str | None:
    """The newest ``checkpoint-<step>`` folder in ``folder`` that holds every file of
    ``required``, or ``None``. Those files are written last, so a run killed while saving leaves
    its newest checkpoint without them, and the run resumes from the one before."""
    if folder is None or not Path(folder).is_dir():
        return None
    numbered = (
        (int(match.group(1)), path)
        for path in Path(folder).iterdir()
        if path.is_dir() and (match := re.fullmatch(r"checkpoint-(\d+)", path.name))
    )
    for _, path in sorted(numbered, reverse=True):
        missing = [name for name in required if not (path / name).is_file()]
        if not missing:
            logger.info("training resumes from %s", path)
            return str(path)
        logger.warning(
            "%s has no %s (a run stopped while saving it): not resumed from", path, missing[0]
        )
    return None
