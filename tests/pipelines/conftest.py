"""A local store on an injected clock, principals for separation of duties, and a pipeline
worker driven step by step."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelyard import Registry
from modelyard.worker.runner import RunWorker
from tests.conftest import MakeArtifact


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Release:
    """The store as admin (``local``), the registrant ``alice`` and approvers ``bob`` and
    ``carol``; ``step()`` runs due stages like a worker would."""

    admin: Registry
    alice: Registry
    bob: Registry
    carol: Registry
    clock: Clock
    worker: RunWorker
    make_artifact: MakeArtifact
    tmp: Path

    def apply(self, yaml: str) -> dict[str, Any]:
        return self.admin.apply_pipeline(textwrap.dedent(yaml))

    def register(self, group: str = "fraud", **metrics: float) -> str:
        version = self.alice.register_version(
            group, self.make_artifact({"m.json": json.dumps(metrics).encode()}), metrics=metrics
        )
        # what a scan worker does after registration; production's policy needs it clean
        assert self.alice.scan_version(version.reference).verdict == "clean"
        return version.reference

    def step(self) -> int:
        return self.worker.step()

    def run(self, run_id: int) -> dict[str, Any]:
        return self.admin.get_run(run_id)

    def stages(self, run_id: int) -> dict[str, str]:
        return {s["name"]: s["status"] for s in self.run(run_id)["stages"]}

    def pending_request(self) -> dict[str, Any]:
        [request] = self.admin.list_approvals()
        return request


@pytest.fixture
def release(db_url: str, tmp_path: Path, make_artifact: MakeArtifact) -> Iterator[Release]:
    clock = Clock()
    opened: list[Registry] = []

    def open_(actor: str) -> Registry:
        reg = Registry.open(
            tmp_path / "home",
            db_url=db_url,
            blobs_url=f"file://{tmp_path / 'blobs'}",
            actor=actor,
            clock=clock,
        )
        opened.append(reg)
        return reg

    admin = open_("local")
    for name, role in (("alice", "contributor"), ("bob", "approver"), ("carol", "approver")):
        admin.create_principal(name)
        admin.grant(name, role, groups="*")
    admin.create_group("fraud")
    worker = RunWorker(admin.run_engine(), scratch=tmp_path / "scratch", name="test-worker")
    yield Release(
        admin=admin,
        alice=open_("alice"),
        bob=open_("bob"),
        carol=open_("carol"),
        clock=clock,
        worker=worker,
        make_artifact=make_artifact,
        tmp=tmp_path,
    )
    for reg in opened:
        reg.close()


Step = Callable[[], int]
