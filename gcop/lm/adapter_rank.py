"""A smaller copy of a saved LoRA guide: its adapter cut to a lower rank, stored in bf16.

A LoRA update is ``ΔW = s·B·A`` (``s = lora_alpha / r``). Its best rank-``k`` approximation (in
the Frobenius norm) keeps the ``k`` largest singular values of ``s·B·A``, which a QR of each
factor finds from an ``r × r`` SVD, without forming ``ΔW``. The copy stores ``B' = U_k·√S_k`` and
``A' = √S_k·V_kᵀ`` with ``lora_alpha = k`` (``s' = 1``), so peft and :class:`gcop.LocalLM` load
it as any adapter. How much of each update survives is reported (the energy share
``Σ_{i≤k} σᵢ² / Σ σᵢ²``); whether the guide still plans as well is for an evaluation to say.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from gcop.extras import optional_imports
from gcop.lm.local_folder import SPEC_FILE

ADAPTER_DIR = "adapter"
WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
DTYPES = ("bfloat16", "float16", "float32")


@dataclass(frozen=True)
class RankCut:
    """What :func:`shrink_adapter` kept: the new rank, the file size, and the smallest and mean
    share of an update's energy (squared singular values) that survived the cut."""

    rank: int
    bytes: int
    min_energy_kept: float
    mean_energy_kept: float


def shrink_adapter(
    folder: str | Path, out: str | Path, rank: int, dtype: str = "bfloat16"
) -> RankCut:
    """Write to ``out`` a copy of the LocalLM folder ``folder`` (a guide saved by
    :meth:`gcop.LocalLM.save`) whose LoRA adapter is cut to ``rank`` and stored in ``dtype``;
    its ``name`` gains a ``-r<rank>`` suffix so that cached replies of the original are not
    reused."""
    with optional_imports():
        import torch
        from safetensors.torch import load_file, save_file

    source, target = Path(folder), Path(out)
    config = _adapter_config(source)
    if not 1 <= rank <= config["r"]:
        raise ValueError(f"rank must be between 1 and the adapter's rank {config['r']}, got {rank}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if target.exists():
        raise FileExistsError(f"{target} exists: pass a new folder for the smaller copy")
    scale = config["lora_alpha"] / (
        math.sqrt(config["r"]) if config.get("use_rslora") else config["r"]
    )
    weights = load_file(source / ADAPTER_DIR / WEIGHTS_FILE)
    if any(not k.endswith((".lora_A.weight", ".lora_B.weight")) for k in weights):
        raise ValueError(f"{source} holds weights besides LoRA factors (a bias?): not supported")
    cut, kept = {}, []
    for key_a in sorted(k for k in weights if ".lora_A." in k):
        key_b = key_a.replace(".lora_A.", ".lora_B.")
        a, b, energy = _cut(weights[key_a].double(), weights[key_b].double(), scale, rank)
        cut[key_a], cut[key_b] = a.to(getattr(torch, dtype)), b.to(getattr(torch, dtype))
        kept.append(energy)
    shutil.copytree(source, target)
    save_file(cut, target / ADAPTER_DIR / WEIGHTS_FILE, metadata={"format": "pt"})
    config.update(r=rank, lora_alpha=rank, use_rslora=False)
    (target / ADAPTER_DIR / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    settings = json.loads((target / SPEC_FILE).read_text())
    settings["name"] = f"{settings['name']}-r{rank}"
    (target / SPEC_FILE).write_text(json.dumps(settings, indent=2))
    return RankCut(
        rank=rank,
        bytes=(target / ADAPTER_DIR / WEIGHTS_FILE).stat().st_size,
        min_energy_kept=round(min(kept), 6),
        mean_energy_kept=round(sum(kept) / len(kept), 6),
    )


def _adapter_config(folder: Path) -> dict:
    """The adapter's peft config, refusing what a rank cut cannot carry over."""
    path = folder / ADAPTER_DIR / CONFIG_FILE
    if not (folder / SPEC_FILE).is_file() or not path.is_file():
        raise ValueError(
            f"{folder} is not a LocalLM folder with a LoRA adapter (expected {SPEC_FILE} "
            f"and {ADAPTER_DIR}/{CONFIG_FILE}): pass a guide saved by gcop.LocalLM.save"
        )
    config = json.loads(path.read_text())
    if config.get("peft_type") != "LORA":
        raise ValueError(f"{path} holds a {config.get('peft_type')} adapter; only LoRA is cut")
    if config.get("rank_pattern") or config.get("alpha_pattern") or config.get("modules_to_save"):
        raise ValueError(
            f"{path} sets per-module ranks or alphas, or saves whole modules: not supported"
        )
    return config


def _cut(a, b, scale: float, rank: int):
    """``(A', B', energy kept)`` for the best rank-``rank`` approximation of ``scale·B·A``."""
    with optional_imports():
        import torch

    q_b, r_b = torch.linalg.qr(b)  # b: out × r
    q_a, r_a = torch.linalg.qr(a.T)  # a: r × in
    u, s, vh = torch.linalg.svd(scale * r_b @ r_a.T)
    root = s[:rank].sqrt()
    new_b = q_b @ (u[:, :rank] * root)
    new_a = (root[:, None] * vh[:rank]) @ q_a.T
    total = float((s**2).sum())
    energy = float((s[:rank] ** 2).sum()) / total if total > 0 else 1.0
    return new_a.contiguous(), new_b.contiguous(), energy
