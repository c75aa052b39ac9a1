"""as_lm: one retry layer (gcop's), a request timeout on every LM, missing keys found early."""

import dspy
import pytest

from gcop.lm import resolve
from gcop.lm.resolve import API_TIMEOUT_S, LOCAL_TIMEOUT_S, as_lm, default_timeout, missing_keys


@pytest.mark.parametrize(
    "model, api_base, timeout",
    [
        ("openai/gpt-4.1-mini", None, API_TIMEOUT_S),
        ("openai/served", "http://127.0.0.1:8000/v1", LOCAL_TIMEOUT_S),
        ("hosted_vllm/served", "http://localhost:8000/v1", LOCAL_TIMEOUT_S),
        ("openai/served", "https://gateway.example.com/v1", API_TIMEOUT_S),
        ("local/in-process", None, None),
    ],
)
def test_default_timeout_is_short_for_local_servers(model, api_base, timeout):
    assert default_timeout(model, api_base) == timeout


@pytest.mark.parametrize(
    "model, variable",
    [("openai/served", "OPENAI_API_BASE"), ("hosted_vllm/served", "HOSTED_VLLM_API_BASE")],
)
def test_a_server_named_by_the_environment_gets_the_local_timeout(model, variable, monkeypatch):
    """One rule for every route: the CLI's route to a server is the environment (issue 31)."""
    monkeypatch.setenv(variable, "http://127.0.0.1:8000/v1")
    assert default_timeout(model) == LOCAL_TIMEOUT_S
    assert as_lm(model).kwargs["timeout"] == LOCAL_TIMEOUT_S
    monkeypatch.setenv(variable, "https://gateway.example.com/v1")
    assert default_timeout(model) == API_TIMEOUT_S


def test_a_hung_local_server_is_released_within_a_minute_by_default():
    """Two timeouts in a row mark a server hung (gcop.lm.unanswered); the retry between them
    waits at most one first backoff."""
    from gcop.lm import unanswered
    from gcop.lm.retries import BACKOFF_BASE_S

    assert unanswered.STRIKES * LOCAL_TIMEOUT_S + 1.25 * BACKOFF_BASE_S <= 45  # + start-up


def test_model_strings_get_a_timeout_and_no_dspy_retries():
    lm = as_lm("openai/gpt-4.1-mini", role="core")
    assert lm.num_retries == 0 and lm.kwargs["timeout"] == API_TIMEOUT_S
    served = as_lm("openai/served", api_base="http://127.0.0.1:9/v1")
    assert served.kwargs["timeout"] == LOCAL_TIMEOUT_S
    assert as_lm("openai/gpt-4.1-mini", timeout=12).kwargs["timeout"] == 12


def test_a_users_dspy_lm_keeps_its_timeout_but_loses_its_retries():
    users = dspy.LM("openai/gpt-4.1-mini", num_retries=5, timeout=42, temperature=0.3)
    lm = as_lm(users, role="teacher")
    assert (lm.num_retries, lm.kwargs["timeout"], lm.kwargs["temperature"]) == (0, 42, 0.3)
    assert users.num_retries == 5  # the user's object is not modified
    assert as_lm(dspy.LM("openai/gpt-4.1-mini")).kwargs["timeout"] == API_TIMEOUT_S
    again = as_lm(lm.copy(num_retries=2))  # a MeteredLM is copied with the same rules
    assert again.num_retries == 0 and again.kwargs["timeout"] == 42


def test_in_process_models_get_no_timeout(scripted_lm):
    lm = as_lm(scripted_lm(["hi"]).model_string)
    assert lm.num_retries == 0 and "timeout" not in lm.kwargs


def test_the_timeout_default_is_read_when_the_lm_is_built(monkeypatch):
    monkeypatch.setattr(resolve, "LOCAL_TIMEOUT_S", 0.5)
    assert as_lm("openai/served", api_base="http://localhost:9/v1").kwargs["timeout"] == 0.5


def test_missing_keys_names_the_environment_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert missing_keys("openai/gpt-4.1-mini") == ["OPENAI_API_KEY"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-set")
    assert missing_keys("openai/gpt-4.1-mini") == []
    assert missing_keys("local/anything") == []
    assert missing_keys("ollama/llama3") == []  # a server address with a default is no key


def test_one_resolver_for_every_role():
    import gcop.tasks.gsm8k  # noqa: F401  (a task registers its offline teachers)
    from gcop.lm.local import LocalLM
    from gcop.lm.resolve import model_string, resolve_lm

    planner = resolve_lm("reference-planner", "teacher")
    assert planner == "local/gsm8k-reference-planner"
    local = resolve_lm("tiny", "judge")
    assert isinstance(local, LocalLM) and model_string(local) == "local/tiny-judge"
    assert resolve_lm("openai/gpt-4.1-mini", "core") == "openai/gpt-4.1-mini"
    lm = dspy.LM("openai/gpt-4.1-mini")
    assert resolve_lm(lm, "teacher") is lm
    # as_lm takes the same names, so any role can be given one directly
    assert as_lm("worded-planner", role="teacher").model == "local/gsm8k-worded-planner"
    assert as_lm("tiny", role="judge").model == "local/tiny-judge"
