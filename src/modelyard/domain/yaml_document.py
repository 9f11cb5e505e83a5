"""A YAML document parsed into plain values while remembering the line of every path, so a
validator can fail with ``line N: <path>: <reason>`` (pure: no I/O).

PyYAML's ``compose`` gives nodes with marks; ``YamlDocument.build`` turns them into dicts,
lists and scalars (duplicate keys, merge keys, unusual tags and non-finite numbers are
errors), bounded in size, node count (aliases expanded: no billion laughs) and nesting.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

import yaml

from modelyard.errors import ValidationError

MAX_DOCUMENT: Final = 256 * 1024
MAX_NODES: Final = 10_000  # counted with aliases expanded: no billion laughs
MAX_NESTING: Final = 64

_SIMPLE_KEY = re.compile(r"[^.\[\]\"'\s]+")  # as in patterns, so trigger paths line up
_LAST_SEGMENT = re.compile(r"(.*?)(?:\.[^.\[\]\"'\s]+|\[\d+\]|\[\"(?:[^\"\\]|\\.)*\"\])")
_YAML: Final = "tag:yaml.org,2002:"
_SCALAR = yaml.constructor.SafeConstructor()


class LocatedError(ValidationError):
    """An error at a place in a document: ``field`` (JSON path) and ``line`` (1-based)."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None):
        super().__init__(message, field=field)
        self.line = line


class YamlDocument:
    """The line of every path in the document, and how to fail at one."""

    def __init__(self, error: type[LocatedError] = LocatedError) -> None:
        self.error = error
        self.lines: dict[str, int] = {"": 1}
        self.blocks: dict[str, int] = {}  # path → first content line of a `|` block scalar
        self.nodes = 0

    def line(self, path: str) -> int:
        while path not in self.lines:
            match = _LAST_SEGMENT.fullmatch(path)
            path = match.group(1) if match else ""
        return self.lines[path]

    def fail(self, path: str, reason: str, *, line: int | None = None) -> LocatedError:
        where = self.line(path) if line is None else line
        if not path:
            return self.error(f"line {where}: {reason}", line=where)
        return self.error(f"line {where}: {path}: {reason}", field=path, line=where)

    def wrap(self, exc: ValidationError, path: str) -> LocatedError:
        """Re-raise a domain validator's error (``"<field>: reason"``) at ``path``'s line."""
        reason = exc.message.removeprefix(f"{exc.field}: ")
        return self.fail(path, reason)

    # ---------------------------------------------------------------------- building

    def build(self, node: yaml.Node, path: str, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(path, f"more than {MAX_NODES} values (aliases count each use)")
        if depth > MAX_NESTING:
            raise self.fail(path, f"nested more than {MAX_NESTING} levels deep")
        if isinstance(node, yaml.MappingNode) and node.tag == _YAML + "map":
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode) and node.tag == _YAML + "seq":
            items = []
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                self._note(child, item)
                items.append(self.build(item, child, depth + 1))
            return items
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        raise self.fail(path, f"the YAML tag {node.tag} is not supported")

    def _note(self, path: str, node: yaml.Node, *, line: int | None = None) -> None:
        """Remember ``path``'s line (a mapping entry's is its key's line)."""
        self.lines[path] = node.start_mark.line + 1 if line is None else line
        if isinstance(node, yaml.ScalarNode) and node.style == "|":
            self.blocks[path] = node.start_mark.line + 2

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(path, "a key must be a plain string", line=line)
            if key_node.tag == _YAML + "merge":
                raise self.fail(path, "merge keys (<<) are not supported", line=line)
            key = key_node.value
            child = child_path(path, key)
            if key in result:
                first = self.lines[child]
                raise self.fail(child, f"duplicate key (first at line {first})", line=line)
            self._note(child, value_node, line=line)
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        kind = node.tag.removeprefix(_YAML)
        if kind in {"str", "timestamp"}:  # YAML 1.1 dates stay text, as in JSON
            return node.value
        if kind == "null":
            return None
        if kind == "bool":
            return _SCALAR.construct_yaml_bool(node)
        if kind == "int":
            return _SCALAR.construct_yaml_int(node)
        if kind == "float":
            number = _SCALAR.construct_yaml_float(node)
            if not math.isfinite(number):
                raise self.fail(path, f"{node.value} is not a finite number")
            return number
        raise self.fail(path, f"the YAML tag {node.tag} is not supported")


def child_path(path: str, key: str) -> str:
    if _SIMPLE_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def load(text: str, doc: YamlDocument) -> Any:
    """Parse ``text`` into plain values, noting every path's line in ``doc``."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT:
        raise doc.fail("", f"the document is larger than {MAX_DOCUMENT // 1024} KiB")
    try:
        _check_nesting(text, doc)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise doc.fail("", f"YAML syntax error: {_yaml_problem(exc)}", line=line) from None
    except yaml.YAMLError as exc:  # the reader: bad characters, no mark
        position = getattr(exc, "position", 0)
        line = text.count("\n", 0, position) + 1
        raise doc.fail("", f"YAML syntax error: {_reader_problem(exc)}", line=line) from None
    if node is None:
        raise doc.fail("", "the document is empty; a pipeline needs a name and stages")
    doc.lines[""] = node.start_mark.line + 1
    return doc.build(node, "")


def _check_nesting(text: str, doc: YamlDocument) -> None:
    """PyYAML composes recursively: refuse deep nesting before it does."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise doc.fail("", f"nested more than {MAX_NESTING} levels deep", line=line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or "not valid YAML"
    if not (exc.context and exc.context_mark and exc.problem_mark):
        return problem
    if problem.startswith("but "):  # "expected a single document…, but found another…"
        return f"{exc.context}, {problem}"
    if exc.context_mark.line != exc.problem_mark.line:
        return f"{problem} ({exc.context} at line {exc.context_mark.line + 1})"
    return f"{problem} ({exc.context})"


def _reader_problem(exc: yaml.YAMLError) -> str:
    character = getattr(exc, "character", None)
    reason = getattr(exc, "reason", "cannot be read")
    code = ord(character) if isinstance(character, str) else character
    return f"character #x{code:04x}: {reason}" if isinstance(code, int) else str(reason)
