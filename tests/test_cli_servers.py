"""The CLI against model servers on 127.0.0.1 (issue 31): a hung server releases the command in
about two timeouts, whichever way the server is named; a refusing server is never scored from a
cache another server filled."""

import time

import pytest
from fault_server import FaultServer

from gcop.cli import main
from gcop.lm import resolve, retries

ANSWER = "[[ ## reasoning ## ]]\nAdd.\n\n[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)


@pytest.fixture
def hung_server():
    server = FaultServer(lambda m: ANSWER, {i: "hang" for i in range(1, 100)}, lifetime_s=60)
    yield server
    server.close()


def evaluate(out, *extra: str, core: str = "openai/hang-core", threads=2) -> tuple[int, float]:
    start = time.monotonic()
    size = ("--n", "4", "--threads", str(threads))
    code = main(["evaluate", "--core", core, *size, "--out", str(out), *extra])
    return code, time.monotonic() - start


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gcop: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_hung_server_named_by_the_environment_is_released_after_two_timeouts(
    hung_server, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-any")
    monkeypatch.setenv("OPENAI_API_BASE", hung_server.api_base)
    code, elapsed = evaluate(tmp_path / "eval", "--timeout", "0.5")
    assert code == 2 and elapsed < 2 * 0.5 + 20  # 20 s: start-up on a loaded 2-core machine
    assert "time out" in one_line_error(capsys)
    assert hung_server.requests <= 3  # 4 examples × 4 attempts would be 16
    assert not (tmp_path / "eval").exists()


def test_the_environment_route_gets_the_local_default_timeout(
    hung_server, tmp_path, monkeypatch, capsys
):
    """No --timeout: the default for a server on this machine applies to OPENAI_API_BASE too
    (before issue 31 it got the hosted API's 300 s, retried)."""
    monkeypatch.setattr(resolve, "LOCAL_TIMEOUT_S", 0.5)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-any")
    monkeypatch.setenv("OPENAI_API_BASE", hung_server.api_base)
    code, elapsed = evaluate(tmp_path / "eval")
    assert code == 2 and elapsed < 2 * 0.5 + 20
    assert hung_server.requests <= 3


def test_core_api_base_names_the_server_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-any")
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    server = FaultServer(lambda m: ANSWER, {1: "hang", 2: "hang"}, lifetime_s=60)
    try:
        args = ("--core-api-base", server.api_base, "--timeout", "0.5")
        code, _ = evaluate(tmp_path / "hung", *args, core="openai/served", threads=1)
        assert code == 2 and server.requests == 2  # then it is not asked again
        from gcop.lm import unanswered

        unanswered.forget()
        served = server.served
        code, _ = evaluate(tmp_path / "eval", *args, core="openai/served")
        assert code == 0, capsys.readouterr().err
        assert server.served - served == 4  # each example asked the server named here
    finally:
        server.close()


def test_server_flags_are_checked_before_any_work(tmp_path, capsys):
    base = ["evaluate", "--core", "openai/m", "--out", str(tmp_path / "e")]
    for bad in ("0", "-3", "nan", "inf", "soon"):
        with pytest.raises(SystemExit) as exit_:
            main([*base, "--timeout", bad])
        assert exit_.value.code == 2
    assert (
        main(
            [
                "evaluate",
                "--core",
                "tiny",
                "--core-api-base",
                "http://127.0.0.1:9/v1",
                "--out",
                str(tmp_path / "e"),
            ]
        )
        == 2
    )
    assert "runs in this process" in one_line_error(capsys)
    assert not (tmp_path / "e").exists()


def test_a_refusing_server_is_never_scored_from_another_servers_cache(
    tmp_path, monkeypatch, capsys
):
    """DSPy's cache key leaves out the server: replies cached from one server under a model
    string must not answer for another that refuses every request (issue 31, item 4)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-any")
    answering = FaultServer(lambda m: ANSWER, lifetime_s=60)
    refusing = FaultServer(lambda m: ANSWER, {i: 401 for i in range(1, 100)}, lifetime_s=60)
    try:
        monkeypatch.setenv("OPENAI_API_BASE", answering.api_base)
        code, _ = evaluate(tmp_path / "first", core="openai/served")
        assert code == 0 and answering.served == 4  # the cache now holds its 4 replies
        code, _ = evaluate(tmp_path / "again", core="openai/served")
        assert code == 0 and answering.served == 4  # the same server: answered from the cache
        monkeypatch.setenv("OPENAI_API_BASE", refusing.api_base)
        code, _ = evaluate(tmp_path / "refused", core="openai/served")
    finally:
        answering.close()
        refusing.close()
    assert code == 2 and refusing.requests >= 1
    assert "every example failed" in one_line_error(capsys)
    assert not (tmp_path / "refused").exists()


class DiesAfter(FaultServer):
    """Answers its first ``healthy`` requests, then returns HTTP 500 to every one."""

    def __init__(self, reply, healthy: int) -> None:
        super().__init__(reply, lifetime_s=120)
        self.healthy = healthy

    def fault_for(self, number, messages):
        return 500 if number > self.healthy else None


def test_a_core_that_dies_during_grpo_ends_compile_in_one_line_keeping_its_work(
    tmp_path, monkeypatch, capsys
):
    """Issue 31.3: acceptance finishes (here it refuses the teacher's plan without a core call),
    then every core call of GRPO gets HTTP 500: one line naming the cause and what is kept,
    exit 2, and the acceptance records stay for a rerun."""
    from gcop.tasks import gsm8k

    gold = gsm8k.load("train", n=1)[0].gold
    server = DiesAfter(lambda m: f"So the answer is {gold}.", healthy=0)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-any")
    config = tmp_path / "run.toml"
    config.write_text("max_retries = 0\nk = 2\ngrpo_steps = 1\nlambda_judge = 0.0\n")
    out = tmp_path / "run"
    args = ["compile", "--core", "openai/dying-core", "--core-api-base", server.api_base]
    args += ["--guide", "tiny", "--teacher", "reference-planner", "--n-train", "1"]
    try:
        code = main([*args, "--config", str(config), "--out", str(out)])
    finally:
        server.close()
    assert code == 2
    err = capsys.readouterr().err  # the error may follow the step's unfinished progress bar
    assert err.count("gcop: error:") == 1 and "Traceback" not in err, err
    line = err.split("gcop: error:")[1].splitlines()[0]
    assert "core calls of this GRPO step failed" in line and "is kept" in line
    assert server.served == 0 and server.injected and set(server.injected) == {500}
    assert any(out.rglob("records.jsonl"))  # acceptance's work, kept for the rerun
