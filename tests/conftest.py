"""Shared test set-up: offline LiteLLM, an isolated DSPy cache, and the scripted fake LM."""

import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_dspy_cache(tmp_path_factory):
    """Each test gets an empty DSPy cache (memory + its own disk folder), never the user's."""
    import dspy

    folder = tmp_path_factory.mktemp("dspy-cache")
    dspy.configure_cache(
        enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(folder)
    )
    yield


@pytest.fixture(autouse=True)
def no_server_marked_hung():
    """A server another test let time out (its port may be reused) is not refused here."""
    from gcop.lm import unanswered

    unanswered.forget()
    yield
    unanswered.forget()


@pytest.fixture
def scripted_lm():
    """Factory: ``scripted_lm(replies_or_fn)`` → a registered :class:`fakes.ScriptedLM`."""
    from fakes import ScriptedLM

    made = []

    def make(replies, name="", **options):
        lm = ScriptedLM(replies, name, **options)
        made.append(lm)
        return lm

    yield make
    for lm in made:
        lm.close()
