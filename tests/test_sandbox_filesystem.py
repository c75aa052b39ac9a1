"""The sandbox's filesystem (issue 31, item 1): generated code reads, writes and deletes only in
its own folder, by every route (Python's own calls, ``_io``, ``sqlite3``, ``ctypes``), even as
root; the guard of Python calls stays as a second layer."""

import os
import uuid

import pytest

from gcop import sandbox
from gcop.sandbox import run_code, run_tests

pytestmark = pytest.mark.skipif(
    sandbox.isolation().filesystem != "landlock",
    reason="no Landlock in this kernel: only the in-process guard confines file access",
)
LIBC = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"


@pytest.fixture
def host(tmp_path):
    """A folder outside the sandbox holding a file the program must not touch."""
    victim = tmp_path / "keep.txt"
    victim.write_text("host data")
    victim.chmod(0o644)
    return tmp_path


def untouched(folder) -> bool:
    victim = folder / "keep.txt"
    info = victim.stat()
    return (
        victim.read_text() == "host data"
        and (info.st_mode & 0o777, info.st_uid) == (0o644, os.getuid())
        and sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    )


@pytest.mark.parametrize(
    "route",
    [
        "import _io\n_io.FileIO({new!r}, 'w').write(b'x')",
        "import sqlite3\nsqlite3.connect({new!r}).execute('create table t (a)')",
        LIBC + "assert libc.open({new!r}.encode(), 0o101, 0o644) >= 0  # O_WRONLY | O_CREAT",
        LIBC + "assert libc.unlink({victim!r}.encode()) == 0",
        LIBC + "assert libc.rename({victim!r}.encode(), b'stolen') == 0",
        LIBC + "assert libc.link({victim!r}.encode(), b'hard') == 0",
        LIBC + "assert libc.truncate({victim!r}.encode(), 0) == 0",
        LIBC + "assert libc.chmod({victim!r}.encode(), 0o777) == 0",
        LIBC + "assert libc.chown({victim!r}.encode(), 65534, 65534) == 0",
        LIBC + "assert libc.utime({victim!r}.encode(), None) == 0",
        LIBC + "assert libc.mkdir({new!r}.encode(), 0o755) == 0",
    ],
)
def test_no_route_writes_or_deletes_outside_the_sandbox(host, route):
    program = route.format(new=str(host / "new"), victim=str(host / "keep.txt"))
    result = run_code(program)
    assert result.status in ("failed", "error"), result
    assert untouched(host)


@pytest.mark.parametrize(
    "route",
    [
        "print(open({secret!r}).read())",
        "import _io\nprint(_io.FileIO({secret!r}).read())",
        LIBC + "fd = libc.open({secret!r}.encode(), 0)\nassert fd >= 0\n"
        "buf = ctypes.create_string_buffer(64)\nlibc.read(fd, buf, 64)\nprint(buf.value)",
        "import os\nprint(os.listdir({folder!r}))",
        "import os\nprint(os.listdir('/root'))",
        "print(open('/etc/shadow').read())",
        "print(open('/proc/1/environ', 'rb').read())",
    ],
)
def test_nothing_outside_the_sandbox_can_be_read(host, route):
    secret = host / "secret.txt"
    secret.write_text(f"the secret {uuid.uuid4().hex}")
    secret.chmod(0o600)
    result = run_code(route.format(secret=str(secret), folder=str(host)))
    assert result.status in ("failed", "error") and "secret" not in result.stdout, result
    assert "keep.txt" not in result.stdout


def test_a_unix_socket_cannot_reach_a_server_by_path(host):
    """A private network namespace still lets a UNIX socket reach a server by its path."""
    import socket

    path = str(host / "server.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen(1)
        server.settimeout(0.5)
        code = f"import socket\nsocket.socket(socket.AF_UNIX).connect({path!r})"
        assert run_code(code).status == "error"
        with pytest.raises(TimeoutError):
            server.accept()


def test_everything_works_inside_the_sandbox():
    program = """
import os, shutil, sqlite3, tarfile, tempfile
db = sqlite3.connect('data.db')
db.execute('create table t (a)')
db.commit()
open('a.txt', 'w').write('ok')
os.chmod('a.txt', 0o600)
shutil.copy2('a.txt', 'b.txt')
os.utime('b.txt', (1, 1))
assert os.stat('b.txt').st_mtime == 1 and os.stat('b.txt').st_mode & 0o777 == 0o600
with tempfile.TemporaryDirectory() as scratch:
    open(os.path.join(scratch, 'c'), 'w').write('x')
with tarfile.open('t.tar', 'w') as tar:
    tar.add('a.txt')
with tarfile.open('t.tar') as tar:
    tar.extractall('out', filter='data')
os.remove('a.txt')
print(sorted(os.listdir('.')))
"""
    result = run_code(program)
    assert result.passed, result
    assert result.stdout.strip() == "['b.txt', 'data.db', 'out', 't.tar']"
    assert run_tests(
        "import json\ndef f():\n    return json.dumps(1)",
        "def test_f():\n    from solution import f\n    assert f() == '1'\n",
    ).passed


def test_the_child_holds_no_capability():
    """Started as root, the child keeps uid 0 (the interpreter may live in root's home) but no
    capability: no clock, reboot, module, renice or re-limit of other processes."""
    if os.getuid() != 0 or os.uname().machine != "x86_64":
        pytest.skip("not root (no capabilities to drop), or no x86_64 capget to ask")
    program = LIBC + (
        "import struct\n"
        "header = ctypes.create_string_buffer(struct.pack('Ii', 0x20080522, 0))\n"
        "data = ctypes.create_string_buffer(24)\n"
        "assert libc.syscall(125, header, data) == 0  # capget (x86_64)\n"
        "print(struct.unpack('6I', data.raw))\n"
    )
    assert run_code(program).stdout == "(0, 0, 0, 0, 0, 0)\n"
    assert sandbox.isolation().capabilities_dropped
