"""What a plan for a code problem must not hold: a line of the reference solution, or a literal
of the problem's tests (checked for the code planners' plans and their skeleton render)."""

from __future__ import annotations

import ast
import re

# lines of names only, which the interface may repeat: "return x", "f(a, b)", "n, k, arr)"
RETURN_A_NAME = re.compile(r"^return \(?-?\w+\)?$|^[\w, ()]+$")


def copied_reference_lines(text: str, reference: str) -> list[str]:
    """The reference's code lines of 8+ characters found in ``text`` (names-only lines and its
    docstrings, which HumanEval's prompt shows anyway, left out)."""
    lines = {" ".join(line.split()) for line in reference.splitlines()}
    lines -= _docstring_lines(reference)
    lines = {line for line in lines if not RETURN_A_NAME.match(line)}  # "return False"
    said = " ".join(text.split())
    return [line for line in lines if len(line) >= 8 and line in said]


def _docstring_lines(source: str) -> set[str]:
    docs = (ast.get_docstring(node) for node in ast.walk(ast.parse(source)) if _documented(node))
    return {" ".join(line.split()) for doc in docs if doc for line in doc.splitlines()}


def _documented(node: ast.AST) -> bool:
    return isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)


def leaked_test_literals(text: str, tests: str) -> set[str]:
    """The tests' literals (:func:`literals_of_tests`) that ``text`` holds as words or quoted."""
    words = set(re.findall(r"[\w.]+", text))
    return {lit for lit in literals_of_tests(tests) if lit in words or f"'{lit}'" in text}


def literals_of_tests(tests: str) -> set[str]:
    """Strings of 3+ characters and numbers beyond 9 that the tests hold (their expected values
    and inputs), as they would be written; single words ('nothing', 'Data') are left out, as
    the plans' own English may use them."""
    try:
        tree = ast.parse(tests)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
            word = isinstance(node.value, str) and node.value.isalpha()
            if isinstance(node.value, str) and len(node.value.strip()) >= 3 and not word:
                found.add(node.value)
            elif isinstance(node.value, int | float) and abs(node.value) > 9:
                found.add(repr(node.value))
    return found
