"""Fingerprints of model weights: which base weights a LoRA adapter was trained on (saved beside
the adapter and checked when the base is loaded again), and the digest they share with the names
of trained guides."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from gcop.extras import optional_imports

_SAMPLE = 1 << 16  # elements hashed per tensor: enough to tell models apart, and fast
_PEFT_PREFIX = "base_model.model."


def base_fingerprint(model: Any) -> str:
    """16 hex digits identifying the base weights of ``model`` (a ``PeftModel`` or a plain one).

    LoRA tensors are skipped and peft's parameter names mapped back to the base model's, so an
    adapted model and its bare base agree; values are rounded to bfloat16 first, so a float32 and
    a bfloat16 load of the same weights agree too.
    """
    return weights_digest(_base_tensors(model), digest_size=8, as_bfloat16=True)


def weights_digest(
    tensors: Mapping[str, Any], *, digest_size: int, as_bfloat16: bool = False
) -> str:
    """Hex digest of ``tensors`` by name, hashing a sample of each (``as_bfloat16``: values
    rounded to bfloat16 first, so the dtype a model was loaded in does not change it)."""
    with optional_imports():
        import torch

    digest = hashlib.blake2b(digest_size=digest_size)
    for name, tensor in sorted(tensors.items()):
        sample = tensor.detach().reshape(-1)[:_SAMPLE]
        if as_bfloat16:
            sample = sample.to(torch.bfloat16)
        digest.update(name.encode())
        digest.update(sample.float().cpu().numpy().tobytes())
    return digest.hexdigest()


def _base_tensors(model: Any) -> dict[str, Any]:
    tensors = {}
    for name, tensor in model.state_dict().items():
        if "lora_" in name:
            continue
        name = name.removeprefix(_PEFT_PREFIX)
        tensors[re.sub(r"\.base_layer\b", "", name)] = tensor
    return tensors
