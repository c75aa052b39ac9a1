"""Python expressions in words, for plans that must not quote the code they describe.

Each function names what an expression is about (its variables, the library call it makes) and
says what it does, but never writes the expression itself: only names, words and single-digit
integers come out.

>>> import ast
>>> condition(ast.parse("len(xs) == 0", mode="eval").body)
'`xs` is empty'
>>> condition(ast.parse("n % 2 == 0 and n > 99", mode="eval").body)
'`n` is divisible by `2` and `n` is greater than a constant'
>>> iteration(ast.Name("i"), ast.parse("range(len(s))", mode="eval").body)
'the indices `i` of `s`'
"""

from __future__ import annotations

import ast

__all__ = ["call_name", "condition", "iteration", "kind_of", "returned", "tools", "value_words"]

_COMPARE = {
    ast.Eq: "equals",
    ast.NotEq: "differs from",
    ast.Lt: "is less than",
    ast.LtE: "is at most",
    ast.Gt: "is greater than",
    ast.GtE: "is at least",
    ast.In: "is in",
    ast.NotIn: "is not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_MAKERS = {  # calls whose result has a known kind
    "list": "a list",
    "sorted": "a list",
    "tuple": "a tuple",
    "dict": "a dictionary",
    "defaultdict": "a dictionary",
    "OrderedDict": "a dictionary",
    "Counter": "a counter",
    "set": "a set",
    "frozenset": "a set",
    "str": "a string",
    "join": "a string",
    "int": "a number",
    "len": "a number",
    "sum": "a number",
    "abs": "a number",
    "round": "a number",
    "float": "a number",
    "bool": "True or False",
    "all": "True or False",
    "any": "True or False",
    "isinstance": "True or False",
}
_NOT_TOOLS = {
    *("len", "range", "print", "int", "str", "list", "isinstance", "float", "bool", "append"),
    *("enumerate", "zip", "items", "keys", "values", "tuple", "set", "dict"),
}
_OPERATION = {
    ast.Add: "the sum",
    ast.Sub: "the difference",
    ast.Mult: "the product",
    ast.Div: "the quotient",
    ast.FloorDiv: "the whole quotient",
    ast.Mod: "the remainder",
    ast.Pow: "the power",
}


def call_name(node: ast.AST | None) -> str | None:
    """The name a call (or a bare name) calls: ``f(x)`` and ``m.f(x)`` give ``f``."""
    node = node.func if isinstance(node, ast.Call) else node
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _term(node: ast.AST) -> str:
    """A short noun for an operand: a name, a small integer, or what it is about."""
    if isinstance(node, ast.Name):
        return f"`{node.id}`"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _term(node.operand)
        return f"`-{inner.strip('`')}`" if inner.strip("`").isdigit() else f"minus {inner}"
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, bool):
            return f"`{value}`"
        if isinstance(value, int) and -9 <= value <= 9:
            return f"`{value}`"
        return "an empty string" if value == "" else "a constant"
    if isinstance(node, ast.Call) and call_name(node) == "len" and node.args:
        return f"the length of {_term(node.args[0])}"
    if isinstance(node, ast.Subscript):
        return f"an element of {_term(node.value)}"
    if isinstance(node, ast.Attribute):
        return f"the `{node.attr}` of {_term(node.value)}"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return f"the remainder of {_term(node.left)}"
    if isinstance(node, ast.Call) and call_name(node):
        return f"the result of `{call_name(node)}`"
    names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)})
    return f"a value computed from {', '.join(f'`{n}`' for n in names)}" if names else "a value"


def condition(node: ast.AST) -> str:
    """A test in words."""
    if isinstance(node, ast.BoolOp):
        word = " and " if isinstance(node.op, ast.And) else " or "
        return word.join(condition(value) for value in node.values[:3])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = node.operand
        if isinstance(inner, (ast.Name, ast.Subscript, ast.Attribute)):
            return f"{_term(inner)} is empty"
        return f"not ({condition(inner)})"
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, type(node.ops[0]), node.comparators[0]
        zero = isinstance(right, ast.Constant) and right.value == 0
        if call_name(left) == "len" and isinstance(left, ast.Call) and left.args and zero:
            if op is ast.Eq:
                return f"{_term(left.args[0])} is empty"
        if isinstance(left, ast.BinOp) and isinstance(left.op, ast.Mod) and zero:
            by = _term(left.right)
            said = "is divisible by" if op is ast.Eq else "is not divisible by"
            if op in (ast.Eq, ast.NotEq):
                return f"{_term(left.left)} {said} {by}"
        return f"{_term(left)} {_COMPARE.get(op, 'compares with')} {_term(right)}"
    if isinstance(node, ast.Compare):
        return f"{_term(node.left)} is within the bounds"
    if isinstance(node, ast.Call) and call_name(node):
        subject = f" on {_term(node.args[0])}" if node.args else ""
        return f"`{call_name(node)}`{subject} holds"
    return f"{_term(node)} is set"


def iteration(target: ast.AST, iterable: ast.AST) -> str:
    """What a ``for`` loop goes through, naming its loop variables."""
    names = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    var = ", ".join(f"`{n}`" for n in names) or "each item"
    called = call_name(iterable) if isinstance(iterable, ast.Call) else None
    args = iterable.args if isinstance(iterable, ast.Call) else []
    if called == "range":
        if len(args) == 1 and call_name(args[0]) == "len" and getattr(args[0], "args", None):
            return f"the indices {var} of {_term(args[0].args[0])}"
        step = args[2] if len(args) == 3 else None
        down = isinstance(step, ast.UnaryOp) or (
            isinstance(step, ast.Constant) and isinstance(step.value, int) and step.value < 0
        )
        ends = [_term(a) for a in args[:2]]
        bounds = " to ".join(ends) if len(ends) > 1 else f"0 to {ends[0] if ends else 'the end'}"
        direction = ", counting down" if down else ""
        return f"{var} over the integers from {bounds}{direction}"
    if called == "enumerate" and args:
        return f"{var} over {_term(args[0])} with each item's index"
    if called == "zip":
        return f"{var} over {' and '.join(_term(a) for a in args)} side by side"
    if called in ("items", "keys", "values") and isinstance(iterable, ast.Call):
        return f"{var} over the {called} of {_term(iterable.func.value)}"
    if called in ("sorted", "reversed") and args:
        order = "in sorted order" if called == "sorted" else "in reverse order"
        return f"each item {var} of {_term(args[0])} {order}"
    return f"each item {var} of {_term(iterable)}"


def kind_of(node: ast.AST | None, variables: dict[str, ast.expr]) -> str:
    """What kind of value an expression makes: ``a list``, ``True or False``, ``a number``..."""
    if node is None:
        return "None"
    if isinstance(node, ast.Name) and node.id in variables and variables[node.id] is not node:
        return kind_of(variables[node.id], {})
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None:
            return "None"
        if isinstance(value, bool):
            return "True or False"
        if isinstance(value, str):
            return "a string"
        return "a number"
    if isinstance(node, (ast.List, ast.ListComp)):
        return "a list"
    if isinstance(node, ast.Tuple):
        return "a tuple"
    if isinstance(node, (ast.Dict, ast.DictComp)):
        return "a dictionary"
    if isinstance(node, (ast.Set, ast.SetComp)):
        return "a set"
    if isinstance(node, ast.JoinedStr):
        return "a string"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return kind_of(node.operand, variables)
    if isinstance(node, (ast.Compare, ast.BoolOp)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    ):
        return "True or False"
    if isinstance(node, ast.Call):
        return _MAKERS.get(call_name(node) or "", "a value")
    if isinstance(node, ast.BinOp):
        left = kind_of(node.left, variables)
        return left if left != "a value" else kind_of(node.right, variables)
    if isinstance(node, ast.Subscript):
        base = kind_of(node.value, variables)
        return (
            base
            if base in ("a string", "a list") and isinstance(node.slice, ast.Slice)
            else ("a value")
        )
    return "a value"


def returned(node: ast.AST | None, variables: dict[str, ast.expr]) -> str:
    """What a ``return`` hands back: a name, a small constant, an empty container or a kind."""
    if node is None:
        return "nothing"
    if isinstance(node, ast.Name):
        return f"`{node.id}`"
    if isinstance(node, ast.UnaryOp) or (
        isinstance(node, ast.Constant) and not isinstance(node.value, str)
    ):
        return _term(node)
    if isinstance(node, (ast.List, ast.Tuple, ast.Dict, ast.Set)) and not getattr(
        node, "elts", getattr(node, "keys", None)
    ):
        return f"an empty {kind_of(node, {})[2:]}"
    return kind_of(node, variables)


def value_words(node: ast.AST | None, depth: int = 0) -> str:
    """What an expression computes, in words (two levels deep, then a noun).

    >>> value_words(ast.parse("[x for x in xs if x > 0]", mode="eval").body)
    'a list of each item `x` of `xs` where `x` is greater than `0`'
    """
    if node is None or depth > 1:
        return _term(node) if node is not None else "nothing"
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATION:
        left, right = value_words(node.left, depth + 1), value_words(node.right, depth + 1)
        return f"{_OPERATION[type(node.op)]} of {left} and {right}"
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        first = node.generators[0]
        where = [condition(test) for gen in node.generators for test in gen.ifs]
        kind = {ast.SetComp: "a set", ast.DictComp: "a dictionary"}.get(type(node), "a list")
        kept = f" where {' and '.join(where)}" if where else ""
        return f"{kind} of {iteration(first.target, first.iter)}{kept}"
    if isinstance(node, ast.Call) and call_name(node):
        subject = f" of {value_words(node.args[0], depth + 1)}" if node.args else ""
        return f"the result of `{call_name(node)}`{subject}"
    if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        return f"whether {condition(node)}"
    return _term(node)


def tools(node: ast.AST, skip: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Library functions and methods a function calls, in order of first use, plus how it reads
    a sequence backwards (a negative slice step)."""
    found: list[str] = []
    node_name = getattr(node, "name", None)
    for sub in ast.walk(node):
        name = call_name(sub) if isinstance(sub, ast.Call) else None
        module = (
            sub.func.value.id
            if isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and isinstance(sub.func.value, ast.Name)
            else None
        )
        exception = bool(name) and name.endswith(("Error", "Exception"))
        if name and name not in _NOT_TOOLS | skip and name != node_name and not exception:
            label = f"`{name}` from `{module}`" if module in _MODULES else f"`{name}`"
            key = next((k.value for k in sub.keywords if k.arg == "key"), None)
            if isinstance(key, (ast.Name, ast.Lambda)):
                label += f" with key `{key.id}`" if isinstance(key, ast.Name) else " with a key"
            if label not in found:
                found.append(label)
        if isinstance(sub, ast.Slice) and isinstance(sub.step, ast.UnaryOp):
            if "a reversed slice" not in found:
                found.append("a reversed slice")
        if isinstance(sub, ast.Lambda) and "a lambda" not in found:
            found.append("a lambda")
    return tuple(found[:6])


_MODULES = {"math", "re", "heapq", "itertools", "collections", "functools", "bisect"}
