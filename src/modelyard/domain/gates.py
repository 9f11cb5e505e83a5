"""Gate conditions: CEL expressions over a candidate version, its run and the environments.

A condition is compiled once (:func:`compile_condition`) and evaluated against a JSON-like
context (:func:`evaluate`) such as::

    {"candidate": {"group": "fraud", "version": 7, "metrics": {"auc": 0.91}, ...},
     "run": {"metrics": {"latency_ms": 12.5}},
     "production": {... same shape as candidate ...} or None,
     "staging": None}

Evaluation is interpreted by cel-python (never Python ``eval``) and bounded: an expression
is at most 4 KiB and its syntax tree at most 250 levels deep.

Numbers: JSON does not say whether ``1`` is an integer or a double, and cel-python refuses
to compare or add an ``int`` and a ``double`` (``1 < 1.5`` is an error, while ``1.5 > 1``
happens to work). So every number in the context is turned into a CEL ``double`` before
evaluation, and comparisons and ``+ - * /`` promote an ``int`` (or ``uint``) operand to
``double`` when the other operand is a ``double``: ``candidate.metrics.auc > 0``,
``1 < candidate.metrics.auc`` and ``candidate.version == 7`` all work, and ``x / 2`` on a
context number is a real division. Integer literals among themselves keep CEL's integer
semantics (``7 / 2 == 3``). ``GateResult.values`` reports the context's own values, unchanged.

A missing key is an evaluation error (the gate fails, ``error`` says which key), except
under ``has()``; so is reading a field of a null environment: guard champion/challenger
conditions with ``production == null || ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, CELFunction, base_functions

from modelyard.errors import ValidationError

__all__ = ["Condition", "GateError", "GateResult", "compile_condition", "evaluate"]

MAX_SOURCE: Final = 4096
MAX_DEPTH: Final = 250  # the interpreter recurses ~4 frames per level; 2500 is its limit
_BINDING_MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
_CLOSERS: Final = {"RPAR": "')'", "RSQB": "']'", "RBRACE": "'}'"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CEL_TYPE = re.compile(r"<class '(?:celpy\.celtypes\.)?(\w+?)(?:Type)?'>")
_RULE_TOKEN = re.compile(r"Token\('RULE', '(\w+)'\)")


class GateError(ValidationError):
    """A condition is not valid CEL; ``line``/``column`` locate the error inside it."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition. ``paths`` are the context paths it reads, in order of
    appearance (``candidate.metrics.auc``, ``candidate.metrics["val/auc"]``); ``keys`` are
    the same paths as tuples of keys."""

    source: str
    paths: tuple[str, ...]
    program: celpy.Runner = field(compare=False, repr=False)
    keys: tuple[tuple[str, ...], ...] = field(compare=False, repr=False, default=())


@dataclass(frozen=True, slots=True)
class GateResult:
    """``failed`` is the source of the first condition that did not hold (or could not be
    evaluated: then ``error`` says why). ``values`` maps every path the conditions read to
    its value in the context (``None`` when missing)."""

    passed: bool
    failed: str | None
    values: dict[str, Any]
    error: str | None = None


@cache
def _environment() -> celpy.Environment:
    # Built lazily and once: it loads the grammar and raises the recursion limit to 2500.
    return celpy.Environment()


def compile_condition(
    source: str, *, field: str = "when", roots: Collection[str] | None = None
) -> Condition:
    """Parse ``source``; raise ``GateError`` naming ``field`` and the position of the error.

    With ``roots``, every name the expression reads must be one of them (so a typo such as
    ``candiate.metrics.auc`` fails here rather than when the gate runs).
    """
    if not isinstance(source, str) or not source.strip():
        raise GateError(f"{field}: must be a non-empty CEL expression", field=field)
    if len(source) > MAX_SOURCE:
        raise GateError(f"{field}: longer than {MAX_SOURCE} characters", field=field)
    env = _environment()
    try:
        tree = env.compile(source)
    except CELParseError as exc:
        raise _syntax_error(exc, source, field) from None
    if _depth(tree) > MAX_DEPTH:
        raise GateError(f"{field}: the expression is nested too deeply", field=field)
    keys = _paths(tree)
    if roots is not None:
        _check_roots(tree, keys, roots, field=field)
    return Condition(
        source=source,
        paths=tuple(_format_path(chain) for chain in keys),
        program=env.program(tree, _FUNCTIONS),
        keys=keys,
    )


def _check_roots(
    tree: lark.Tree[Any], keys: Sequence[tuple[str, ...]], roots: Collection[str], *, field: str
) -> None:
    for chain in keys:
        if chain[0] in roots:
            continue
        token = next(
            token
            for token in tree.scan_values(lambda v: isinstance(v, lark.Token))
            if token.type == "IDENT" and str(token) == chain[0]
        )
        line, column = token.line or 1, token.column or 1
        raise GateError(
            f"{field}: unknown name {chain[0]!r} at line {line}, column {column} "
            f"(known: {', '.join(sorted(roots))})",
            field=field,
            line=line,
            column=column,
        )


def _syntax_error(exc: CELParseError, source: str, field: str) -> GateError:
    cause, line, column = exc.__context__, exc.line or 1, exc.column or 1
    reason = "not a valid expression"
    if isinstance(cause, lark.exceptions.UnexpectedToken):
        expected = sorted(_CLOSERS[name] for name in cause.expected if name in _CLOSERS)
        hint = f" (expected {' or '.join(expected)})" if expected else ""
        found = repr(str(cause.token))
        if cause.token.type == "$END":  # lark points at the last token; say where it ends
            found, lines = "end of expression", source.rstrip().split("\n")
            line, column = len(lines), len(lines[-1]) + 1
        reason = f"unexpected {found}{hint}"
    elif isinstance(cause, lark.exceptions.UnexpectedCharacters):
        reason = f"unexpected character {source[cause.pos_in_stream or 0]!r}"
    return GateError(
        f"{field}: CEL syntax error at line {line}, column {column}: {reason}",
        field=field,
        line=line,
        column=column,
    )


def _depth(tree: lark.Tree[Any]) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, lark.Tree))
    return deepest


# -------------------------------------------------------------------------- paths


def _paths(tree: lark.Tree[Any]) -> tuple[tuple[str, ...], ...]:
    """Context paths read by ``tree``: maximal ``a.b["c"]`` chains rooted at a free name."""
    bound = {name for node in tree.iter_subtrees() for name in _macro_variables(node)}
    found: dict[tuple[str, ...], None] = {}
    stack: list[lark.Tree[Any]] = [tree]
    while stack:
        node = stack.pop()
        chain = _chain(node) if node.data == "member" else None
        if chain is not None and chain[0] not in bound:
            found.setdefault(tuple(chain), None)
            continue
        stack.extend(reversed([c for c in node.children if isinstance(c, lark.Tree)]))
    return tuple(found)


def _macro_variables(node: lark.Tree[Any]) -> list[str]:
    """The variable a comprehension binds (``x`` in ``list.exists(x, x > 1)``)."""
    if node.data != "member_dot_arg" or len(node.children) < 3:
        return []
    method, args = node.children[1], node.children[2]
    if str(method) not in _BINDING_MACROS or not isinstance(args, lark.Tree):
        return []
    first = args.children[0] if args.children else None
    chain = _chain_of_expr(first) if isinstance(first, lark.Tree) else None
    return [chain[0]] if chain and len(chain) == 1 else []


def _chain(node: lark.Tree[Any]) -> list[str] | None:
    """``member`` → ``["candidate", "metrics", "auc"]`` for a pure field-access chain."""
    (child,) = node.children if len(node.children) == 1 else (None,)
    if not isinstance(child, lark.Tree):
        return None
    if child.data == "primary":
        (ident,) = child.children
        if isinstance(ident, lark.Tree) and ident.data == "ident":
            return [str(ident.children[0])]
        return None
    if child.data == "member_dot":
        base, name = child.children
        head = _chain(base) if isinstance(base, lark.Tree) else None
        return None if head is None else [*head, str(name)]
    if child.data == "member_index":
        base, index = child.children
        head = _chain(base) if isinstance(base, lark.Tree) else None
        key = _string_literal(index)
        return None if head is None or key is None else [*head, key]
    return None


def _chain_of_expr(node: lark.Tree[Any]) -> list[str] | None:
    """Unwrap ``expr → … → member`` (single-child nodes) and read the member chain."""
    while node.data != "member" and len(node.children) == 1:
        (child,) = node.children
        if not isinstance(child, lark.Tree):
            return None
        node = child
    return _chain(node) if node.data == "member" else None


def _string_literal(node: object) -> str | None:
    while isinstance(node, lark.Tree) and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, lark.Token) and node.type == "STRING_LIT":
        text = str(node)
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" and "\\" not in text:
            return text[1:-1]
    return None


def _format_path(chain: Sequence[str]) -> str:
    path = chain[0]
    for key in chain[1:]:
        path += f".{key}" if _IDENT.fullmatch(key) else f"[{json.dumps(key)}]"
    return path


def _lookup(context: Mapping[str, Any], chain: Sequence[str]) -> Any:
    value: Any = context
    for key in chain:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


# -------------------------------------------------------------------------- evaluating


def evaluate(conditions: Sequence[Condition], context: Mapping[str, Any]) -> GateResult:
    """Evaluate ``conditions`` in order (all must hold) against a JSON-like ``context``."""
    values = {
        path: _lookup(context, chain)
        for condition in conditions
        for path, chain in zip(condition.paths, condition.keys, strict=True)
    }
    activation = {str(name): _to_cel(value) for name, value in context.items()}
    for condition in conditions:
        error = _run(condition, activation)
        if error is not None:
            return GateResult(False, condition.source, values, error or None)
    return GateResult(True, None, values)


def _run(condition: Condition, activation: dict[str, Any]) -> str | None:
    """``None`` when the condition holds, ``""`` when it is false, else the error."""
    try:
        result = condition.program.evaluate(activation)
    except CELEvalError as exc:
        return _describe(exc)
    except RecursionError:
        return "the expression is nested too deeply to evaluate"
    if isinstance(result, celtypes.BoolType):
        return None if result else ""
    return f"the condition gave {_show(result)}, not true or false"


def _describe(exc: CELEvalError) -> str:
    message = str(exc.args[0]) if exc.args else "evaluation failed"
    message = message.split(" (in activation", 1)[0].replace("None with type: ", "")
    message = _RULE_TOKEN.sub(lambda m: repr(_OPERATORS.get(m.group(1), m.group(1))), message)
    message = _CEL_TYPE.sub(lambda m: _CEL_NAMES.get(m.group(1), m.group(1).lower()), message)
    return message[:300]


_OPERATORS: Final = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}
_CEL_NAMES: Final = {"None": "null", "Map": "map", "List": "list", "Uint": "uint"}


def _cel_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return "double"
    name = type(value).__name__.removesuffix("Type")
    return _CEL_NAMES.get(name, name.lower())


def _show(value: object) -> str:
    """A scalar result as plain Python text; containers by their type alone."""
    for kind in (int, float, str):
        if isinstance(value, kind):
            return f"{_cel_type(value)} {kind(value)!r}"
    return _cel_type(value)


def _to_cel(value: Any) -> Any:
    """JSON-like Python → CEL values, every number as a double (see the module docstring)."""
    if value is None or isinstance(value, bool):
        return None if value is None else celtypes.BoolType(value)
    if isinstance(value, int | float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, Mapping):
        return celtypes.MapType({celtypes.StringType(k): _to_cel(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return celtypes.ListType([_to_cel(v) for v in value])
    return json_to_cel(value)


# -------------------------------------------------------------------------- numbers


def _is_double(value: object) -> bool:
    return isinstance(value, float)


def _is_integer(value: object) -> bool:
    return isinstance(value, celtypes.IntType | celtypes.UintType)


def _promoting(name: str) -> Callable[[Any, Any], Any]:
    base = base_functions[name]

    def apply(left: Any, right: Any) -> Any:
        if (_is_double(left) and _is_integer(right)) or (_is_integer(left) and _is_double(right)):
            left, right = celtypes.DoubleType(left), celtypes.DoubleType(right)
        return base(left, right)

    apply.__name__ = getattr(base, "__name__", name)
    return apply


_FUNCTIONS: Final[dict[str, CELFunction]] = {
    name: _promoting(name)
    for name in ("_<_", "_<=_", "_>_", "_>=_", "_==_", "_!=_", "_+_", "_-_", "_*_", "_/_")
}
