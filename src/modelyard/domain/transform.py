"""A rule's optional input transform: deliver selected fields instead of the whole event.

Two forms, as in EventBridge (``InputPath`` and ``InputPathsMap``):

* ``{"input_path": "$.data"}`` delivers that part of the event;
* ``{"input_paths": {"ref": "$.data.reference", "status": "$.data.approval_status"}}``
  delivers an object of the selected values (``null`` where the event has no such field).

A path is ``$`` or ``$`` followed by ``.name`` and ``[index]`` steps
(``$.detail.ModelPackageVersion``, ``$.resources[0]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from modelyard.errors import ValidationError

_STEP = re.compile(r"\.([A-Za-z0-9_$@-]+)|\[(\d{1,4})\]")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PATHS: Final = 50
_MISSING = object()


def parse_path(path: object, *, field: str) -> tuple[str | int, ...]:
    """``$.a.b[0]`` → ``("a", "b", 0)``."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValidationError(f"{field}: {path!r} is not a path like $.data.reference", field=field)
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if not match:
            raise ValidationError(
                f"{field}: {path!r} is not a path like $.data.reference "
                f"(unexpected {path[position:]!r})",
                field=field,
            )
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return tuple(steps)


def select(document: Any, steps: tuple[str | int, ...]) -> Any:
    """The value at ``steps`` in ``document``, or ``None`` when there is none."""
    value = document
    for step in steps:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and step < len(value) else _MISSING
        else:
            value = value.get(step, _MISSING) if isinstance(value, Mapping) else _MISSING
        if value is _MISSING:
            return None
    return value


@dataclass(frozen=True, slots=True)
class Transform:
    """A validated transform; ``spec`` is what the user wrote (and what is stored)."""

    spec: Mapping[str, Any]
    path: tuple[str | int, ...] | None
    paths: tuple[tuple[str, tuple[str | int, ...]], ...]

    def apply(self, event: Mapping[str, Any]) -> Any:
        if self.path is not None:
            return select(event, self.path)
        return {key: select(event, steps) for key, steps in self.paths}


def parse_transform(spec: object, *, field: str = "transform") -> Transform | None:
    """Validate a transform spec (``None`` or ``{}`` = deliver the whole event)."""
    if spec is None or spec == {}:
        return None
    if not isinstance(spec, Mapping):
        raise ValidationError(
            f"{field}: must be an object with 'input_path' or 'input_paths'", field=field
        )
    unknown = sorted(set(spec) - {"input_path", "input_paths"})
    if unknown:
        raise ValidationError(
            f"{field}.{unknown[0]}: not a transform field (use input_path or input_paths)",
            field=f"{field}.{unknown[0]}",
        )
    if len(spec) != 1:
        raise ValidationError(
            f"{field}: give either input_path or input_paths, not both", field=field
        )
    if "input_path" in spec:
        steps = parse_path(spec["input_path"], field=f"{field}.input_path")
        return Transform(spec=dict(spec), path=steps, paths=())
    paths = spec["input_paths"]
    name = f"{field}.input_paths"
    if not isinstance(paths, Mapping) or not 1 <= len(paths) <= MAX_PATHS:
        raise ValidationError(
            f"{name}: must be an object of 1-{MAX_PATHS} output name → path", field=name
        )
    parsed = []
    for key, path in paths.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValidationError(
                f"{name}: {key!r} is not an output name (letters, digits, _ and -)", field=name
            )
        parsed.append((key, parse_path(path, field=f"{name}.{key}")))
    return Transform(spec={"input_paths": dict(paths)}, path=None, paths=tuple(parsed))
