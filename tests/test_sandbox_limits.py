"""gcop.sandbox's resource limits: the largest file a program may write, and how many processes
its user may run. Each limit is observed from inside the child, through the public API."""

import errno
import os
import subprocess
import sys
import textwrap

import pytest

from gcop.sandbox import run_code

MiB = 1 << 20

# writes `size` bytes to big.bin, then prints how far it got and why it stopped
WRITE = textwrap.dedent("""
    import os
    stopped = 0
    try:
        with open("big.bin", "wb") as f:
            for _ in range({size} // (1 << 16)):
                f.write(b"x" * (1 << 16))
    except OSError as error:
        stopped = error.errno
    print(stopped, os.path.getsize("big.bin"))
""")


def test_a_file_larger_than_file_size_mb_is_cut_at_the_limit():
    result = run_code(WRITE.format(size=3 * MiB), file_size_mb=1, timeout_s=20)
    assert result.passed, result.error
    assert result.stdout.split() == [str(errno.EFBIG), str(1 * MiB)]


def test_a_file_within_file_size_mb_is_written_whole():
    result = run_code(WRITE.format(size=3 * MiB), file_size_mb=4, timeout_s=20)
    assert result.passed, result.error
    assert result.stdout.split() == ["0", str(3 * MiB)]


def test_the_default_file_size_limit_is_16_mib():
    result = run_code("import resource\nprint(*resource.getrlimit(resource.RLIMIT_FSIZE))\n")
    assert result.stdout.split() == [str(16 * MiB)] * 2


PROCESS_LIMIT = textwrap.dedent("""
    import os, resource, sys
    sys.path.insert(0, {folder!r})
    import child
    os.getuid = lambda: {uid}  # an unprivileged user that owns no process yet
    child._limits({{"timeout_s": 5, "memory_mb": 4096, "file_size_mb": 16, "max_processes": 7}})
    print(*resource.getrlimit(resource.RLIMIT_NPROC))
""")


def test_the_process_count_limit_is_max_processes_above_what_the_user_runs():
    """Root ignores RLIMIT_NPROC (the seccomp filter and guard stop fork instead), so the child
    sets it for other users only; here the child's limit step runs as a user with no process."""
    import gcop.sandbox

    folder = os.path.dirname(gcop.sandbox.__file__)
    code = PROCESS_LIMIT.format(folder=folder, uid=987_654)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["7", "7"]


@pytest.mark.skipif(os.getuid() == 0, reason="root ignores RLIMIT_NPROC; the child skips it")
def test_a_non_root_child_runs_under_a_process_count_limit():
    probe = "import resource\nprint(resource.getrlimit(resource.RLIMIT_NPROC)[0])\n"
    result = run_code(probe, max_processes=5)
    assert result.passed, result.error
    mine = [p for p in os.listdir("/proc") if p.isdigit()]
    assert 5 <= int(result.stdout) <= len(mine) + 5
