"""Optional dependencies: a missing one names the extra that installs it, API-core use needs
none of them, and pyproject.toml declares ranges whose exact versions live in constraints.txt."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import dspy
import pytest
from packaging.requirements import Requirement

from gcop.extras import EXTRAS, optional_imports, require_extra

ROOT = Path(__file__).resolve().parents[1]
# Folders whose imports need not be guarded one by one: GRPO runs only inside ExecTune and
# Advisor, which check the [train] extra before any work (require_trainable); the tasks' hub
# loaders (datasets, for source="hub") are yet to go through optional_imports.
EXEMPT = ("gcop/optimizers/grpo/", "gcop/tasks/")


def _unguarded_imports(path: Path) -> list[str]:
    """Imports of an optional module in ``path`` outside a ``with optional_imports()`` block."""
    found = []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.With | ast.AsyncWith):
            guarded = guarded or any(
                isinstance(item.context_expr, ast.Call)
                and getattr(item.context_expr.func, "id", None) == "optional_imports"
                for item in node.items
            )
        if isinstance(node, ast.Import | ast.ImportFrom) and not guarded:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            if any((name or "").partition(".")[0] in EXTRAS for name in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    tree = ast.parse(path.read_text())
    for node in tree.body:  # module level: TYPE_CHECKING blocks only
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        visit(node, False)
    return found


def test_every_optional_import_names_its_extra():
    unguarded = [
        site
        for path in sorted((ROOT / "gcop").rglob("*.py"))
        if not path.relative_to(ROOT).as_posix().startswith(EXEMPT)
        for site in _unguarded_imports(path)
    ]
    assert not unguarded, f"import these inside `with optional_imports():` {unguarded}"


@pytest.mark.parametrize(
    "missing, function, args, extra",
    [
        ("torch", "gcop.lm.precision:pick_dtype", ("auto", "cpu"), "local"),
        ("peft", "gcop.lm.local_folder:apply_adapter", (None, Path("x"), None, "tiny"), "local"),
        ("trl", "gcop.optimizers.sft:sft_trainer", (None, [], None, "x"), "train"),
    ],
)
def test_a_missing_dependency_names_the_extra(monkeypatch, missing, function, args, extra):
    module, _, name = function.partition(":")
    call = getattr(importlib.import_module(module), name)
    monkeypatch.setitem(sys.modules, missing, None)  # `import <missing>` now fails
    with pytest.raises(ImportError, match=re.escape(f'pip install "gcop[{extra}]"')):
        call(*args)


def test_other_missing_modules_pass_through(monkeypatch):
    monkeypatch.setitem(sys.modules, "not_an_extra", None)
    with pytest.raises(ModuleNotFoundError, match="not_an_extra"), optional_imports():
        import not_an_extra  # noqa: F401


def test_exectune_checks_the_train_extra_before_any_core_call(monkeypatch, scripted_lm):
    import gcop

    core = scripted_lm(["[[ ## answer ## ]]\n1"])
    policy = gcop.GuideCorePolicy(
        guide=gcop.Guide(gcop.signatures.MathGuide, lm=gcop.LocalLM("tiny")),
        core=gcop.Core(gcop.signatures.MathSolve, lm=core.model_string),
    )
    monkeypatch.setitem(sys.modules, "trl", None)
    optimizer = gcop.ExecTune(lambda *a, **k: 1.0, teacher=core.model_string)
    trainset = [dspy.Example(question="1 + 1?", answer="2").with_inputs("question")]
    with pytest.raises(ImportError, match=re.escape("trl is not installed; it comes with")):
        optimizer.compile(policy, trainset=trainset)
    assert core.calls == []
    with pytest.raises(ValueError, match="unknown extra"):
        require_extra("gpu")


def test_api_core_inference_needs_no_optional_dependency():
    """A guide and a core on API models (here scripted LiteLLM routes) run with every optional
    dependency made unimportable, as after a plain `pip install gcop`."""
    code = f"""
import sys
for name in {sorted(EXTRAS)!r}:
    sys.modules[name] = None
sys.path.insert(0, {str(ROOT / "tests")!r})
import gcop
from fakes import ScriptedLM
guide = ScriptedLM(["<strategy>1. add 2 and 3</strategy>"])
core = ScriptedLM(["[[ ## answer ## ]]\\nThe answer is 5"])
policy = gcop.GuideCorePolicy(
    guide=gcop.Guide(gcop.signatures.MathGuide, lm=guide.model_string),
    core=gcop.Core(gcop.signatures.MathSolve, lm=core.model_string),
)
pred = policy(question="What is 2 + 3?")
print(pred.valid, pred.answer)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0] == "True" and "5" in out.stdout


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements() -> list[Requirement]:
    project = _pyproject()
    specs = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        specs += [spec for spec in extra if not spec.startswith("gcop[")]
    return [Requirement(spec) for spec in specs]


def test_dependencies_are_ranges_and_the_constraints_pin_each_within_it():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    for requirement in _requirements():
        if requirement.name == "vllm":  # not in the CPU constraints: it brings its own torch
            continue
        operators = {spec.operator for spec in requirement.specifier}
        assert "==" not in operators, f"{requirement}: declare a range, pin in constraints.txt"
        assert {">=", "<"} <= operators, f"{requirement}: needs a lower and an upper bound"
        pinned = pins.get(requirement.name.lower())
        assert pinned is not None, f"constraints.txt does not pin {requirement.name}"
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned} is outside"


def test_the_base_install_holds_only_what_api_models_need():
    base = {Requirement(spec).name for spec in _pyproject()["dependencies"]}
    assert not base & set(EXTRAS), f"optional in the base install: {base & set(EXTRAS)}"
    assert {"dspy", "litellm", "pydantic"} <= base


def test_license_and_notices_for_the_shipped_data():
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert _pyproject()["license"] == "Apache-2.0"
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text()
    for folder in sorted(p.name for p in (ROOT / "gcop" / "data").iterdir() if p.is_dir()):
        assert f"gcop/data/{folder}" in notices, f"THIRD_PARTY_NOTICES.md does not list {folder}"


def test_the_optional_imports_example_leaves_an_unimported_module_importable():
    """Its docstring example blocks trl to show the message; run where trl was not imported yet
    (the doctests before any training test), it used to leave trl blocked for the whole run."""
    code = (
        "import doctest, sys\n"
        "import gcop.extras\n"
        "assert 'trl' not in sys.modules\n"
        "assert doctest.testmod(gcop.extras).failed == 0\n"
        "import importlib.util\n"
        "assert sys.modules.get('trl', 'absent') is not None, 'trl left blocked'\n"
        "print(importlib.util.find_spec('trl') is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
