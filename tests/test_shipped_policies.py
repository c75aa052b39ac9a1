"""The policies the repository ships load as saved policies, with the weights their README names."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from gcop.modules.policy_file import read_policy_folder

POLICIES = Path(__file__).resolve().parent.parent / "policies"
FOLDERS = sorted(p for p in POLICIES.iterdir() if p.is_dir())


def test_the_repository_ships_a_policy():
    assert [p.name for p in FOLDERS] == ["gsm8k-1.5b-guide"]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_a_shipped_policy_is_complete_small_and_the_one_its_readme_names(folder):
    saved = read_policy_folder(folder)  # schema, paths and the guide's weight digests
    adapter = folder / "guide" / "adapter" / "adapter_model.safetensors"
    assert adapter.stat().st_size <= 20 * 2**20
    digest = hashlib.sha256(adapter.read_bytes()).hexdigest()
    readme = (POLICIES / "README.md").read_text()
    assert digest in re.findall(r"[0-9a-f]{64}", readme)
    assert saved.guided and saved.inference["kit"]["min_agreement"] == 0.4
