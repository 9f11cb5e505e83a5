"""Count the SQL statements and transactions a block of code issues (all engines), and the
time spent executing them (from just before the DB-API ``execute`` to just after it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event


@dataclass(slots=True)
class SqlCounts:
    statements: int = 0
    commits: int = 0
    execute_seconds: float = 0.0


@contextmanager
def count_sql() -> Iterator[SqlCounts]:
    counts = SqlCounts()
    started = [0.0]

    def on_execute(*_args: Any) -> None:
        counts.statements += 1
        started[0] = time.perf_counter()

    def on_executed(*_args: Any) -> None:
        counts.execute_seconds += time.perf_counter() - started[0]

    def on_commit(*_args: Any) -> None:
        counts.commits += 1

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "after_cursor_execute", on_executed)
    event.listen(Engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        event.remove(Engine, "after_cursor_execute", on_executed)
        event.remove(Engine, "commit", on_commit)
