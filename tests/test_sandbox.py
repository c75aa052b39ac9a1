"""gcop.sandbox: verdicts, limits, and hostile programs that must leave the host untouched."""

import os
import socket
import subprocess
import sys
import textwrap
import time
import tracemalloc
import uuid

import pytest

from gcop import sandbox
from gcop.sandbox import Job, SandboxConfig, run_code, run_many, run_tests

MODES = (True, False)  # with namespaces when available, and guard-only


def dedent(code: str) -> str:
    return textwrap.dedent(code).strip("\n") + "\n"


# --- verdicts ---------------------------------------------------------------------------------


def test_passed_failed_error_and_output():
    ok = run_code("print('hi')")
    assert (ok.status, ok.stdout, ok.passed) == ("passed", "hi\n", True)
    assert run_code("assert 1 == 2").status == "failed"
    bad = run_code("raise KeyError('boom')")
    assert bad.status == "error" and "KeyError: 'boom'" in bad.error
    assert run_code("import sys; sys.exit(0)").status == "passed"
    assert run_code("import sys; sys.exit(3)").status == "error"
    assert run_code("def f(:\n").status == "error"


def test_check_style_humaneval():
    tests = "def check(candidate):\n    assert candidate(2) == 4\n"
    assert run_tests("def double(x):\n    return 2 * x", tests, entry_point="double").passed
    assert run_tests("def double(x):\n    return x", tests, entry_point="double").status == "failed"
    missing = run_tests("def other(x):\n    return x", tests, entry_point="double")
    assert missing.status == "error" and "double" in missing.error


def test_pytest_style_runner():
    solution = "def add(a, b):\n    return a + b\n"
    tests = dedent("""
        import pytest
        from solution import add

        @pytest.fixture
        def base():
            yield 10

        @pytest.mark.parametrize("a,b,expected", [(1, 2, 3), pytest.param(2, 2, 4)])
        def test_add(a, b, expected):
            assert add(a, b) == expected

        def test_fixtures(base, tmp_path, capsys):
            (tmp_path / "x.txt").write_text("data")
            print(add(base, 1))
            assert capsys.readouterr().out == "11\\n"

        def test_raises():
            with pytest.raises(TypeError):
                add(1, "a")

        class TestClass:
            def test_method(self):
                assert add(0, 0) == 0
    """)
    result = run_tests(solution, tests)
    assert result.passed, result.error
    wrong = run_tests("def add(a, b):\n    return a - b\n", tests)
    assert wrong.status == "failed" and "test_add" in wrong.error
    # KodCode tests sometimes use the solution's names without importing them
    assert run_tests(solution, "def test_it():\n    assert add(1, 1) == 2\n").passed
    assert run_tests(solution, "x = 1\n").status == "error"  # no tests collected
    assert run_tests("", "from solution import add\ndef test_a():\n    pass\n").status == "error"


def test_config_validation():
    with pytest.raises(ValueError, match="timeout_s"):
        SandboxConfig(timeout_s=0)
    with pytest.raises(ValueError, match="entry_point"):
        run_tests("pass", "def check(c):\n    pass\n", style="check")
    with pytest.raises(ValueError, match="style"):
        sandbox.run_job(Job("pass", style="nope"))


def test_run_many_keeps_order():
    jobs = [Job(f"print({i})") for i in range(6)]
    results = run_many(jobs, workers=2)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]


def test_isolation_is_reported():
    assert sandbox.network_isolation() in ("netns", "socket-guard")
    iso = sandbox.isolation()
    assert iso.network == sandbox.network_isolation()
    assert iso.fork_block in ("seccomp", "guard")


def test_concurrent_first_runs_probe_the_namespaces_once(monkeypatch):
    """Evaluation threads start their first sandboxed runs together: one ``unshare`` probe (and
    one log line), not one per thread."""
    import shutil
    import threading
    from types import SimpleNamespace

    from gcop.sandbox import launch

    probes = []

    def slow_probe(cmd, **kwargs):
        probes.append(cmd)
        time.sleep(0.05)
        return SimpleNamespace(returncode=0)

    monkeypatch.setattr(subprocess, "run", slow_probe)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/unshare")
    launch.namespace_prefix.cache_clear()
    launch._probe_namespace.cache_clear()
    start = threading.Barrier(8)
    prefixes = []

    def first_run():
        start.wait()
        prefixes.append(launch.namespace_prefix())

    threads = [threading.Thread(target=first_run) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        launch.namespace_prefix.cache_clear()
        launch._probe_namespace.cache_clear()
    assert len(probes) == 1 and len(prefixes) == 8 and len(set(prefixes)) == 1
    assert "--net" in prefixes[0]


def test_child_imports_no_parent_code():
    # The child is a standard-library script: start-up cost is paid on every run.
    heavy = "{'dataclasses', 'gcop', 'logging', 'typing'}"
    code = f"import sys\nprint(sorted({heavy} & set(sys.modules)))\n"
    assert run_code(code).stdout == "[]\n"


# --- hostile programs -------------------------------------------------------------------------


def test_infinite_loop_times_out():
    for isolate in MODES:
        start = time.monotonic()
        result = run_code("while True:\n    pass\n", timeout_s=1, isolate=isolate)
        assert result.status == "timeout"
        assert time.monotonic() - start < 5


def test_sleeping_program_times_out_and_threads_do_not_hang():
    assert run_code("import time\ntime.sleep(60)\n", timeout_s=1).status == "timeout"
    code = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n"
    assert run_code(code, timeout_s=5).passed


def test_fork_is_refused():
    for isolate in MODES:
        # A bounded probe first (5 short-lived children if every layer failed), then a real bomb.
        bounded = dedent("""
            import os
            for _ in range(5):
                if os.fork() == 0:
                    print("CHILD", flush=True)
                    os._exit(0)
        """)
        result = run_code(bounded, timeout_s=5, isolate=isolate)
        assert result.status == "error" and "CHILD" not in result.stdout
        assert "PermissionError" in result.error
        bomb = run_code("import os\nwhile True:\n    os.fork()\n", timeout_s=3, isolate=isolate)
        assert bomb.status == "error"
        for code in (
            "import subprocess\nsubprocess.run(['true'])\n",
            "import multiprocessing as mp\nmp.Process(target=print).start()\n",
            "import os\nos.system('true')\n",
        ):
            assert run_code(code, timeout_s=5, isolate=isolate).status == "error", code


def test_fork_through_libc_is_refused_by_seccomp():
    if sandbox.isolation().fork_block != "seccomp":
        pytest.skip("seccomp unavailable here; only the in-process guard stops fork")
    code = dedent("""
        import ctypes, os
        libc = ctypes.CDLL(None)
        made = 0
        for _ in range(20):
            pid = libc.fork()
            if pid == 0:
                os._exit(0)
            made += pid > 0
        print(made)
    """)
    result = run_code(code, timeout_s=5)
    assert result.passed and result.stdout == "0\n"


def test_huge_allocation_is_an_error():
    assert run_code("x = bytearray(50 * 2**30)\n", memory_mb=256).status == "error"
    grow = "x = []\nwhile True:\n    x.append(bytearray(2**24))\n"
    assert run_code(grow, memory_mb=256, timeout_s=10).status == "error"


def test_writes_outside_the_sandbox_are_blocked(tmp_path):
    for isolate in MODES:
        victim = tmp_path / "keep.txt"
        victim.write_text("host data")
        escapes = [tmp_path / "escape.txt", f"/tmp/gcop-escape-{uuid.uuid4().hex}.txt"]
        for target in escapes:
            for code in (
                f"open({str(target)!r}, 'w').write('x')",
                f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')",
                f"import os\nos.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
                f"import os\nos.chdir('/')\nopen({str(target)!r}.lstrip('/'), 'w').write('x')",
            ):
                result = run_code(code, isolate=isolate)
                assert result.status == "error", code
                assert not os.path.exists(target), code
        for code in (
            f"import os\nos.remove({str(victim)!r})",
            f"import shutil\nshutil.rmtree({str(tmp_path)!r})",
            f"import os\nos.rename({str(victim)!r}, 'stolen.txt')",
            f"import os\nos.symlink({str(victim)!r}, 'link')\nopen('link', 'w').write('x')",
        ):
            assert run_code(code, isolate=isolate).status == "error", code
            assert victim.read_text() == "host data", code
        inside = "import os\nopen('a.txt', 'w').write('ok')\nos.remove('a.txt')\nos.mkdir('d')\n"
        assert run_code(inside, isolate=isolate).passed


def test_no_network():
    for isolate in MODES:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        try:
            code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            result = run_code(code, timeout_s=5, isolate=isolate)
            assert result.status == "error"
            with pytest.raises(TimeoutError):
                listener.accept()
        finally:
            listener.close()


def test_environment_is_minimal(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-gcop-fake-secret")
    result = run_code("import os\nprint(sorted(os.environ.items()))\n")
    assert result.passed
    assert "sk-gcop-fake-secret" not in result.stdout
    assert "OPENAI_API_KEY" not in result.stdout


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_huge_output_is_truncated_with_bounded_parent_memory(stream):
    tracemalloc.start()
    try:
        result = run_code(f"import sys\nsys.{stream}.write('x' * 100_000_000)\n", timeout_s=20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(getattr(result, stream)) == SandboxConfig().max_output_bytes
    assert peak < 16 * 2**20
    assert result.status in ("passed", "error")


def host_process() -> subprocess.Popen:
    """A process of the host, in the test's own process group, for hostile programs to target."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_killing_the_parent_or_another_host_process_fails():
    victim = host_process()
    try:
        for isolate in MODES:
            for target in ("os.getppid()", str(victim.pid)):
                result = run_code(f"import os\nos.kill({target}, 9)\n", isolate=isolate)
                assert result.status == "error", target
                if sandbox.isolation().fork_block == "seccomp":
                    code = f"import ctypes, os\nprint(ctypes.CDLL(None).kill({target}, 9))\n"
                    assert run_code(code, isolate=isolate).stdout == "-1\n", target
        assert victim.poll() is None  # not killed
    finally:
        victim.kill()
        victim.wait()


def test_faked_pass_is_not_trusted():
    # The candidate tries to forge a result record on every fd, then exits before the tests run.
    forge = dedent("""
        import os
        for fd in range(3, 64):
            try:
                os.write(fd, b'{"status": "passed", "error": ""}\\n')
            except OSError:
                pass
        os._exit(0)
    """)
    tests = "def check(candidate):\n    assert False\n"
    assert run_tests(forge + "def f():\n    pass\n", tests, entry_point="f").status == "error"
    assert run_tests(forge, "def test_x():\n    assert False\n").status == "error"


def test_working_directory_is_fresh_and_removed():
    code = "import os\nprint(os.getcwd())\nprint(sorted(os.listdir('.')))\n"
    first, second = run_many([Job(code), Job(code)], workers=2)
    cwd, listing = first.stdout.splitlines()
    assert listing == "[]"  # the job file is gone before the program runs
    assert cwd != second.stdout.splitlines()[0]
    assert not os.path.exists(cwd)
    victim = host_process()  # in the test's process group, which killpg(0) must not reach
    try:
        assert run_code("import os\nos.killpg(0, 9)\n").status == "error"
        assert victim.poll() is None  # not killed
    finally:
        victim.kill()
        victim.wait()
