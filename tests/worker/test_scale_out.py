"""Several `modelyard worker` processes on one PostgreSQL store share the deliveries:
every event arrives, in per-group order, and no attempt runs twice at the same time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelyard import Registry
from modelyard.domain.events import Event
from modelyard.store.sql import journal
from tests.conftest import _truncate
from tests.worker.receiver import Receiver, running_receiver

EVENTS = 5_000
GROUPS = 25
WORKERS = 3


@pytest.fixture
def pg_store(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry]]:
    blobs = f"file://{tmp_path / 'blobs'}"
    Registry.open(tmp_path / "home", db_url=postgres_url, blobs_url=blobs).close()  # migrate
    _truncate(postgres_url)
    with Registry.open(tmp_path / "home", db_url=postgres_url, blobs_url=blobs) as registry:
        yield postgres_url, registry


def _bulk_events(registry: Registry, count: int) -> dict[str, list[str]]:
    """``count`` events over GROUPS groups, written to the outbox in one transaction (the
    same write the services make); returns each group's event ids in commit order."""
    by_group: dict[str, list[str]] = {f"g{i}": [] for i in range(GROUPS)}
    now = datetime.now(UTC)
    with registry._ctx.db.transaction() as conn:
        for n in range(count):
            group = f"g{n % GROUPS}"
            event = Event(
                id=str(uuid.uuid4()),
                type="group.updated",
                subject=group,
                time=now,
                data={"group": group, "n": n},
            )
            journal.append_event(conn, event)
            by_group[group].append(event.id)
    return by_group


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_deliver_5000_events_once_each_in_group_order(
    pg_store: tuple[str, Registry], tmp_path: Path
) -> None:
    url, registry = pg_store
    with running_receiver() as receiver:
        registry.create_rule(
            "all",
            {"type": ["group.updated"]},
            [{"type": "webhook", "url": receiver.url, "secret": "s" * 20}],
        )
        expected = _bulk_events(registry, EVENTS)
        env = {
            **os.environ,
            "MODELYARD_HOME": str(tmp_path / "home"),
            "MODELYARD_DB_URL": url,
            "MODELYARD_BLOBS_URL": f"file://{tmp_path / 'blobs'}",
            "MODELYARD_DELIVERY_THREADS": "4",
        }
        logs = [(tmp_path / f"worker-{i}.log").open("wb") for i in range(WORKERS)]
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "modelyard", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            for log in logs
        ]
        try:
            receiver.wait_for(EVENTS, timeout=240)
        finally:
            for process in workers:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=30) for process in workers]
            for log in logs:
                log.close()
        assert codes == [0] * WORKERS, [
            (tmp_path / f"worker-{i}.log").read_text() for i in range(3)
        ]
        _check(receiver, expected)
    attempts_by_worker = {
        a["worker"]
        for d in registry.list_deliveries(rule="all", limit=1000)
        for a in registry.get_event(d["event_id"])["deliveries"][0]["attempt_log"]
    }
    assert len(attempts_by_worker) > 1, "the work was not shared"
    assert registry.list_deliveries(status="pending") == []


def _check(receiver: Receiver, expected: dict[str, list[str]]) -> None:
    assert receiver.max_in_flight == 1, "an event was being delivered twice at the same time"
    ids = receiver.unique_ids()
    assert len(ids) == EVENTS
    delivered = [r.event_id for r in receiver.delivered()]
    assert len(delivered) == len(set(delivered)), "an event was delivered twice"
    position = {event_id: i for i, event_id in enumerate(ids)}
    for group, in_order in expected.items():
        assert sorted(in_order, key=position.__getitem__) == in_order, f"{group} out of order"


@pytest.mark.postgres
def test_workers_hear_of_other_processes_events_on_postgresql(
    pg_store: tuple[str, Registry], tmp_path: Path
) -> None:
    """LISTEN/NOTIFY: a commit with an event in one process wakes listeners in another
    (here: another engine, with its own connections), without waiting for the poll."""
    import threading

    url, writer = pg_store
    heard = threading.Event()
    blobs = f"file://{tmp_path / 'blobs'}"  # the same store, so the same key file
    with Registry.open(tmp_path / "home", db_url=url, blobs_url=blobs) as other:
        other.delivery_queue().subscribe(heard.set)
        time.sleep(0.2)  # the listener connects
        writer.create_group("announced")
        assert heard.wait(timeout=10), "no notification arrived"
