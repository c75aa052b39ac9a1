"""The CLI's expected failures: one line naming the fix, exit status 2, nothing half-written."""

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata

import pytest

import gcop
from gcop import cli
from gcop.cli import main
from gcop.lm import retries


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(retries, "BACKOFF_BASE_S", 0.001)


class RefusingServer:
    """An OpenAI-compatible server on 127.0.0.1 that answers every request with HTTP 401."""

    def __init__(self) -> None:
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                server.requests += 1
                self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.dumps({"error": {"message": "Incorrect API key provided"}}).encode()
                self.send_response(401)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def refusing_server():
    server = RefusingServer()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gcop: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def compile_args(out, teacher="openai/gpt-4.1"):
    return [
        "compile",
        *("--core", "tiny", "--guide", "tiny", "--teacher", teacher),
        *("--n-train", "1", "--grpo-steps", "0", "--out", str(out)),
    ]


def test_a_missing_key_is_named_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(compile_args(tmp_path / "run")) == 2
    assert "openai/gpt-4.1 needs OPENAI_API_KEY in the environment" in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_refused_key_stops_compile_in_one_line_and_leaves_no_run_folder(
    tmp_path, monkeypatch, capsys, refusing_server
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    monkeypatch.setenv("OPENAI_API_BASE", refusing_server.api_base)
    assert main(compile_args(tmp_path / "run")) == 2
    line = one_line_error(capsys)
    assert "refused the credentials" in line and "API key" in line
    assert refusing_server.requests == 1  # an auth failure is not retried
    assert list(tmp_path.iterdir()) == []  # no empty records.jsonl, no .partial


def test_compile_against_a_dead_teacher_stops_in_one_line_before_training(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-any")
    monkeypatch.setenv("OPENAI_API_BASE", f"http://127.0.0.1:{closed_port()}/v1")
    assert main(compile_args(tmp_path / "run")) == 2
    line = one_line_error(capsys)
    assert "acceptance sampling decided none of the 1 tasks: 2 calls failed" in line
    assert not (tmp_path / "run.partial").exists()


def test_evaluate_fails_when_every_example_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-any")
    monkeypatch.setenv("OPENAI_API_BASE", f"http://127.0.0.1:{closed_port()}/v1")
    out = tmp_path / "eval"
    args = ["evaluate", "--core", "openai/nobody-home", "--n", "2", "--out", str(out)]
    assert main(args) == 2
    assert "every example failed, so no report was written" in one_line_error(capsys)
    assert not out.exists()


def test_bad_folders_are_one_line_errors_and_verbose_adds_the_traceback(tmp_path, capsys):
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "policy.json").write_text("{}")
    base = ["evaluate", "--core", "tiny", "--guide", "tiny", "--n", "1"]
    assert main([*base, "--policy", str(policy), "--out", str(tmp_path / "e")]) == 2
    assert "policy.json is not a saved gcop policy" in one_line_error(capsys)
    assert not (tmp_path / "e").exists()

    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main([*base, "--out", str(a_file / "sub")]) == 2
    assert f"{a_file} is a file; pass a folder path" in one_line_error(capsys)
    assert main(["report", str(a_file)]) == 2
    assert "holds no results.json" in one_line_error(capsys)
    (tmp_path / "results.json").write_text('{"results": [{"name": "x"}]}')
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a results.json gcop wrote" in one_line_error(capsys)

    assert main(["-v", *base, "--policy", str(policy), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("gcop: error:")


def test_evaluate_swaps_the_core_of_a_saved_policy(tmp_path, scripted_lm, capsys):
    saved_core = scripted_lm(["[[ ## answer ## ]]\nThe answer is 1"])
    new_core = scripted_lm(["[[ ## answer ## ]]\nThe answer is 2"])
    guide = scripted_lm(["<strategy>1. add the numbers</strategy>"])
    policy = gcop.GuideCorePolicy(
        guide=gcop.Guide(gcop.signatures.MathGuide, lm=guide.model_string),
        core=gcop.Core(gcop.signatures.MathSolve, lm=saved_core.model_string),
    )
    policy.save(tmp_path / "policy")
    args = [
        "evaluate",
        *("--policy", str(tmp_path / "policy"), "--n", "2", "--threads", "1"),
        *("--core", new_core.model_string, "--guide", guide.model_string),
        *("--out", str(tmp_path / "eval")),
    ]
    assert main(args) == 0
    assert saved_core.calls == [] and len(new_core.calls) == len(guide.calls) == 2
    report = json.loads((tmp_path / "eval" / "results.json").read_text())["results"][0]
    assert (report["name"], report["n"], report["valid_rate"]) == ("policy", 2, 1.0)
    summary = capsys.readouterr().out.splitlines()  # a few lines for a person, not JSON
    assert len(summary) == 3 and summary[0].startswith("policy: accuracy 0.000 (95% CI 0.000-")
    assert summary[1].startswith("cost: $0.0000 over 4 model calls; wall time ")
    assert summary[2] == f"report: {tmp_path / 'eval' / 'report.md'} (full record: --json)"

    assert main([*args, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["name"], record["n"], record["valid_rate"]) == ("policy", 2, 1.0)


def test_negative_grpo_steps_are_refused(tmp_path, capsys):
    from gcop.cli import main

    args = ["compile", "--core", "local/x", "--teacher", "local/x", "--grpo-steps", "-4"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "must be 0 or more, got -4" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_compile_defaults_are_read_from_the_config(monkeypatch):
    from gcop.cli import _parser
    from gcop.optimizers.config import ExecTuneConfig
    from gcop.run_config import compile_config

    argv = ["compile", "--core", "c", "--teacher", "t", "--out", "o"]
    args = _parser().parse_args(argv)  # no flag given: each field keeps the config's default
    assert compile_config(args, privileged_teacher=False) == ExecTuneConfig()
    for name, value in (("k", 9), ("tau", 0.6), ("grpo_steps", 11)):
        monkeypatch.setattr(ExecTuneConfig.model_fields[name], "default", value)
    parser = _parser()
    compile_help = parser._subparsers._group_actions[0].choices["compile"].format_help()
    shown = " ".join(compile_help.split())
    for value in (9, 0.6, 11):
        assert f"(default: --config's, else {value})" in shown


RUN_YAML = """
k: 3
tau: 0.5
sft_learning_rate: 1e-5   # YAML 1.1 reads this as a string; --config reads a number
grpo_steps: 7
sft_args: {max_steps: 2}
grpo_args: {beta: 0.0}
lora_args: {r: 4}
"""
RUN_TOML = """
k = 3
tau = 0.5
sft_learning_rate = 1e-5
grpo_steps = 7
sft_args = { max_steps = 2 }
grpo_args = { beta = 0.0 }
lora_args = { r = 4 }
"""


@pytest.mark.parametrize("name, text", [("run.yaml", RUN_YAML), ("run.toml", RUN_TOML)])
def test_a_config_file_sets_exectune_fields_and_flags_win(tmp_path, name, text):
    from gcop.cli import _parser
    from gcop.run_config import compile_config

    (tmp_path / name).write_text(text)
    base = ["compile", "--core", "c", "--teacher", "t", "--out", "o"]
    args = _parser().parse_args([*base, "--config", str(tmp_path / name)])
    config = compile_config(args, privileged_teacher=True)
    assert (config.k, config.tau, config.sft_learning_rate, config.grpo_steps) == (3, 0.5, 1e-5, 7)
    assert config.sft_args == {"max_steps": 2} and config.grpo_args == {"beta": 0.0}
    assert config.lora_args == {"r": 4} and config.privileged_teacher
    flags = ["--k", "2", "--grpo-steps", "0", "--max-dollars", "1.5"]
    args = _parser().parse_args([*base, "--config", str(tmp_path / name), *flags])
    config = compile_config(args, privileged_teacher=False)
    assert (config.k, config.tau, config.grpo, config.max_dollars) == (2, 0.5, False, 1.5)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("run.yaml", "kk: 3\n", r"--config .*run\.yaml: kk: Extra inputs are not permitted"),
        ("run.yaml", "k: [3\n", r"--config .*run\.yaml is not valid YAML"),
        ("run.toml", "k = 0\n", r"--config .*run\.toml: k: Input should be greater than"),
        ("run.yaml", "- 3\n", r"must hold ExecTuneConfig fields"),
        ("run.json", "{}", r"use a \.yaml, \.yml, \.toml file"),
        ("run.yaml", None, r"run\.yaml: No such file"),
    ],
)
def test_a_bad_config_file_is_one_line_before_any_work(tmp_path, capsys, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    args = ["compile", "--core", "tiny", "--teacher", "reference-planner"]
    args += ["--config", str(tmp_path / name), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    assert re.search(message, one_line_error(capsys))
    assert not (tmp_path / "run").exists()


def test_version_names_gcop_and_its_libraries(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"gcop {gcop.__version__} (dspy {metadata.version('dspy')}, ")
    assert f"trl {metadata.version('trl')}" in printed and printed.count("\n") == 1


@pytest.mark.parametrize("threads", ["0", "-4"])
def test_threads_below_one_are_refused_in_one_line(tmp_path, capsys, threads):
    args = ["evaluate", "--core", "tiny", "--threads", threads, "--out", str(tmp_path / "e")]
    assert main(args) == 2
    assert one_line_error(capsys) == f"gcop: error: --threads must be 1 or more, got {threads}"
    assert not (tmp_path / "e").exists()


def test_compile_runs_offline_with_a_planner_and_a_config_file(tmp_path, capsys):
    """The default output is a summary; policy.json records the configuration it trained with."""
    out = tmp_path / "run"
    (tmp_path / "run.yaml").write_text("k: 2\ngrpo: false\nsft_args: {max_steps: 1}\n")
    args = ["compile", "--core", "tiny", "--guide", "tiny", "--teacher", "reference-planner"]
    args += ["--n-train", "4", "--config", str(tmp_path / "run.yaml"), "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    summary = capsys.readouterr().out.splitlines()
    assert summary[0] == f"policy saved to {out}"
    assert summary[1].startswith("acceptance: ") and " of 4 tasks accepted " in summary[1]
    assert summary[-1].startswith("cost: $0.0000 over ") and "; wall time " in summary[-1]
    assert len(summary) <= 6
    saved = json.loads((out / "policy.json").read_text())
    config = saved["training_config"]
    assert (config["k"], config["grpo"], config["sft_args"]) == (2, False, {"max_steps": 1})
    assert config["privileged_teacher"] is True  # the planner reads the reference
    provenance = saved["artifacts"]["provenance"]
    assert provenance["trainset"]["n"] == 4 and provenance["versions"]["gcop"] == gcop.__version__


def test_compile_runs_offline_with_a_registry_teacher_and_prints_json(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["compile", "--core", "tiny", "--guide", "tiny", "--teacher", "tiny", "--json"]
    args += ["--n-train", "4", "--k", "2", "--grpo-steps", "0", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    saved = json.loads(capsys.readouterr().out)
    assert saved["saved"] == str(out) and (out / "policy.json").exists()
    teacher_calls = saved["acceptance"]["cost"]["teacher"]["calls"]
    assert teacher_calls >= 4  # every task asked the teacher at least once
    assert saved["config"]["k"] == 2 and saved["cost"]["calls"] >= teacher_calls


def test_a_dependencys_repeated_warning_is_shown_once_and_counted(monkeypatch, capsys, caplog):
    """DSPy warns once per truncated reply; the command shows it once and says how many
    repeats it left out (issue 30.6)."""
    import logging

    import gcop.cli as cli

    def noisy_run(args):
        for n in range(5):
            logging.getLogger("dspy.clients.lm").warning(
                "LM response was truncated due to exceeding max_tokens=24 (reply %d)", n
            )

    monkeypatch.setattr(cli, "_run", noisy_run)
    with caplog.at_level(logging.WARNING, logger="dspy.clients.lm"):
        assert main(["report", "anywhere"]) == 0
    assert len([r for r in caplog.records if "truncated" in r.getMessage()]) == 1
    assert "gcop: 4 repeats of the warnings above were left out" in capsys.readouterr().err
    assert not any(logging.getLogger(name).filters for name in cli.REPEATING_LOGGERS)


def test_the_cli_names_every_preset_there_is():
    from gcop.cli import PRESET_NAMES
    from gcop.presets import PRESETS

    assert set(PRESET_NAMES) == set(PRESETS)


def test_the_cli_caps_the_c_heaps_before_its_work(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "cap_heap_arenas", lambda: calls.append("capped") or True)
    assert main(["report", str(tmp_path)]) == 2  # a command that stops early still capped first
    assert calls == ["capped"]
