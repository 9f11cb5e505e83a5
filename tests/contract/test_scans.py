"""Unsafe-model scans through the API (local Registry and HTTP Client, SQLite and PostgreSQL):
every registered version is scanned, the verdict is on the version, `version scan` re-runs it.

In remote mode the test server's embedded worker does the scans; locally ``scan_version``
runs them in-process.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import create_engine, text

from modelyard import (
    NotFoundError,
    PermissionDeniedError,
    Registry,
    ValidationError,
    VersionScan,
)
from tests.conftest import MakeArtifact, OpenRegistry


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, ("echo pwned",)


def _safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0)


def _sklearn_joblib(tmp_path: Path) -> bytes:
    x = np.random.default_rng(0).normal(size=(40, 3))
    path = tmp_path / "lr.joblib"
    joblib.dump(LogisticRegression().fit(x, x[:, 0] > 0), path)
    return path.read_bytes()


def _registration_scan(registry: Any, ref: str) -> VersionScan:
    """The scan queued by the registration, once done: locally done here (``scan_version``
    joins the open scan); remotely the server's worker does it."""
    if isinstance(registry, Registry):
        return registry.scan_version(ref)
    deadline = time.monotonic() + 30
    while not (scan := registry.version_scan(ref)).is_done and time.monotonic() < deadline:
        time.sleep(0.05)
    return scan


def test_a_malicious_pickle_is_unsafe_with_the_call_named(
    registry: Any, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact({"model.pkl": pickle.dumps(_Evil())}))
    scan = registry.scan_version("g/1")
    assert (scan.status, scan.verdict) == ("done", "unsafe")
    assert scan.findings == ["model.pkl: posix.system (dangerous)"]
    assert registry.version_scan("g/1") == scan


def test_a_sklearn_joblib_model_and_a_safetensors_file_pass(
    registry: Any, make_artifact: MakeArtifact, tmp_path: Path
) -> None:
    registry.create_group("g")
    files = {"model.joblib": _sklearn_joblib(tmp_path), "model.safetensors": _safetensors()}
    registry.register_version("g", make_artifact(files))
    scan = registry.scan_version("g/1")
    assert scan.verdict == "clean"
    assert {f.path: f.status for f in scan.files} == {
        "model.joblib": "clean",
        "model.safetensors": "data_only",
    }


def test_a_file_no_scanner_understands_is_reported_not_scanned(
    registry: Any, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact({"weights.h5": b"\x89HDF\r\n\x1a\n" + bytes(64)}))
    scan = registry.scan_version("g/1")
    assert scan.verdict == "not_scanned"
    assert scan.paths("not_scanned") == ["weights.h5"]
    registry.register_version(
        "g",
        make_artifact({"weights.h5": b"\x89HDF\r\n\x1a\n", "model.safetensors": _safetensors()}),
    )
    assert registry.scan_version("g/2").verdict == "partial"


def test_every_registration_queues_a_scan_and_completes_it_with_an_event(
    registry: Any, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact({"model.pkl": pickle.dumps(_Evil())}))
    queued = registry.version_scan("g/1")
    assert (queued.reason, queued.requested_by) == ("registration", "local")
    done = _registration_scan(registry, "g/1")
    assert (done.id, done.status) == (queued.id, "done")
    (event,) = registry.list_events(type="scan.completed")
    assert event["subject"] == "g/1"
    assert event["data"] | {"scan_id": 0} == {
        "group": "g",
        "version": 1,
        "reference": "g/1",
        "approval_status": "PendingManualApproval",
        "scan_id": 0,
        "reason": "registration",
        "verdict": "unsafe",
        "scanner": done.scanner,
        "scanned": ["model.pkl"],
        "data_only": [],
        "not_scanned": [],
        "unsafe": ["model.pkl"],
        "suspicious": [],
        "errors": [],
        "findings": ["model.pkl: posix.system (dangerous)"],
        "truncated": False,
        "counts": {"unsafe": 1},
    }
    (entry,) = [e for e in registry.audit_log(resource="g/1") if e.action == "scan.finish"]
    assert (entry.actor, entry.resource, entry.details["event_id"]) == (
        "scanner",
        "g/1",
        event["id"],
    )


def test_a_rescan_is_a_new_scan_with_its_own_event(
    registry: Any, make_artifact: MakeArtifact
) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    first = _registration_scan(registry, "g/1")
    second = registry.scan_version("g@latest")
    assert second.id > first.id
    assert (second.reason, second.status, second.verdict) == ("rescan", "done", "not_scanned")
    (requested,) = registry.list_events(type="scan.requested")
    assert requested["data"]["scan_id"] == second.id
    assert registry.version_scan("g/1").id == second.id


def test_reading_needs_version_read_and_rescanning_version_scan(
    open_registry: OpenRegistry, make_artifact: MakeArtifact
) -> None:
    owner = open_registry()
    owner.create_group("g")
    owner.register_version("g", make_artifact())
    viewer = open_registry(actor="vera", roles=("viewer",))
    assert viewer.version_scan("g/1").reference == "g/1"
    with pytest.raises(PermissionDeniedError, match="vera may not version.scan on g/1"):
        viewer.scan_version("g/1")
    approver = open_registry(actor="april", roles=("approver",))
    assert approver.scan_version("g/1").is_done
    denied = owner.audit_log(outcome="denied", actor="vera")
    assert [(e.action, e.resource) for e in denied] == [("version.scan", "g/1")]


def test_bad_input_names_the_field(registry: Any, make_artifact: MakeArtifact) -> None:
    registry.create_group("g")
    registry.register_version("g", make_artifact())
    for timeout in (0, -1, 1e9):
        with pytest.raises(ValidationError, match="timeout: .* is not a number of seconds") as e:
            registry.scan_version("g/1", timeout=timeout)
        assert e.value.field == "timeout"
    with pytest.raises(ValidationError, match="is not a reference"):
        registry.version_scan("g")
    with pytest.raises(NotFoundError, match="g/7 does not exist"):
        registry.scan_version("g/7")
    with pytest.raises(NotFoundError, match="group 'nope' does not exist"):
        registry.version_scan("nope/1")
    assert registry.list_events(type="scan.requested") == []


def test_without_waiting_the_queued_scan_comes_back(
    local_registry: Registry, make_artifact: MakeArtifact
) -> None:
    local_registry.create_group("g")
    local_registry.register_version("g", make_artifact())
    queued = local_registry.scan_version("g/1", wait=False)
    assert (queued.status, queued.verdict, queued.files) == ("pending", None, ())
    assert local_registry.scan_version("g/1", wait=False).id == queued.id


def test_a_version_registered_before_scanning_existed_was_never_scanned(
    local_registry: Registry, make_artifact: MakeArtifact, db_url: str
) -> None:
    local_registry.create_group("g")
    local_registry.register_version("g", make_artifact())
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM version_scans"))
    engine.dispose()
    with pytest.raises(NotFoundError, match="g/1: has never been scanned") as raised:
        local_registry.version_scan("g/1")
    assert raised.value.field == "scan"
    assert local_registry.scan_version("g/1").verdict == "not_scanned"
