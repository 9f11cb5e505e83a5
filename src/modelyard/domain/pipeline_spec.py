"""Release pipeline definitions: a YAML document of stages, validated to the line.

A pipeline names its stages and the action each ``uses`` (``ACTIONS``); a stage runs after
the stages it ``needs`` (by default the one before it, so a plain list is a sequence).
Every error reads ``line N: <field>: <reason>`` with the field as a JSON path
(``stages[2].approvers.count``) and carries ``.line`` and ``.field``::

    name: release
    trigger: {type: [version.created], data: {group: [{prefix: fraud-}]}}
    stages:
      - {name: validate, uses: validate, require: [metrics.auc]}
      - {name: quality, uses: gate, when: "candidate.metrics.auc >= 0.85"}
      - {name: review, uses: approval, approvers: {role: approver, count: 2}}
      - {name: production, uses: deploy, environment: production}

``Stage.config`` holds the action's settings with defaults filled in and durations in
seconds. Gate conditions may read ``candidate``, ``run`` and one name per environment.
Commands, hooks and messages may use the ``PLACEHOLDERS`` (``{artifact_dir}``, ...);
``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import shlex
import string
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from modelyard.domain.access import Role
from modelyard.domain.gates import GateError, compile_condition
from modelyard.domain.names import validate_alias_name, validate_key, validate_principal_name
from modelyard.domain.patterns import Pattern, PatternError, compile_pattern
from modelyard.domain.targets import parse_duration
from modelyard.domain.yaml_document import (
    MAX_DOCUMENT,
    MAX_NESTING,
    MAX_NODES,
    LocatedError,
    YamlDocument,
    child_path,
    load,
)
from modelyard.errors import ValidationError

__all__ = [
    "ACTIONS",
    "GATE_ROOTS",
    "MAX_DOCUMENT",
    "MAX_NESTING",
    "MAX_NODES",
    "PLACEHOLDERS",
    "PipelineError",
    "PipelineSpec",
    "Stage",
    "parse_pipeline",
]

ACTIONS: Final = ("validate", "scan", "command", "gate", "approval", "deploy", "notify")
PLACEHOLDERS: Final = (
    "artifact_dir",
    "metrics_out",
    "reference",
    "group",
    "version",
    "run_id",
    "pipeline",
)
#: Names a gate condition may read besides the environments (``production``, ...).
GATE_ROOTS: Final = ("candidate", "run")
MAX_STAGES: Final = 50
MAX_CONDITIONS: Final = 20
MAX_DESCRIPTION: Final = 1024
MAX_TEXT: Final = 4096
MAX_APPROVERS: Final = 10

#: 54 characters at most, so that its trigger rule ``pipeline-<name>`` is a valid rule name
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,53}")
_STAGE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EVENT_TYPE = re.compile(r"custom(\.[a-z][a-z0-9_]*)+")
_LINEAGE_PATH = re.compile(r"lineage(\.[A-Za-z0-9_][A-Za-z0-9_-]*)+")
_KEYED_PREFIXES: Final = ("metrics", "params", "tags", "metadata")
_FORMATTER: Final = string.Formatter()


class PipelineError(LocatedError):
    """A pipeline document broke a rule; ``field`` is the JSON path, ``line`` is 1-based."""


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    uses: str
    config: Mapping[str, Any]
    needs: tuple[str, ...]
    line: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "uses": self.uses, "needs": list(self.needs), **self.config}


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A validated pipeline; ``stages`` are in execution order, ``source`` is the YAML."""

    name: str
    description: str
    trigger: Pattern | None
    stages: tuple[Stage, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "trigger": None if self.trigger is None else json.loads(self.trigger.source),
            "stages": [stage.to_dict() for stage in self.stages],
        }


# -------------------------------------------------------------------------- YAML


class _Document(YamlDocument):
    """The pipeline being parsed: its lines (see ``YamlDocument``) and the environments a
    deploy stage may target and a gate may read."""

    def __init__(self, environments: Collection[str]) -> None:
        super().__init__(PipelineError)
        self.environments = environments


# -------------------------------------------------------------------------- checks


def _fields(
    doc: _Document,
    value: object,
    path: str,
    *,
    what: str,
    required: Collection[str] = (),
    optional: Collection[str] = (),
) -> dict[str, Any]:
    """``value`` as a mapping with only the given keys and all the required ones."""
    if not isinstance(value, dict):
        raise doc.fail(path, f"must be a mapping ({what})")
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            listed = ", ".join(sorted(allowed)) or "none"
            raise doc.fail(child_path(path, key), f"not a field of {what} (fields: {listed})")
    for key in required:
        if key not in value:
            raise doc.fail(child_path(path, key), f"required for {what}")
    return value


def _text(doc: _Document, value: object, path: str, *, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise doc.fail(path, f"must be a string, not {_kind(value)}")
    if len(value) > limit:
        raise doc.fail(path, f"longer than {limit} characters")
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    return names.get(type(value), "a list" if isinstance(value, list) else "a mapping")


def _boolean(doc: _Document, value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise doc.fail(path, f"must be true or false, not {_kind(value)}")
    return value


def _integer(doc: _Document, value: object, path: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise doc.fail(path, f"{value!r} is not a whole number from {low} to {high}")
    return value


def _seconds(doc: _Document, value: object, path: str, *, limit: str) -> int:
    try:
        duration = parse_duration(value, field=path).total_seconds()
    except ValidationError as exc:
        raise doc.wrap(exc, path) from None
    if duration > parse_duration(limit, field=path).total_seconds():
        raise doc.fail(path, f"{value!r} is longer than {limit}")
    return max(1, math.ceil(duration))


def _list(doc: _Document, value: object, path: str, *, low: int, high: int) -> list[Any]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise doc.fail(path, f"must be a list of {low} to {high} items")
    return value


def _placeholders(doc: _Document, text: str, path: str) -> None:
    escape = "write {{ and }} for literal braces"
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise doc.fail(path, f"{exc} ({escape})") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            field = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            known = ", ".join("{" + known + "}" for known in PLACEHOLDERS)
            raise doc.fail(path, f"'{{{field}}}' is not a placeholder (one of {known}; {escape})")


def _command(doc: _Document, value: object, path: str) -> str | list[str]:
    """A command line (split later with shlex) or an argument list."""
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise doc.fail(path, f"not a valid command line: {exc}") from None
        if not words:
            raise doc.fail(path, "must not be empty")
        _placeholders(doc, _text(doc, value, path), path)
        return value
    if not isinstance(value, list) or not value:
        raise doc.fail(path, "must be a command line or a non-empty list of arguments")
    for index, argument in enumerate(value):
        _placeholders(doc, _text(doc, argument, f"{path}[{index}]"), f"{path}[{index}]")
    if not value[0]:
        raise doc.fail(f"{path}[0]", "the program must not be empty")
    return list(value)


def _placeholders_in(doc: _Document, text: str, path: str) -> str:
    _placeholders(doc, text, path)
    return text


def _http_url(doc: _Document, value: object, path: str) -> str:
    url = _text(doc, value, path, limit=2048)
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in {"http", "https"} or not parts.hostname or " " in url:
        raise doc.fail(path, f"{url!r} is not an http(s) URL with a host")
    return url


# -------------------------------------------------------------------------- actions

_Spec = dict[str, Any]
_ACTION_FIELDS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "validate": ((), ("require", "check_manifest", "checks")),
    "scan": ((), ()),
    "command": (("run",), ("env", "timeout", "idempotent")),
    "gate": (("when",), ()),
    "approval": ((), ("approvers", "timeout")),
    "deploy": (("environment",), ("hook", "check", "rollback_on_failure")),
    "notify": (("type",), ("message", "data")),
}


def _validate(doc: _Document, spec: _Spec, path: str) -> dict[str, Any]:
    require = _list(doc, spec.get("require", []), f"{path}.require", low=0, high=100)
    seen: set[str] = set()
    for index, item in enumerate(require):
        where = f"{path}.require[{index}]"
        _require_path(doc, item, where)
        if item in seen:
            raise doc.fail(where, f"{item!r} is listed twice")
        seen.add(item)
    checks = spec.get("checks")
    return {
        "require": list(require),
        "check_manifest": _boolean(doc, spec.get("check_manifest", True), f"{path}.check_manifest"),
        "checks": [] if checks is None else _conditions(doc, checks, f"{path}.checks"),
    }


def _require_path(doc: _Document, value: object, path: str) -> None:
    text = _text(doc, value, path, limit=256)
    prefix, _, key = text.partition(".")
    if text in {"description", "model_card"} or _LINEAGE_PATH.fullmatch(text):
        return
    if prefix in _KEYED_PREFIXES and key:
        try:
            validate_key(key, field=path)
        except ValidationError as exc:
            raise doc.wrap(exc, path) from None
        return
    raise doc.fail(
        path,
        f"{text!r} is not a version field (metrics.KEY, params.KEY, tags.KEY, "
        "metadata.KEY, lineage.PATH, description or model_card)",
    )


def _scan(doc: _Document, spec: _Spec, path: str) -> dict[str, Any]:
    return {}


def _command_stage(doc: _Document, spec: _Spec, path: str) -> dict[str, Any]:
    env = spec.get("env", {})
    if not isinstance(env, dict):
        raise doc.fail(f"{path}.env", "must be a mapping of NAME: value")
    for name, value in env.items():
        where = child_path(f"{path}.env", name)
        if not _ENV_NAME.fullmatch(name):
            raise doc.fail(where, f"{name!r} is not an environment variable name")
        if not isinstance(value, str):
            raise doc.fail(where, f"must be a string, not {_kind(value)} (quote it)")
        _placeholders(doc, value, where)
    return {
        "run": _command(doc, spec["run"], f"{path}.run"),
        "env": dict(env),
        "timeout": _seconds(doc, spec.get("timeout", "1h"), f"{path}.timeout", limit="24h"),
        "idempotent": _boolean(doc, spec.get("idempotent", True), f"{path}.idempotent"),
    }


def _gate(doc: _Document, spec: _Spec, path: str) -> dict[str, Any]:
    return {"when": _conditions(doc, spec["when"], f"{path}.when")}


def _conditions(doc: _Document, when: object, where: str) -> list[str]:
    """One CEL expression or a list of them, each compiled (errors carry their line)."""
    items = [(where, when)] if isinstance(when, str) else None
    if items is None:
        if not isinstance(when, list):
            raise doc.fail(where, f"must be a CEL expression or a list of 1 to {MAX_CONDITIONS}")
        conditions = _list(doc, when, where, low=1, high=MAX_CONDITIONS)
        items = [(f"{where}[{i}]", source) for i, source in enumerate(conditions)]
    roots = {*GATE_ROOTS, *doc.environments}
    for item_path, source in items:
        try:
            compile_condition(_text(doc, source, item_path), field=item_path, roots=roots)
        except GateError as exc:
            first = doc.blocks.get(item_path)
            line = None if first is None or exc.line is None else first + exc.line - 1
            reason = exc.message.removeprefix(f"{item_path}: ")
            raise doc.fail(item_path, reason, line=line) from None
    return [str(source) for _, source in items]


def _approval(doc: _Document, spec: _Spec, path: str) -> dict[str, Any]:
    where = f"{path}.approvers"
    approvers = _fields(
        doc,
        spec.get("approvers", {}),
        where,
        what="approvers",
        optional=("role", "count", "principals", "allow_registrant"),
    )
    roles = [role.value for role in Role]
    role = approvers.get("role", Role.APPROVER.value)
    if role not in roles:
        raise doc.fail(f"{where}.role", f"{role!r} is not a role (one of {', '.join(roles)})")
    count = _integer(doc, approvers.get("count", 1), f"{where}.count", low=1, high=MAX_APPROVERS)
    principals = _principals(doc, approvers.get("principals"), f"{where}.principals")
    if principals is not None and count > len(principals):
        raise doc.fail(
            f"{where}.count", f"{count} approvals needed but only {len(principals)} principals"
        )
    return {
        "approvers": {
            "role": role,
            "count": count,
            "principals": principals,
            "allow_registrant": _boolean(
                doc, approvers.get("allow_registrant", False), f"{where}.allow_registrant"
            ),
        },
        "timeout": _seconds(doc, spec.get("timeout", "7d"), f"{path}.timeout", limit="90d"),
    }


def _principals(doc: _Document, value: object, path: str) -> list[str] | None:
    if value is None:
        return None
    names = _list(doc, value, path, low=1, high=100)
    for index, name in enumerate(names):
        try:
            validate_principal_name(name, field=f"{path}[{index}]")
        except ValidationError as exc:
            raise doc.wrap(exc, f"{path}[{index}]") from None
        if name in names[:index]:
            raise doc.fail(f"{path}[{index}]", f"{name!r} is listed twice")
    return list(names)


def _deploy(doc: _Document, spec: _Spec, path: str) -> dict[str, Any]:
    where = f"{path}.environment"
    environment = spec["environment"]
    try:
        validate_alias_name(environment, field=where)
    except ValidationError as exc:
        raise doc.wrap(exc, where) from None
    if environment not in doc.environments:
        known = ", ".join(sorted(doc.environments)) or "none"
        raise doc.fail(where, f"{environment!r} is not an environment (known: {known})")
    hook, check = spec.get("hook"), spec.get("check")
    return {
        "environment": environment,
        "hook": None if hook is None else _hook(doc, hook, f"{path}.hook"),
        "check": None if check is None else _check(doc, check, f"{path}.check"),
        "rollback_on_failure": _boolean(
            doc, spec.get("rollback_on_failure", True), f"{path}.rollback_on_failure"
        ),
    }


def _hook(doc: _Document, value: object, path: str) -> dict[str, Any]:
    if isinstance(value, dict) and "run" in value:
        _fields(doc, value, path, what="a command hook", required=("run",))
        return {"run": _command(doc, value["run"], f"{path}.run")}
    if isinstance(value, dict) and "webhook" in value:
        _fields(doc, value, path, what="a webhook hook", required=("webhook", "secret"))
        secret = _text(doc, value["secret"], f"{path}.secret", limit=1024)
        if len(secret) < 16:
            raise doc.fail(f"{path}.secret", "must be at least 16 characters (it signs requests)")
        return {"webhook": _http_url(doc, value["webhook"], f"{path}.webhook"), "secret": secret}
    raise doc.fail(path, "must be {run: COMMAND} or {webhook: URL, secret: SECRET}")


def _check(doc: _Document, value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not {"run", "url"} & set(value):
        raise doc.fail(path, "must be {run: COMMAND} or {url: URL}, with an optional timeout")
    if "run" in value:
        _fields(doc, value, path, what="a command check", required=("run",), optional=("timeout",))
        check: dict[str, Any] = {"run": _command(doc, value["run"], f"{path}.run")}
    else:
        _fields(
            doc,
            value,
            path,
            what="a URL check",
            required=("url",),
            optional=("expect_status", "timeout"),
        )
        status = value.get("expect_status", 200)
        check = {
            "url": _placeholders_in(
                doc, _http_url(doc, value["url"], f"{path}.url"), f"{path}.url"
            ),
            "expect_status": _integer(doc, status, f"{path}.expect_status", low=100, high=599),
        }
    check["timeout"] = _seconds(doc, value.get("timeout", "5m"), f"{path}.timeout", limit="1h")
    return check


def _notify(doc: _Document, spec: _Spec, path: str) -> dict[str, Any]:
    kind = _text(doc, spec["type"], f"{path}.type", limit=128)
    if not _EVENT_TYPE.fullmatch(kind):
        raise doc.fail(
            f"{path}.type", f"{kind!r} is not a custom event type (custom.word[.word...])"
        )
    message = spec.get("message")
    if message is not None:
        _placeholders(doc, _text(doc, message, f"{path}.message"), f"{path}.message")
    data = spec.get("data", {})
    if not isinstance(data, dict):
        raise doc.fail(f"{path}.data", "must be a mapping of key: value")
    for key, value in data.items():
        if isinstance(value, dict | list):
            raise doc.fail(child_path(f"{path}.data", key), "must be a string, number or boolean")
    return {"type": kind, "message": message, "data": dict(data)}


_ACTION_PARSERS: Final[dict[str, Callable[[_Document, _Spec, str], dict[str, Any]]]] = {
    "validate": _validate,
    "scan": _scan,
    "command": _command_stage,
    "gate": _gate,
    "approval": _approval,
    "deploy": _deploy,
    "notify": _notify,
}


# -------------------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class _Draft:
    """A stage before its needs are resolved (``needs`` is None when not given)."""

    name: str
    uses: str
    config: dict[str, Any]
    needs: list[str] | None
    line: int


def _stage(doc: _Document, value: object, path: str) -> _Draft:
    if not isinstance(value, dict):
        raise doc.fail(path, "must be a mapping with a name and uses")
    uses = value.get("uses")
    if "uses" not in value:
        raise doc.fail(f"{path}.uses", f"required (one of {', '.join(ACTIONS)})")
    if uses not in ACTIONS:
        raise doc.fail(f"{path}.uses", f"{uses!r} is not an action (one of {', '.join(ACTIONS)})")
    required, optional = _ACTION_FIELDS[uses]
    spec = _fields(
        doc,
        value,
        path,
        what=f"{'an' if uses[0] in 'aeiou' else 'a'} {uses} stage",
        required=("name", "uses", *required),
        optional=("needs", *optional),
    )
    name = spec["name"]
    if not isinstance(name, str) or not _STAGE_NAME.fullmatch(name):
        raise doc.fail(
            f"{path}.name",
            f"{name!r} is not a stage name (1-63 lowercase letters, digits, _ and -, "
            "starting with a letter)",
        )
    needs = spec.get("needs")
    if needs is not None and not isinstance(needs, str):
        needs = _list(doc, needs, f"{path}.needs", low=0, high=MAX_STAGES)
    config = _ACTION_PARSERS[uses](doc, spec, path)
    needs = [needs] if isinstance(needs, str) else needs
    return _Draft(name=name, uses=uses, config=config, needs=needs, line=doc.line(path))


def _stages(doc: _Document, value: object) -> tuple[Stage, ...]:
    items = _list(doc, value, "stages", low=1, high=MAX_STAGES)
    drafts: list[_Draft] = []
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        draft = _stage(doc, item, f"stages[{index}]")
        if draft.name in first:
            other = first[draft.name]
            raise doc.fail(
                f"stages[{index}].name",
                f"{draft.name!r} is already the name of stages[{other}] "
                f"(line {drafts[other].line})",
            )
        first[draft.name] = index
        drafts.append(draft)
    needs = [_needs(doc, drafts, index, first) for index in range(len(drafts))]
    return _order(doc, drafts, needs)


def _needs(
    doc: _Document, drafts: list[_Draft], index: int, first: dict[str, int]
) -> tuple[str, ...]:
    given, path = drafts[index].needs, f"stages[{index}].needs"
    if given is None:
        return (drafts[index - 1].name,) if index else ()
    listed = f"{path}[0]" in doc.lines or not given
    for position, name in enumerate(given):
        where = f"{path}[{position}]" if listed else path
        if not isinstance(name, str) or name not in first:
            stages = ", ".join(first)
            raise doc.fail(where, f"{name!r} is not a stage of this pipeline (stages: {stages})")
        if name in given[:position]:
            raise doc.fail(where, f"{name!r} is listed twice")
    return tuple(given)


def _order(doc: _Document, drafts: list[_Draft], needs: list[tuple[str, ...]]) -> tuple[Stage, ...]:
    """Topological order; among stages that are ready, the one declared first runs first."""
    index = {draft.name: i for i, draft in enumerate(drafts)}
    waiting = [len(set(names)) for names in needs]
    dependents: list[list[int]] = [[] for _ in drafts]
    for i, names in enumerate(needs):
        for name in names:
            dependents[index[name]].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in dependents[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) < len(drafts):
        raise _cycle(doc, drafts, needs, index, set(range(len(drafts))) - set(order))
    return tuple(
        Stage(
            name=drafts[i].name,
            uses=drafts[i].uses,
            config=drafts[i].config,
            needs=needs[i],
            line=drafts[i].line,
        )
        for i in order
    )


def _cycle(
    doc: _Document,
    drafts: list[_Draft],
    needs: list[tuple[str, ...]],
    index: dict[str, int],
    stuck: set[int],
) -> LocatedError:
    """Every stuck stage needs a stuck stage, so walking ``needs`` from one finds a cycle."""
    walk = [min(stuck)]
    while True:
        step = next(index[name] for name in needs[walk[-1]] if index[name] in stuck)
        if step in walk:
            cycle = walk[walk.index(step) :]
            break
        walk.append(step)
    # a cycle needs a forward edge, and only explicit needs point forward
    start = min(i for i in cycle if drafts[i].needs is not None)
    at = cycle.index(start)
    cycle = cycle[at:] + cycle[:at] + [start]
    names = " -> ".join(drafts[i].name for i in cycle)
    return doc.fail(f"stages[{start}].needs", f"cycle: {names}")


# -------------------------------------------------------------------------- parsing


def parse_pipeline(text: str, *, environments: Collection[str]) -> PipelineSpec:
    """Validate a pipeline document; raise ``PipelineError`` at the first problem found.

    ``environments`` are the names a ``deploy`` stage may target (and a gate may read).
    """
    doc = _Document(frozenset(environments))
    root = load(text, doc)
    if not isinstance(root, dict):
        raise doc.fail("", "a pipeline must be a mapping with a name and stages")
    spec = _fields(
        doc,
        root,
        "",
        what="a pipeline",
        required=("name", "stages"),
        optional=("description", "trigger"),
    )
    name = spec["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise doc.fail(
            "name",
            f"{name!r} is not a pipeline name (1-54 letters, digits, _ and -, "
            "starting with a letter or digit)",
        )
    description = _text(doc, spec.get("description", ""), "description", limit=MAX_DESCRIPTION)
    trigger = _trigger(doc, spec.get("trigger"))
    stages = _stages(doc, spec["stages"])
    return PipelineSpec(
        name=name, description=description, trigger=trigger, stages=stages, source=text
    )


def _trigger(doc: _Document, value: object) -> Pattern | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise doc.fail("trigger", "must be an event pattern (a mapping)")
    try:
        return compile_pattern(value)
    except PatternError as exc:
        field = exc.field or "pattern"
        path = "trigger" + field.removeprefix("pattern")
        raise doc.fail(path, exc.message.removeprefix(f"{field}: ")) from None
