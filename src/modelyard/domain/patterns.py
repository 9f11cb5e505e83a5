"""AWS EventBridge content-filter patterns: validation and matching (stdlib only).

A pattern is a JSON object shaped like the events it selects. Every key must match (AND);
a leaf is always a non-empty array and matches when **any** element matches (OR). An
element is either a literal or a single-key matcher object::

    {"source": ["aws.ec2"],
     "detail": {"state": ["running", {"prefix": "stop"}],
                "cpu": [{"numeric": [">", 0, "<=", 90]}],
                "$or": [{"zone": ["a"]}, {"ip": [{"cidr": "10.0.0.0/8"}]}]}}

* Literals match exactly and by JSON type: ``"1"`` never matches ``1``, ``null`` never
  matches ``""``, and numbers compare by their representation (``300`` is not ``300.0``).
* Matchers: ``prefix`` / ``suffix`` (optionally ``{"equals-ignore-case": s}``),
  ``equals-ignore-case``, ``wildcard`` (``*`` = any run of characters, no ``**``; ``\\*``
  and ``\\\\`` are the only escapes), ``anything-but`` (a string, a number, a list of only
  strings or only numbers, or ``{prefix|suffix|equals-ignore-case|wildcard: s | [s, ...]}``;
  leaves of another type pass), ``numeric`` (one or two ``op, n`` pairs, ops
  ``= < <= > >=``; numbers only), ``cidr`` (IPv4/IPv6, strings only) and ``exists``.
* Every matcher except ``exists: false`` needs the field to be present as a **leaf**;
  ``exists: false`` matches a missing field or one whose value is an object.
* ``"$or": [{...}, {...}]`` (two or more sub-patterns, none using a matcher name as a key)
  ORs its sub-patterns, ANDs with its siblings and may nest; any other ``$or`` is a field.
* Arrays in the event: a leaf array matches when any of its (nested) scalar elements
  matches; arrays of objects are "crushed" at any depth. Matching is **array-consistent**
  (as in aws/event-ruler): the fields matched under one sub-pattern object must all come
  from the *same* element of an event array, so ``{"e": {"first": ["Anna"], "last":
  ["Jones"]}}`` does not match ``{"e": [{"first": "Anna"}, {"last": "Jones"}]}``.

``compile_pattern`` validates once and precompiles regexes, networks and lowercased
strings, so ``Pattern.matches`` does no parsing.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from modelyard.domain.pattern_matchers import (
    AnythingButMatch,
    AnythingButValues,
    Cidr,
    EqualsIgnoreCase,
    Leaf,
    Matcher,
    Numeric,
    Object,
    Prefix,
    Suffix,
    Wildcard,
    is_number,
    literal_key,
)
from modelyard.errors import ValidationError

__all__ = ["Pattern", "PatternError", "compile_pattern"]

_STRING_MATCHERS: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")
#: Keys that make a ``$or`` array a leaf of matchers rather than a list of sub-patterns.
_RESERVED: Final = frozenset(
    {"exactly", "anything-but", "numeric", "cidr", "exists", *_STRING_MATCHERS}
)
_IGNORE_CASE: Final = "equals-ignore-case"
_LOWER_OPS: Final = frozenset({">", ">="})
_UPPER_OPS: Final = frozenset({"<", "<="})


class PatternError(ValidationError):
    """A pattern broke a rule; ``field`` is the JSON path of the offending element."""


def _fail(path: str, rule: str) -> PatternError:
    return PatternError(f"{path}: {rule}", field=path)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A validated, compiled event pattern; ``source`` is its canonical JSON text.

    Two patterns are equal (and hash alike) when their canonical sources are equal.
    """

    source: str
    root: Object = field(compare=False, repr=False)

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether the parsed JSON ``event`` satisfies this pattern."""
        if not isinstance(event, Mapping):
            return False
        return self.root.test_mapping(event)

    def exact_fields(self) -> dict[tuple[str, ...], frozenset[str]]:
        """Top-level-ANDed fields (as key paths) whose leaf holds only literal strings.

        Each maps to the set of values one of which the event must carry there, which is
        what a rule index needs; fields under ``$or`` are left out.
        """
        found: dict[tuple[str, ...], frozenset[str]] = {}
        self.root.exact_fields((), found)
        return found


# -------------------------------------------------------------------------- compiling


def compile_pattern(pattern: Mapping[str, Any] | str) -> Pattern:
    """Validate ``pattern`` (a JSON object or its text) and compile it; raise ``PatternError``."""
    parsed = _parse_json(pattern) if isinstance(pattern, str) else pattern
    if not isinstance(parsed, Mapping):
        raise _fail("pattern", "must be a JSON object")
    root = _compile_object(parsed, "pattern")
    try:
        source = json.dumps(parsed, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail("pattern", f"is not JSON-serialisable: {exc}") from None
    return Pattern(source=source, root=root)


def _parse_json(text: str) -> object:
    def reject(constant: str) -> object:
        raise _fail("pattern", f"{constant} is not valid JSON")

    try:
        return json.loads(text, parse_constant=reject)
    except json.JSONDecodeError as exc:
        raise _fail("pattern", f"not valid JSON: {exc.msg} (line {exc.lineno})") from None


def _child_path(path: str, key: str) -> str:
    if key and re.fullmatch(r"[^.\[\]\"'\s]+", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _is_or_array(value: object) -> bool:
    if not isinstance(value, list) or len(value) < 2:
        return False
    return all(isinstance(sub, dict) and not _RESERVED.intersection(sub) for sub in value)


def _compile_object(node: Mapping[str, Any], path: str) -> Object:
    if not node:
        raise _fail(path, "an object in a pattern must not be empty")
    fields: list[tuple[str, Leaf | Object]] = []
    alternatives: tuple[Object, ...] = ()
    for key, value in node.items():
        if not isinstance(key, str):
            raise _fail(path, f"key {key!r} is not a string")
        child = _child_path(path, key)
        if key == "$or" and _is_or_array(value):
            subs = enumerate(value)
            alternatives = tuple(_compile_object(sub, f"{child}[{i}]") for i, sub in subs)
        elif isinstance(value, Mapping):
            fields.append((key, _compile_object(value, child)))
        else:
            fields.append((key, _compile_leaf(value, child)))
    return Object(fields=tuple(fields), alternatives=alternatives)


def _compile_leaf(value: object, path: str) -> Leaf:
    if not isinstance(value, list):
        raise _fail(path, f"a leaf must be an array, not {_json_type(value)}")
    if not value:
        raise _fail(path, "a leaf must be a non-empty array")
    literals: set[object] = set()
    matchers: list[Matcher] = []
    exists: set[bool] = set()
    for i, element in enumerate(value):
        where = f"{path}[{i}]"
        if isinstance(element, Mapping):
            _compile_element(element, where, matchers, exists)
        elif element is None or isinstance(element, (str, bool)) or is_number(element):
            _check_finite(element, where)
            literals.add(literal_key(element))
        else:
            raise _fail(where, f"{_json_type(element)} is neither a literal nor a matcher")
    return Leaf(frozenset(literals), tuple(matchers), True in exists, False in exists)


def _compile_element(
    element: Mapping[str, Any], path: str, matchers: list[Matcher], exists: set[bool]
) -> None:
    if len(element) != 1:
        raise _fail(path, f"a matcher object needs exactly one key, got {len(element)}")
    ((name, operand),) = element.items()
    if name == "exists":
        if not isinstance(operand, bool):
            raise _fail(path, f"exists takes true or false, not {_json_type(operand)}")
        exists.add(operand)
        return
    build = _BUILDERS.get(name)
    if build is None:
        raise _fail(path, f"unknown matcher {name!r}")
    matchers.append(build(operand, path))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_number(value):
        return "a number"
    names = {str: "a string", list: "an array"}
    return next((n for t, n in names.items() if isinstance(value, t)), "an object")


def _check_finite(value: object, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, f"{value!r} is not a finite number")


def _require_string(name: str, operand: object, path: str) -> str:
    if not isinstance(operand, str):
        raise _fail(path, f"{name} takes a string, not {_json_type(operand)}")
    return operand


def _affix_operand(name: str, operand: object, path: str) -> tuple[str, bool]:
    if isinstance(operand, str):
        return operand, False
    if isinstance(operand, Mapping) and list(operand) == [_IGNORE_CASE]:
        text = _require_string(f"{name} {_IGNORE_CASE}", operand[_IGNORE_CASE], path)
        return text.lower(), True
    raise _fail(path, f'{name} takes a string or {{"{_IGNORE_CASE}": string}}')


def _build_prefix(operand: object, path: str) -> Matcher:
    return Prefix(*_affix_operand("prefix", operand, path))


def _build_suffix(operand: object, path: str) -> Matcher:
    return Suffix(*_affix_operand("suffix", operand, path))


def _build_ignore_case(operand: object, path: str) -> Matcher:
    return EqualsIgnoreCase(_require_string(_IGNORE_CASE, operand, path).lower())


def _build_wildcard(operand: object, path: str) -> Matcher:
    return Wildcard(_wildcard_regex(_require_string("wildcard", operand, path), path))


def _wildcard_regex(text: str, path: str) -> re.Pattern[str]:
    parts: list[str] = []
    previous_star = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped not in ("*", "\\"):
                raise _fail(path, f"wildcard {text!r} has an invalid escape at {i}")
            parts.append(re.escape(escaped))
            i += 2
            previous_star = False
            continue
        if char == "*" and previous_star:
            raise _fail(path, f"wildcard {text!r} has consecutive '*'")
        previous_star = char == "*"
        parts.append(".*" if previous_star else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _build_cidr(operand: object, path: str) -> Matcher:
    text = _require_string("cidr", operand, path)
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise _fail(path, f"cidr {text!r} is not an IPv4 or IPv6 network") from None
    first, last = int(network.network_address), int(network.broadcast_address)
    return Cidr(network.version, first, last)


def _build_numeric(operand: object, path: str) -> Matcher:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise _fail(path, "numeric takes [op, n] or [op, n, op, n]")
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    for op, number in pairs:
        if op not in ("=", *_LOWER_OPS, *_UPPER_OPS):
            raise _fail(path, f"numeric operator {op!r} is not one of = < <= > >=")
        if not is_number(number) or not math.isfinite(number):
            raise _fail(path, f"numeric operand {number!r} is not a finite number")
    if len(pairs) == 1:
        return _one_sided(*pairs[0])
    return _range(pairs, path)


def _one_sided(op: str, number: float) -> Numeric:
    if op == "=":
        return Numeric(number, True, number, True)
    if op in _LOWER_OPS:
        return Numeric(number, op == ">=", None, False)
    return Numeric(None, False, number, op == "<=")


def _range(pairs: list[tuple[Any, Any]], path: str) -> Numeric:
    lower = [pair for pair in pairs if pair[0] in _LOWER_OPS]
    upper = [pair for pair in pairs if pair[0] in _UPPER_OPS]
    if len(lower) != 1 or len(upper) != 1:
        raise _fail(path, "a numeric range needs one lower bound (> >=) and one upper (< <=)")
    (low_op, low), (high_op, high) = lower[0], upper[0]
    inclusive = low_op == ">=" and high_op == "<="
    if low > high or (low == high and not inclusive):
        raise _fail(path, f"numeric range {low_op} {low!r}, {high_op} {high!r} is empty")
    return Numeric(low, low_op == ">=", high, high_op == "<=")


def _build_anything_but(operand: object, path: str) -> Matcher:
    if isinstance(operand, str):
        return AnythingButValues(frozenset([operand]), numbers=False)
    if is_number(operand):
        _check_finite(operand, path)
        return AnythingButValues(frozenset([operand]), numbers=True)
    if isinstance(operand, list):
        return _anything_but_list(operand, path)
    if isinstance(operand, Mapping):
        return _anything_but_matchers(operand, path)
    raise _fail(path, f"anything-but does not take {_json_type(operand)}")


def _anything_but_list(values: list[Any], path: str) -> Matcher:
    if not values:
        raise _fail(path, "anything-but takes a non-empty list")
    if all(isinstance(value, str) for value in values):
        return AnythingButValues(frozenset(values), numbers=False)
    if all(is_number(value) for value in values):
        for value in values:
            _check_finite(value, path)
        return AnythingButValues(frozenset(values), numbers=True)
    raise _fail(path, "anything-but list must hold only strings or only numbers")


def _anything_but_matchers(operand: Mapping[str, Any], path: str) -> Matcher:
    if len(operand) != 1 or next(iter(operand)) not in _STRING_MATCHERS:
        raise _fail(path, f"anything-but object takes one of {', '.join(_STRING_MATCHERS)}")
    ((name, value),) = operand.items()
    texts = value if isinstance(value, list) else [value]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise _fail(path, f"anything-but {name} takes a string or a non-empty list of strings")
    build = _BUILDERS[name]
    return AnythingButMatch(tuple(build(text, path) for text in texts))


_BUILDERS: Final[dict[str, Callable[[object, str], Matcher]]] = {
    "prefix": _build_prefix,
    "suffix": _build_suffix,
    _IGNORE_CASE: _build_ignore_case,
    "wildcard": _build_wildcard,
    "anything-but": _build_anything_but,
    "numeric": _build_numeric,
    "cidr": _build_cidr,
}
