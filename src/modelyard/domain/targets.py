"""Rule targets: where a matched event goes, and how hard delivery tries (pure validation).

A target is ``{"type": ..., <type's fields>, <retry fields>}``. Types:

* ``webhook``: ``url`` (http/https), ``secret`` (16+ characters, signs every request),
  optional ``headers`` (extra request headers) — 2xx means delivered;
* ``sqs``: ``queue_url`` (FIFO queues get the event's group as message group and the event
  id as deduplication id);
* ``sns``: ``topic_arn``;
* ``eventbridge``: optional ``event_bus`` (name or ARN, default ``default``),
  ``source`` (default ``modelyard``) and ``detail_type`` (default: the event's type);
* ``log``: writes one line per event to the ``modelyard.events`` logger;
* ``pipeline``: ``pipeline`` (a name) — starts a run of that pipeline for the event's version
  (created for a pipeline's ``trigger:``);

the AWS types also take ``region`` and ``endpoint_url`` (credentials come from boto3's
usual chain). Every type takes ``timeout`` (seconds, default 10), ``max_attempts``
(default 25, about 14 hours of retries) and ``max_age`` (a duration like ``90s``, ``30m``,
``24h``; default 24h): a delivery that fails ``max_attempts`` times, or whose next retry would
come more than ``max_age`` after it was queued, is dead-lettered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from modelyard.errors import ValidationError

TARGET_TYPES: Final = ("webhook", "sqs", "sns", "eventbridge", "log", "pipeline")
MIN_SECRET_LENGTH: Final = 16
DEFAULT_TIMEOUT_S: Final = 10.0
MAX_TIMEOUT_S: Final = 60.0
DEFAULT_MAX_ATTEMPTS: Final = 25  # 1 s doubling to 1 h: ~14 h of retries
MAX_ATTEMPTS_LIMIT: Final = 100
DEFAULT_MAX_AGE: Final = timedelta(hours=24)
MAX_AGE_LIMIT: Final = timedelta(days=14)
REDACTED: Final = "********"

_DURATION = re.compile(r"^(\d{1,7})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PIPELINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host"})
_SQS_URL = re.compile(r"^https?://[^/]+/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_BUS = re.compile(
    r"^([A-Za-z0-9._\-/]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/.+)$"
)

_COMMON = {"type", "timeout", "max_attempts", "max_age"}
_FIELDS: dict[str, tuple[set[str], set[str]]] = {  # type → (required, optional)
    "webhook": ({"url", "secret"}, {"headers"}),
    "sqs": ({"queue_url"}, {"region", "endpoint_url"}),
    "sns": ({"topic_arn"}, {"region", "endpoint_url"}),
    "eventbridge": (set(), {"event_bus", "source", "detail_type", "region", "endpoint_url"}),
    "log": (set(), set()),
    "pipeline": ({"pipeline"}, set()),
}


def parse_duration(value: object, *, field: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` or a number of seconds → a positive duration."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int | float) and value > 0:
        return timedelta(seconds=float(value))
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            f"{field}: {value!r} is not a duration like 90s, 30m, 12h, 7d or 2w", field=field
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact ``parse_duration`` spelling: ``24h``, ``90s``, ``2w``."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class Target:
    """A validated target: its type, its type's settings and its retry limits."""

    type: str
    config: Mapping[str, Any]
    timeout: float = DEFAULT_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_age: timedelta = DEFAULT_MAX_AGE
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        """The stored form; ``redact`` hides the webhook secret (what every read returns)."""
        config = dict(self.config)
        if redact and "secret" in config:
            config["secret"] = REDACTED
        return {
            "type": self.type,
            **config,
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "max_age": format_duration(self.max_age),
        }

    @property
    def describe(self) -> str:
        """One human line: ``webhook https://…``, ``sqs https://…/queue``."""
        where = next(
            (
                self.config[k]
                for k in ("url", "queue_url", "topic_arn", "event_bus")
                if k in self.config
            ),
            "default" if self.type == "eventbridge" else "",
        )
        return f"{self.type} {where}".strip()


def parse_target(spec: object, *, field: str = "targets[0]") -> Target:
    """Validate one target spec; errors name the offending field (``targets[1].url``)."""
    if not isinstance(spec, Mapping):
        raise ValidationError(f"{field}: must be an object with a 'type'", field=field)
    kind = spec.get("type")
    if kind not in _FIELDS:
        raise ValidationError(
            f"{field}.type: {kind!r} is not a target type (one of {', '.join(TARGET_TYPES)})",
            field=f"{field}.type",
        )
    required, optional = _FIELDS[kind]
    for key in sorted(set(spec) - required - optional - _COMMON):
        raise ValidationError(
            f"{field}.{key}: not a field of a {kind} target "
            f"(fields: {', '.join(sorted(required | optional | _COMMON - {'type'}))})",
            field=f"{field}.{key}",
        )
    for key in sorted(required - set(spec)):
        raise ValidationError(
            f"{field}.{key}: required for a {kind} target", field=f"{field}.{key}"
        )
    config = {key: spec[key] for key in sorted(required | optional) if key in spec}
    for key, value in config.items():
        _check_field(kind, key, value, field=f"{field}.{key}")
    return Target(
        type=kind,
        config=config,
        timeout=_timeout(spec.get("timeout", DEFAULT_TIMEOUT_S), field=f"{field}.timeout"),
        max_attempts=_attempts(spec.get("max_attempts", DEFAULT_MAX_ATTEMPTS), field=field),
        max_age=_max_age(spec.get("max_age"), field=f"{field}.max_age"),
    )


def _check_field(kind: str, key: str, value: Any, *, field: str) -> None:
    if key == "headers":
        _check_headers(value, field=field)
        return
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field}: must be a non-empty string", field=field)
    checks: dict[str, tuple[bool, str]] = {
        "url": (_is_http_url(value), "is not an http(s) URL with a host"),
        "endpoint_url": (_is_http_url(value), "is not an http(s) URL with a host"),
        "secret": (
            len(value) >= MIN_SECRET_LENGTH,
            f"must be at least {MIN_SECRET_LENGTH} characters (it signs every request)",
        ),
        "queue_url": (
            bool(_SQS_URL.match(value)),
            "is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)",
        ),
        "topic_arn": (
            bool(_SNS_ARN.match(value)),
            "is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
        ),
        "event_bus": (bool(_BUS.match(value)), "is not an event bus name or ARN"),
        "region": (bool(_REGION.match(value)), "is not an AWS region like us-east-1"),
        "source": (len(value) <= 256, "must be at most 256 characters"),
        "detail_type": (len(value) <= 128, "must be at most 128 characters"),
        "pipeline": (bool(_PIPELINE.match(value)), "is not a pipeline name"),
    }
    ok, rule = checks.get(key, (True, ""))
    if not ok:
        shown = REDACTED if key == "secret" else repr(value)
        raise ValidationError(f"{field}: {shown} {rule}", field=field)


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname) and " " not in value


def _check_headers(value: Any, *, field: str) -> None:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{field}: must be an object of header name → value", field=field)
    for name, header in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValidationError(f"{field}: {name!r} is not a header name", field=field)
        lowered = name.lower()
        if lowered in _RESERVED_HEADERS or lowered.startswith("modelyard-"):
            raise ValidationError(
                f"{field}.{name}: set by modelyard itself, cannot be overridden",
                field=f"{field}.{name}",
            )
        if not isinstance(header, str) or "\n" in header or "\r" in header:
            raise ValidationError(
                f"{field}.{name}: must be a single-line string", field=f"{field}.{name}"
            )


def _timeout(value: Any, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{field}: must be a number of seconds", field=field)
    if not 0.1 <= value <= MAX_TIMEOUT_S:
        raise ValidationError(
            f"{field}: {value} is outside 0.1-{MAX_TIMEOUT_S:g} seconds", field=field
        )
    return float(value)


def _attempts(value: Any, *, field: str) -> int:
    name = f"{field}.max_attempts"
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_ATTEMPTS_LIMIT
    ):
        raise ValidationError(
            f"{name}: {value!r} is not a whole number from 1 to {MAX_ATTEMPTS_LIMIT}", field=name
        )
    return value


def _max_age(value: Any, *, field: str) -> timedelta:
    if value is None:
        return DEFAULT_MAX_AGE
    age = parse_duration(value, field=field)
    if age > MAX_AGE_LIMIT:
        raise ValidationError(f"{field}: {value!r} is longer than 14 days", field=field)
    return age
