"""A small pytest stand-in for the sandboxed child: runs the ``test_*`` functions and ``Test*``
classes of a test module against ``solution.py``, with ``parametrize``, module fixtures,
``tmp_path``, ``capsys`` and ``monkeypatch``.

``child.py`` loads this file by path, inside the sandbox; it imports only the standard library.
"""

from __future__ import annotations

import os
import sys


def run(tests: str, root: str, judge) -> tuple[str, str]:
    """Run ``tests``; return ``(status, error text)``. ``judge(exc)`` gives an exception's
    ``(status, traceback)``."""
    import importlib
    import types

    solution = importlib.import_module("solution")
    ns = {k: v for k, v in vars(solution).items() if not k.startswith("__")}
    ns["__name__"] = "test_solution"  # tests may skip `from solution import ...`
    exec(compile(tests, "test_solution.py", "exec"), ns)
    cases = []
    for name, obj in list(ns.items()):
        if getattr(obj, "__module__", None) != "test_solution":
            continue
        if name.startswith("test") and isinstance(obj, types.FunctionType):
            cases += _cases(name, obj, None)
        elif name.startswith("Test") and isinstance(obj, type):
            for attr, fn in vars(obj).items():
                if attr.startswith("test") and isinstance(fn, types.FunctionType):
                    cases += _cases(f"{name}.{attr}", fn, obj)
    if not cases:
        return "error", "no test_* functions found in the tests"
    problems: dict[str, list[str]] = {"failed": [], "error": []}
    for i, (name, fn, params, owner) in enumerate(cases):
        try:
            _call(fn, params, owner, ns, os.path.join(root, f"tmp_path_{i}"))
        except BaseException as exc:  # noqa: BLE001
            status, text = judge(exc)
            problems[status].append(f"{name}: {text}")
    for status in ("error", "failed"):
        if problems[status]:
            head = f"{len(problems[status])} of {len(cases)} tests {status}"
            return status, "\n".join([head, *problems[status]])
    return "passed", ""


def _cases(name: str, fn, owner) -> list[tuple]:
    """Expand ``@pytest.mark.parametrize`` marks into ``(name, fn, params, owner)`` cases."""
    combos: list[dict] = [{}]
    for mark in getattr(fn, "pytestmark", []):
        if getattr(mark, "name", "") != "parametrize":
            continue
        names = mark.kwargs.get("argnames", mark.args[0] if mark.args else "")
        values = mark.kwargs.get("argvalues", mark.args[1] if len(mark.args) > 1 else [])
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        rows = []
        for value in values:
            if hasattr(value, "marks") and hasattr(value, "values"):  # pytest.param(...)
                value = value.values
            elif len(names) == 1:
                value = (value,)
            rows.append(dict(zip(names, value, strict=False)))
        combos = [{**c, **r} for c in combos for r in rows]
    label = (lambda i: f"{name}[{i}]") if len(combos) > 1 else (lambda i: name)
    return [(label(i), fn, combo, owner) for i, combo in enumerate(combos)]


def _call(fn, params: dict, owner, ns: dict, tmp: str) -> None:
    """Call one test, resolving fixtures by parameter name and running their teardowns."""
    code = fn.__code__
    names = list(code.co_varnames[: code.co_argcount])
    args, teardown, cache = [], [], {}
    if owner is not None:
        args.append(owner())
        names = names[1:]
        if hasattr(args[0], "setup_method"):
            args[0].setup_method(fn)
    required = names[: len(names) - len(fn.__defaults__ or ())]
    kwargs = {n: params[n] if n in params else None for n in names if n in params or n in required}
    try:
        for n in kwargs:
            if n not in params:
                kwargs[n] = _fixture(n, ns, tmp, teardown, cache)
        fn(*args, **kwargs)
    finally:
        for undo in reversed(teardown):
            undo()
        if owner is not None and hasattr(args[0], "teardown_method"):
            args[0].teardown_method(fn)


def _fixture(name: str, ns: dict, tmp: str, teardown: list, cache: dict):
    if name in cache:
        return cache[name]
    if name == "tmp_path":
        import pathlib

        os.makedirs(tmp, exist_ok=True)
        value = pathlib.Path(tmp)
    elif name == "capsys":
        value = _CapSys()
        teardown.append(value.close)
    elif name == "monkeypatch":
        from _pytest.monkeypatch import MonkeyPatch

        value = MonkeyPatch()
        teardown.append(value.undo)
    else:
        fixture = ns.get(name)
        fn = getattr(fixture, "__wrapped__", fixture)
        is_fixture = type(fixture).__name__ == "FixtureFunctionDefinition"
        if not (is_fixture or hasattr(fixture, "_pytestfixturefunction")):
            raise LookupError(f"fixture {name!r} is not available in the gcop sandbox runner")
        code = fn.__code__
        kwargs = {
            n: _fixture(n, ns, tmp, teardown, cache) for n in code.co_varnames[: code.co_argcount]
        }
        value = fn(**kwargs)
        if code.co_flags & 0x20:  # CO_GENERATOR: a yield fixture
            gen, value = value, next(value)
            teardown.append(lambda: next(gen, None))
    cache[name] = value
    return value


class _CapSys:
    """The ``capsys`` fixture: capture ``sys.stdout`` / ``sys.stderr`` until closed."""

    def __init__(self) -> None:
        import io

        self._saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()

    def readouterr(self):
        from collections import namedtuple

        out, err = sys.stdout.getvalue(), sys.stderr.getvalue()
        for stream in (sys.stdout, sys.stderr):
            stream.seek(0)
            stream.truncate()
        return namedtuple("CaptureResult", "out err")(out, err)

    def close(self) -> None:
        sys.stdout, sys.stderr = self._saved
