"""Delivering one event to one target: the message, the outcome, the retry schedule and
the webhook signature (pure; the senders that do I/O live in ``modelyard.worker``).

Webhook requests carry::

    Modelyard-Event-Id:   <event id>            (the idempotency key: dedupe on it)
    Modelyard-Event-Type: <event type>
    Modelyard-Timestamp:  <unix seconds of this attempt>
    Modelyard-Signature:  v1=<hex HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>

Receivers recompute the HMAC over the raw body bytes, compare in constant time, and
reject timestamps too far from their clock (replay protection); see ``verify_signature``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from modelyard.domain.targets import Target

SIGNATURE_VERSION: Final = "v1"
HEADER_ID: Final = "Modelyard-Event-Id"
HEADER_TYPE: Final = "Modelyard-Event-Type"
HEADER_TIMESTAMP: Final = "Modelyard-Timestamp"
HEADER_SIGNATURE: Final = "Modelyard-Signature"
BACKOFF_BASE: Final = timedelta(seconds=1)
BACKOFF_CAP: Final = timedelta(hours=1)
DEFAULT_TOLERANCE_S: Final = 300


@dataclass(frozen=True, slots=True)
class Message:
    """One event, rendered for one rule, ready for a target."""

    event_id: str
    event_type: str
    group: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt achieved. ``ok`` = delivered (a webhook's 2xx, an AWS success)."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    latency_ms: float = 0.0


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 over ``<id>.<timestamp>.<body>`` with the target's secret."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(
    secret: str,
    *,
    event_id: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when ``signature`` is ours for this request and the timestamp is recent."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, event_id, int(timestamp), body)
    return hmac.compare_digest(expected, signature)


def backoff(attempt: int, jitter: float) -> timedelta:
    """Delay before retry number ``attempt`` (1 = after the first failure): exponential from
    1 s, capped at 1 h, scaled by ``jitter`` in [0, 1) into [50%, 100%) ("equal jitter")."""
    exponential = BACKOFF_BASE * (2 ** min(attempt - 1, 20))
    capped: timedelta = min(exponential, BACKOFF_CAP)
    return capped * (0.5 + jitter / 2)


def next_attempt(
    target: Target, *, attempts: int, queued_at: datetime, now: datetime, jitter: float
) -> datetime | None:
    """When to try again after ``attempts`` failures since the delivery was queued (or
    redriven) at ``queued_at``, or ``None`` = dead-letter it now: out of attempts, or the
    retry would come later than ``max_age`` after it was queued."""
    if attempts >= target.max_attempts:
        return None
    when = now + backoff(attempts, jitter)
    return None if when - queued_at > target.max_age else when
