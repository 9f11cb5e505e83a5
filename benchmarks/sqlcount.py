"""Count the SQL statements and transactions a block of code issues (all engines)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event


@dataclass(slots=True)
class SqlCounts:
    statements: int = 0
    commits: int = 0


@contextmanager
def count_sql() -> Iterator[SqlCounts]:
    counts = SqlCounts()

    def on_execute(*_args: Any) -> None:
        counts.statements += 1

    def on_commit(*_args: Any) -> None:
        counts.commits += 1

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        event.remove(Engine, "commit", on_commit)
