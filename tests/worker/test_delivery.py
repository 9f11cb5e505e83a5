"""Durable delivery end to end: outbox → rules → worker → a real webhook receiver.

Time-dependent behaviour (backoff, dead-lettering, leases) runs on an injected clock and
``Worker.step()``; the threaded worker is exercised against the real clock elsewhere.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelyard import Registry
from modelyard.domain import delivery
from modelyard.errors import ValidationError
from modelyard.store.sql import journal
from modelyard.worker.loop import Worker
from tests.conftest import MakeArtifact
from tests.worker.receiver import Receiver, running_receiver

SECRET = "s3cret-s3cret-s3cret"


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_store(db_url: str, tmp_path: Path, clock: Clock) -> Iterator[Callable[..., Registry]]:
    """Open the local registry on the test's store, on the injected clock."""
    opened: list[Registry] = []

    def open_(**kwargs: Any) -> Registry:
        reg = Registry.open(
            tmp_path / "home",
            db_url=db_url,
            blobs_url=f"file://{tmp_path / 'blobs'}",
            clock=kwargs.pop("clock", clock),
            **kwargs,
        )
        opened.append(reg)
        return reg

    yield open_
    for reg in opened:
        reg.close()


@pytest.fixture
def store(open_store: Callable[..., Registry]) -> Registry:
    return open_store()


def webhook(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "webhook", "url": receiver.url, "secret": SECRET, **extra}


_WORKERS: list[Worker] = []


@pytest.fixture(autouse=True)
def _close_workers() -> Iterator[None]:
    yield
    while _WORKERS:
        _WORKERS.pop().close()


def worker_for(registry: Registry, **kwargs: Any) -> Worker:
    """A worker on ``registry``'s store (closed after the test); ``jitter`` fixes the
    backoff jitter (0 = shortest delays, 1 = longest)."""
    jitter = kwargs.pop("jitter", None)
    queue = registry.delivery_queue()
    if jitter is not None:
        queue._jitter = jitter
    worker = Worker(queue, **kwargs)
    _WORKERS.append(worker)
    return worker


def test_a_webhook_gets_each_event_signed_and_exactly_as_recorded(
    store: Registry, receiver: Receiver, make_artifact: MakeArtifact
) -> None:
    store.create_rule("all-versions", {"type": [{"prefix": "version."}]}, [webhook(receiver)])
    store.create_group("fraud", allow_self_approval=True)
    store.register_version("fraud", make_artifact())
    store.approve_version("fraud/1", comment="ok")

    assert worker_for(store).step() == 2
    events = list(reversed(store.list_events(type=None, group="fraud")))
    versions = [e for e in events if e["type"].startswith("version.")]
    got = receiver.delivered()
    assert [r.json for r in got] == versions  # the CloudEvents, as written, in order
    for request in got:
        headers = request.headers
        assert headers["Content-Type"] == "application/json"
        assert headers[delivery.HEADER_TYPE] == request.json["type"]
        assert delivery.verify_signature(
            SECRET,
            event_id=headers[delivery.HEADER_ID],
            timestamp=headers[delivery.HEADER_TIMESTAMP],
            body=request.body,
            signature=headers[delivery.HEADER_SIGNATURE],
            now=time.time(),
        )
    shown = store.get_event(versions[1]["id"])
    [attempt] = shown["deliveries"][0]["attempt_log"]
    assert shown["deliveries"][0]["status"] == "delivered"
    assert attempt["ok"] and attempt["status_code"] == 200 and attempt["latency_ms"] > 0


def test_a_rolled_back_change_leaves_no_event_to_deliver(
    store: Registry, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver)])
    append = journal.append_event

    def append_then_fail(conn: Any, event: Any) -> None:
        append(conn, event)
        raise ValidationError("boom: the change fails after its event was written")

    monkeypatch.setattr(journal, "append_event", append_then_fail)
    with pytest.raises(ValidationError, match="boom"):
        store.create_group("never")
    monkeypatch.setattr(journal, "append_event", append)
    assert store.list_events(type="group.created") == []
    assert worker_for(store).step() == 0
    assert receiver.received == []


def test_an_event_committed_just_before_sigkill_is_delivered_after_restart(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    home, blobs = tmp_path / "home", f"file://{tmp_path / 'blobs'}"
    with Registry.open(home, db_url=db_url, blobs_url=blobs) as registry:
        registry.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver)])
    script = textwrap.dedent(
        f"""
        import os, signal
        from modelyard import Registry
        registry = Registry.open({str(home)!r}, db_url={db_url!r}, blobs_url={blobs!r})
        registry.create_group("committed")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    process = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    with Registry.open(home, db_url=db_url, blobs_url=blobs) as registry:
        assert worker_for(registry).step() == 1
    [request] = receiver.delivered()
    assert request.json["type"] == "group.created"
    assert request.json["data"]["group"] == "committed"


def test_a_receiver_down_for_30s_gets_every_event_once_in_group_order(
    store: Registry, receiver: Receiver, clock: Clock
) -> None:
    store.create_rule("groups", {"type": [{"prefix": "group."}]}, [webhook(receiver)])
    receiver.status = 503  # down
    for name in ("a", "b"):
        store.create_group(name)
        store.update_group(name, description="first")
        store.update_group(name, description="second")
    expected = {g: [e["id"] for e in reversed(store.list_events(group=g))] for g in ("a", "b")}
    worker = worker_for(store, jitter=lambda: 0.5)
    attempts_while_down = 0
    for _ in range(30):
        attempts_while_down += worker.step()
        clock.advance(1)
    # backoff: 1, 2, 4, 8, 16 s (x0.75 jitter) -> the head of each group is tried ~6 times
    assert 2 * 3 <= attempts_while_down <= 2 * 7
    assert receiver.unique_ids() == []
    receiver.status = 200  # recovers
    for _ in range(120):
        worker.step()
        if len(receiver.unique_ids()) == 6:
            break
        clock.advance(1)
    ids = receiver.unique_ids()
    assert sorted(ids) == sorted(expected["a"] + expected["b"])
    for group, in_order in expected.items():
        assert [i for i in ids if i in in_order] == in_order, f"group {group} out of order"
    delivered = [r.event_id for r in receiver.delivered()]
    assert len(delivered) == len(set(delivered)), "a delivered event was sent again"


def test_a_failing_event_holds_back_later_events_of_its_group_only(
    store: Registry, receiver: Receiver, clock: Clock
) -> None:
    store.create_rule("groups", {"type": [{"prefix": "group."}]}, [webhook(receiver)])
    store.create_group("stuck")
    store.create_group("free")
    store.update_group("stuck", description="later")
    store.update_group("free", description="later")
    stuck_first = store.list_events(type="group.created", group="stuck")[0]["id"]
    receiver.status = lambda request: 500 if request.event_id == stuck_first else 200
    worker = worker_for(store)
    worker.step()
    got = [r.json for r in receiver.delivered()]
    assert [(e["type"], e["data"]["group"]) for e in got] == [
        ("group.created", "free"),
        ("group.updated", "free"),
    ]
    receiver.status = 200
    clock.advance(5)
    worker.step()
    assert [r.json["data"]["group"] for r in receiver.delivered()][2:] == ["stuck", "stuck"]


def test_exhausted_deliveries_are_dead_lettered_and_can_be_redriven(
    store: Registry, receiver: Receiver, clock: Clock
) -> None:
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver, max_attempts=2)])
    receiver.status = 500
    store.create_group("g1")
    store.create_group("g2")
    worker = worker_for(store)
    worker.step()
    clock.advance(60)
    worker.step()
    dead = store.list_deliveries(status="dead")
    assert len(dead) == 2
    with pytest.raises(ValidationError, match="say which dead letters"):
        store.redrive_deliveries()
    assert all(d["attempts"] == 2 and d["last_status_code"] == 500 for d in dead)
    assert "HTTP 500" in dead[0]["last_error"]
    receiver.status = 200
    assert store.redrive_deliveries([dead[0]["id"]]) == 1
    worker.step()
    assert len(receiver.unique_ids()) == 1
    assert store.redrive_deliveries(rule="groups") == 1
    worker.step()
    assert len(receiver.unique_ids()) == 2
    assert store.list_deliveries(status="dead") == []
    log = store.get_event(dead[0]["event_id"])["deliveries"][0]["attempt_log"]
    assert [a["attempt"] for a in log] == [1, 2, 3]  # numbering goes on after a redrive
    assert store.audit_log(resource="rule:groups", limit=5)[0].action == "delivery.redrive"


def test_too_old_deliveries_are_dead_lettered_by_age(
    store: Registry, receiver: Receiver, clock: Clock
) -> None:
    store.create_rule(
        "groups", {"type": ["group.created"]}, [webhook(receiver, max_age="10s", max_attempts=50)]
    )
    receiver.status = 503
    store.create_group("g")
    worker = worker_for(store, jitter=lambda: 0.0)
    for _ in range(20):
        worker.step()
        clock.advance(1)
    [dead] = store.list_deliveries(status="dead")
    assert 3 <= dead["attempts"] <= 5


def test_replay_redelivers_matching_past_events_with_the_same_ids(
    store: Registry, receiver: Receiver, clock: Clock
) -> None:
    store.create_group("before-the-rule")
    clock.advance(60)
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver)])
    store.create_group("after-the-rule")
    worker = worker_for(store)
    worker.step()
    assert [r.json["data"]["group"] for r in receiver.delivered()] == ["after-the-rule"]
    assert store.replay_events("groups", since="1h") == 2
    worker.step()
    groups = [r.json["data"]["group"] for r in receiver.delivered()]
    assert sorted(groups[1:]) == ["after-the-rule", "before-the-rule"]  # two streams
    assert len(set(receiver.unique_ids())) == 2
    assert store.replay_events("groups", since="30s") == 1
    replayed = [d for d in store.list_deliveries(rule="groups") if d["replay"]]
    assert len(replayed) == 3


def test_disabled_rules_route_nothing_new_and_deleted_rules_cancel_pending(
    store: Registry, receiver: Receiver
) -> None:
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver)])
    store.disable_rule("groups")
    store.create_group("unseen")
    worker = worker_for(store)
    worker.step()
    store.enable_rule("groups")
    store.create_group("seen")
    worker.step()
    assert [r.json["data"]["group"] for r in receiver.delivered()] == ["seen"]
    store.create_group("pending")
    worker.queue.route(worker="test")  # routed, not yet delivered
    store.delete_rule("groups")
    worker.step()
    assert len(receiver.delivered()) == 1
    [cancelled] = store.list_deliveries(status="cancelled")
    assert cancelled["last_error"] == "rule deleted"


def test_a_transform_delivers_only_the_selected_fields(
    store: Registry, receiver: Receiver, make_artifact: MakeArtifact
) -> None:
    store.create_rule(
        "slim",
        {"type": ["version.created"]},
        [webhook(receiver)],
        transform={"input_paths": {"ref": "$.data.reference", "by": "$.data.created_by"}},
    )
    store.create_group("g")
    store.register_version("g", make_artifact())
    worker_for(store).step()
    assert [r.json for r in receiver.delivered()] == [{"ref": "g/1", "by": "local"}]


def test_a_sagemaker_rule_matches_an_approval_made_through_modelyard(
    store: Registry, receiver: Receiver, make_artifact: MakeArtifact
) -> None:
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelApprovalStatus": ["Approved"]},
    }
    created = store.create_rule("approved", pattern, [webhook(receiver)])
    assert created["format"] == "sagemaker"  # inferred from the pattern
    store.create_group("fraud-detector", allow_self_approval=True)
    store.register_version("fraud-detector", make_artifact())
    store.register_version("fraud-detector", make_artifact({"m.bin": b"2"}))
    store.reject_version("fraud-detector/2", comment="worse")
    store.approve_version("fraud-detector/1", comment="ship it")
    worker_for(store).step()
    [request] = receiver.delivered()
    event = request.json
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["source"] == "aws.sagemaker"
    assert event["detail"]["ModelPackageGroupName"] == "fraud-detector"
    assert event["detail"]["ModelPackageVersion"] == 1
    assert event["detail"]["ModelApprovalStatus"] == "Approved"
    assert event["detail"]["ApprovalDescription"] == "ship it"
    approval = store.list_events(type="version.approval_changed", limit=1)[0]
    assert event["id"] == request.event_id == approval["id"]
    tested = store.test_rule("approved", approval)
    assert tested["matched"] and tested["input"] == event


def test_a_worker_that_dies_mid_stream_is_replaced_after_its_lease(
    store: Registry, receiver: Receiver, clock: Clock
) -> None:
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver)])
    store.create_group("g")
    dead_worker = worker_for(store, name="dead")
    dead_worker.queue.route(worker="dead")
    claimed = dead_worker.queue.claim(worker="dead", lease=timedelta(minutes=2), batch=10)
    assert claimed is not None  # leased, then the process "dies" without recording
    other = worker_for(store, name="other")
    assert other.step() == 0  # the lease holds
    clock.advance(121)
    assert other.step() == 1
    assert len(receiver.unique_ids()) == 1


def test_finished_events_older_than_the_retention_are_pruned(
    store: Registry, receiver: Receiver, clock: Clock
) -> None:
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver)])
    store.create_group("old")
    worker = worker_for(store)
    worker.step()
    clock.advance(3600)
    store.create_group("new")
    assert worker.queue.prune(timedelta(minutes=30)) == 2  # rule.created + old's event
    assert [e["data"]["group"] for e in store.list_events(type="group.created")] == ["new"]
    worker.step()
    assert len(receiver.unique_ids()) == 2


def test_the_threaded_worker_delivers_promptly_after_commit(
    store_real_clock: Registry, receiver: Receiver
) -> None:
    store = store_real_clock
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver)])
    worker = worker_for(store, threads=2)
    worker.start()
    try:
        for i in range(20):
            store.create_group(f"g{i}")
        receiver.wait_for(20, timeout=20)
    finally:
        worker.stop()
    assert len(receiver.delivered()) == 20


@pytest.fixture
def store_real_clock(open_store: Callable[..., Registry]) -> Registry:
    return open_store(clock=lambda: datetime.now(UTC))


def test_log_targets_write_one_line_per_event(
    store: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="modelyard.events")
    store.create_rule("log", {"type": ["group.created"]}, [{"type": "log"}])
    store.create_group("logged")
    worker_for(store).step()
    [line] = [r.getMessage() for r in caplog.records if r.name == "modelyard.events"]
    assert line.startswith("event group.created ") and "group=logged" in line


def test_unreachable_webhooks_are_retried_with_the_error_recorded(
    store: Registry, clock: Clock
) -> None:
    closed = "http://127.0.0.1:9/nothing-listens-here"
    store.create_rule(
        "nowhere",
        {"type": ["group.created"]},
        [{"type": "webhook", "url": closed, "secret": SECRET, "timeout": 1}],
    )
    store.create_group("g")
    worker_for(store).step()
    [pending] = store.list_deliveries(status="pending")
    assert pending["attempts"] == 1 and "ConnectError" in pending["last_error"]
    assert pending["next_attempt_at"] is not None


def test_updating_a_rule_signs_with_the_new_secret_and_drops_removed_targets(
    store: Registry, receiver: Receiver
) -> None:
    store.create_rule("groups", {"type": ["group.created"]}, [webhook(receiver), {"type": "log"}])
    store.create_group("queued")
    worker = worker_for(store)
    worker.queue.route(worker="test")  # two deliveries queued, one per target
    rotated = "a-rotated-secret-0123456789"
    store.update_rule("groups", targets=[webhook(receiver, secret=rotated)])
    worker.step()
    [request] = receiver.delivered()
    assert delivery.verify_signature(
        rotated,
        event_id=request.event_id,
        timestamp=request.headers[delivery.HEADER_TIMESTAMP],
        body=request.body,
        signature=request.headers[delivery.HEADER_SIGNATURE],
        now=time.time(),
    )
    [cancelled] = store.list_deliveries(status="cancelled")
    assert cancelled["target"] == 1 and cancelled["last_error"] == "target removed from the rule"
