"""Training runs that survive being stopped: checkpoints in a kept folder, resumed from the last.

SFT and GRPO both use them. Each checkpoint is transformers' own (``checkpoint-<step>/``): the
LoRA adapter, the optimizer, the scheduler, the RNG states and the trainer's state (step, logs).
On resume the trainer restores them and skips the batches already trained, so the data order goes
on where it stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gcop.extras import optional_imports

logger = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 2  # the last two: one may be half-written when a run is killed


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


def last_checkpoint(folder: str | Path | None) -> str | None:
    """The newest complete ``checkpoint-<step>`` folder in ``folder``, or ``None``."""
    if folder is None or not Path(folder).is_dir():
        return None
    with optional_imports():
        from transformers.trainer_utils import get_last_checkpoint

    found = get_last_checkpoint(str(folder))
    if found is not None:
        logger.info("training resumes from %s", found)
    return found
