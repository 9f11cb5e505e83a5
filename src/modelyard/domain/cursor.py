"""Opaque keyset-pagination cursors: the sort key of the last row, bound to its query."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from modelyard.errors import ValidationError


def query_fingerprint(*parts: object) -> str:
    text = json.dumps([str(p) for p in parts])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(values: list[Any], fingerprint: str) -> str:
    encoded = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"k": encoded, "q": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> list[Any]:
    """The key values a cursor carries; refuses cursors of another query or garbage."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        values = data["k"]
        matches = data["q"] == fingerprint
    except (ValueError, KeyError, TypeError):
        raise ValidationError("cursor: not a cursor this server issued", field="cursor") from None
    if not matches or not isinstance(values, list):
        raise ValidationError(
            "cursor: it belongs to a different query (filter or order changed)", field="cursor"
        )
    return [datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in values]
