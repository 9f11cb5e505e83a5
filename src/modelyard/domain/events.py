"""CloudEvents 1.0 envelopes for registry state changes (DESIGN.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SPEC_VERSION = "1.0"
SOURCE = "modelyard"


@dataclass(frozen=True, slots=True)
class Event:
    """An immutable record of one state change; ``data`` always carries ``group``."""

    id: str
    type: str
    subject: str
    time: datetime
    data: dict[str, Any]
    source: str = SOURCE

    def to_cloudevent(self) -> dict[str, Any]:
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }
