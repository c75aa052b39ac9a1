"""The cached model folders: a registry GGUF converted once to fp32 safetensors, the tiny model
saved once. Each folder is built in a temporary folder under a cross-process lock and moved into
place with its marker file written last, so a folder with the marker is complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gcop.lm.gguf_fetch import assemble_gguf
from gcop.lm.registry import MARKER, TINY, GGUFModel, cache_dir

logger = logging.getLogger(__name__)


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """Cross-process lock so two processes never build the same cache entry at once."""
    from filelock import FileLock

    locks = cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(locks / f"{name}.lock"))
    try:
        lock.acquire(timeout=1)
    except TimeoutError:
        logger.info("waiting for another process preparing %r", name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _publish(tmp: Path, dest: Path) -> None:
    """Atomically move a finished temp folder into place (readable by all, like a normal cache)."""
    tmp.chmod(0o755)  # mkdtemp makes 0700 folders
    for file in tmp.iterdir():
        file.chmod(0o644)
    if dest.exists():  # a stale, unmarked folder from an interrupted older layout
        shutil.rmtree(dest)
    os.replace(tmp, dest)


def converted_folder(name: str, spec: GGUFModel) -> Path:
    """The fp32 safetensors folder of registry model ``name``, converted on first use."""
    dest = cache_dir() / "models" / name
    if (dest / MARKER).exists():
        return dest
    with _locked(name):
        if (dest / MARKER).exists():
            return dest
        start = time.monotonic()
        gguf = assemble_gguf(name, spec)
        logger.info("converting %s to fp32 safetensors (once; about a minute per 0.5B)", name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
        try:
            convert_gguf(gguf, tmp)
            marker = {"name": name, "sha256": spec.sha256, "upstream": spec.upstream}
            marker["license"] = spec.license
            (tmp / MARKER).write_text(json.dumps(marker, indent=2))
            _publish(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        gguf.unlink(missing_ok=True)  # rebuildable from the wheels; keep only the fast folder
        logger.info("%s ready at %s (%.0f s)", name, dest, time.monotonic() - start)
    return dest


def tiny_folder() -> Path:
    """The tiny test model's folder, saved on first use."""
    dest = cache_dir() / "models" / TINY
    if (dest / MARKER).exists():
        return dest
    from gcop.lm.tiny import tiny_model

    with _locked(TINY):
        if (dest / MARKER).exists():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=dest.parent))
        model, tokenizer = tiny_model(seed=0)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(json.dumps({"name": TINY, "seed": 0}))
        _publish(tmp, dest)
    return dest


def convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantize ``gguf`` with transformers; save a plain fp32 safetensors folder at ``dest``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers flags GGUF-loaded models as quantized, which blocks saving and training; the
    # weights are already dequantized to fp32, so dropping the flag is safe.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
