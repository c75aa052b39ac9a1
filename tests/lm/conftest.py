"""Fixtures for the local-LM tests: offline settings and a shared tiny LocalLM."""

from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def unique_name() -> str:
    """A fresh ``local/<name>`` so tests never replace each other's backends."""
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def tiny_lm():
    """A tiny LocalLM shared by a module's read-only tests (do not set_model on it)."""
    from gcop.lm.local import LocalLM

    lm = LocalLM("tiny", name=f"tiny-shared-{uuid.uuid4().hex[:8]}", batch_wait_s=0.0)
    assert lm.model is not None  # load once
    return lm


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty gcop cache for this test."""
    root = tmp_path / "gcop-cache"
    monkeypatch.setenv("GCOP_CACHE_DIR", str(root))
    return root
