"""The version search language: a filter grammar and order-by clauses, parsed to a small AST.

Grammar (documented for users in docs/search.md)::

    filter     := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" filter ")" | comparison
    comparison := FIELD OP VALUE | FIELD ["not"] "in" "(" VALUE ("," VALUE)* ")"
    OP         := = | == | != | < | <= | > | >= | like | ilike
    FIELD      := name | version | approval_status | created_at | created_by | alias
                | framework | description | manifest_digest
                | metrics.KEY | params.KEY | tags.KEY | metadata.KEY
    VALUE      := 'string' | "string" | number

The store compiles the AST to SQL; nothing here touches a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, exceptions

from modelyard.domain.approval import parse_status
from modelyard.domain.names import validate_key
from modelyard.errors import ValidationError

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | "(" or_expr ")"
         | comparison
comparison: FIELD OP value              -> compare
          | FIELD _IN "(" value ("," value)* ")"       -> member
          | FIELD _NOT _IN "(" value ("," value)* ")"  -> non_member
value: NUMBER | STRING
_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
OP.2: ">=" | "<=" | "!=" | "==" | "=" | ">" | "<" | /i?like\b/i
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
STRING: /'([^'\\]|\\.)*'/ | /"([^"\\]|\\.)*"/
FIELD: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_][A-Za-z0-9_.\-\/:]*)?/
%import common.WS
%ignore WS
"""

#: fields without a key, and the kind of value each compares with
PLAIN_FIELDS = {
    "name": "text",
    "version": "int",
    "approval_status": "status",
    "created_at": "time",
    "created_by": "text",
    "alias": "text",
    "framework": "text",
    "description": "text",
    "manifest_digest": "text",
}
KEYED_FIELDS = {"metrics": "number", "params": "text", "tags": "text", "metadata": "text"}
ORDER_FIELDS = ("name", "version", "created_at", "metrics.KEY")
_TEXT_OPS = frozenset({"=", "!=", "like", "ilike"})
_ORDERED_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_OPS_BY_KIND = {
    "text": _TEXT_OPS,
    "status": frozenset({"=", "!="}),
    "int": _ORDERED_OPS,
    "number": _ORDERED_OPS,
    "time": _ORDERED_OPS,
}
MAX_FILTER_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class Field:
    kind: str  # a PLAIN_FIELDS name or a KEYED_FIELDS prefix
    key: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}" if self.key else self.kind


@dataclass(frozen=True, slots=True)
class Comparison:
    field: Field
    op: str  # = != < <= > >= like ilike in notin
    value: Any  # float, int, str, datetime, or a tuple of those for in/notin


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Comparison | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderKey:
    field: Field
    descending: bool


def parse_field(text: str, *, where: str = "filter") -> Field:
    prefix, dot, key = text.partition(".")
    if not dot and prefix in PLAIN_FIELDS:
        return Field(prefix)
    if dot and prefix in KEYED_FIELDS:
        validate_key(key, field=where)
        return Field(prefix, key)
    known = ", ".join([*PLAIN_FIELDS, *(f"{k}.KEY" for k in KEYED_FIELDS)])
    raise ValidationError(f"{where}: unknown field {text!r}; fields are {known}", field=where)


def _field_kind(field: Field) -> str:
    return KEYED_FIELDS[field.kind] if field.key else PLAIN_FIELDS[field.kind]


def _coerce(field: Field, raw: Token) -> Any:
    kind = _field_kind(field)
    is_string = raw.type == "STRING"
    text = _unquote(str(raw)) if is_string else str(raw)
    if kind == "number":
        if is_string:
            raise ValidationError(
                f"filter: {field} compares with numbers, got {raw}", field="filter"
            )
        return float(text)
    if kind == "int":
        if is_string or not text.lstrip("+-").isdigit():
            raise ValidationError(
                f"filter: {field} compares with whole numbers, got {raw}", field="filter"
            )
        return int(text)
    if kind == "time":
        return _parse_time(text, field)
    if not is_string:
        raise ValidationError(
            f"filter: {field} compares with quoted strings, got {raw}", field="filter"
        )
    if kind == "status":
        return parse_status(text, field="filter").value
    return text


def _parse_time(text: str, field: Field) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"filter: {field} compares with ISO 8601 times like '2026-10-01T12:00Z', got {text!r}",
            field="filter",
        ) from None
    # Stored times are UTC; SQLite compares them as text, so the bound value must be UTC too.
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


class _ToAst(Transformer[Token, Node]):
    def compare(self, items: list[Any]) -> Comparison:
        field_token, op_token, value = items
        field = parse_field(str(field_token))
        op = str(op_token).lower().replace("==", "=")
        allowed = _OPS_BY_KIND[_field_kind(field)]
        if op not in allowed:
            raise ValidationError(
                f"filter: {field} does not support {op!r}; use one of {', '.join(sorted(allowed))}",
                field="filter",
            )
        return Comparison(field, op, _coerce(field, value))

    def member(self, items: list[Any]) -> Comparison:
        field = parse_field(str(items[0]))
        return Comparison(field, "in", tuple(_coerce(field, v) for v in items[1:]))

    def non_member(self, items: list[Any]) -> Comparison:
        field = parse_field(str(items[0]))
        return Comparison(field, "notin", tuple(_coerce(field, v) for v in items[1:]))

    def value(self, items: list[Token]) -> Token:
        return items[0]

    def and_expr(self, items: list[Node]) -> And:
        return And(tuple(items))

    def or_expr(self, items: list[Node]) -> Or:
        return Or(tuple(items))

    def negation(self, items: list[Node]) -> Not:
        return Not(items[0])


@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


def parse_filter(text: str | None) -> Node | None:
    """Parse a filter expression; ``None`` or blank means "everything"."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise ValidationError(f"filter: longer than {MAX_FILTER_LENGTH} characters", field="filter")
    try:
        tree = _parser().parse(text)
        node: Node = _ToAst().transform(tree)
    except exceptions.VisitError as e:
        if isinstance(e.orig_exc, ValidationError):
            raise e.orig_exc from None
        raise
    except exceptions.UnexpectedInput as e:
        raise ValidationError(_syntax_message(text, e), field="filter") from None
    return node


def _syntax_message(text: str, error: exceptions.UnexpectedInput) -> str:
    column = getattr(error, "column", None)
    token = getattr(error, "token", None)
    at_end = getattr(token, "type", None) == "$END"
    if isinstance(error, exceptions.UnexpectedEOF) or at_end or column in (None, -1):
        return f"filter: {text!r} ends too early (an operand or ')' is missing)"
    snippet = text[column - 1 : column + 11]
    return f"filter: syntax error at column {column} near {snippet!r} in {text!r}"


def parse_order_by(text: str | None) -> tuple[OrderKey, ...]:
    """Parse ``"metrics.auc desc, version asc"``; blank means newest first."""
    if text is None or not text.strip():
        return ()
    keys: list[OrderKey] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise ValidationError(
                f"order_by: {part.strip()!r} is not 'FIELD [asc|desc]'", field="order_by"
            )
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ValidationError(
                f"order_by: direction must be asc or desc, got {words[1]!r}", field="order_by"
            )
        field = parse_field(words[0], where="order_by")
        if (field.key is None and field.kind not in ORDER_FIELDS) or (
            field.key and field.kind != "metrics"
        ):
            raise ValidationError(
                f"order_by: cannot order by {field}; order by one of {', '.join(ORDER_FIELDS)}",
                field="order_by",
            )
        keys.append(OrderKey(field, direction == "desc"))
    if len(keys) > 3:
        raise ValidationError("order_by: at most 3 keys are allowed", field="order_by")
    return tuple(keys)
