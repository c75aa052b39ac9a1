"""Which device an in-process model loads on when none is named.

Under a distributed launch (``accelerate launch``, ``torchrun``) every process gets a device of its
own, as accelerate assigns it (``cuda:<local rank>``, or ``cpu`` under ``accelerate launch --cpu``);
otherwise the GPU when there is one, else the CPU. Without this, every launched process would load
its models on ``cuda:0``.
"""

from __future__ import annotations

import os

from gcop.extras import optional_imports


def launched_distributed() -> bool:
    """Whether this process is one of several started by a distributed launcher (read from the
    environment the launcher sets; nothing is initialised)."""
    return "LOCAL_RANK" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


def default_device() -> str:
    """The device this process loads a model on: its own under a distributed launch, else
    ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    with optional_imports():
        import torch

    if launched_distributed():
        with optional_imports():
            from accelerate import PartialState
            from accelerate.utils import parse_flag_from_env

        # the state the trainers share, set up as the launcher asked (--cpu included)
        return str(PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU")).device)
    return "cuda" if torch.cuda.is_available() else "cpu"
