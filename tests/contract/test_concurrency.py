"""Invariant 2: version numbers per group are 1..n, gapless and unique under concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from modelyard import ConflictError, Registry
from tests.conftest import OpenRegistry


@pytest.mark.postgres
def test_8_threads_x_50_registrations_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    registry = Registry.open(
        tmp_path / "home", db_url=postgres_url, blobs_url=f"file://{tmp_path / 'blobs'}"
    )
    group = f"g{tmp_path.name[-8:]}".replace("_", "")
    try:
        _run_threads(registry, group, tmp_path)
    finally:
        registry.close()


def _run_threads(registry: Registry, group: str, tmp_path: Path) -> None:
    registry.create_group(group)
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "m.bin").write_bytes(b"m")
    upload = registry.upload_artifact(tmp_path / "art")

    def work(_: int) -> list[int]:
        return [registry.register_version(group, upload).number for _ in range(50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = [n for batch in pool.map(work, range(8)) for n in batch]
    assert sorted(numbers) == list(range(1, 401))
    listed = []
    cursor = None
    while True:
        page = registry.list_versions(group, limit=1000, cursor=cursor)
        listed += [v.number for v in page.items]
        if not (cursor := page.next_cursor):
            break
    assert sorted(listed) == list(range(1, 401))
    assert registry.get_group(group).latest_version == 400


_WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from modelyard import Registry
    home, count = Path(sys.argv[1]), int(sys.argv[2])
    registry = Registry.open(home)
    upload = registry.upload_artifact(home.parent / "art")
    for _ in range(count):
        print(registry.register_version("g", upload).number, flush=True)
""")


def test_2_processes_on_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "m.bin").write_bytes(b"m")
    Registry.open(home).create_group("g")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(home), "100"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    numbers = [int(line) for out, _ in outputs for line in out.split()]
    assert sorted(numbers) == list(range(1, 201))
    with Registry.open(home) as registry:
        assert registry.get_group("g").latest_version == 200


def test_racing_group_creations_give_one_group_and_conflicts(
    open_registry: OpenRegistry,
) -> None:
    registries = [open_registry(actor=f"user{i}") for i in range(4)]

    def create(registry: Registry) -> str:
        try:
            registry.create_group("contested")
        except ConflictError:
            return "conflict"
        return "created"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(create, registries))
    assert outcomes == ["conflict", "conflict", "conflict", "created"]
    assert len(open_registry().list_events(type="group.created")) == 1


def test_threads_sharing_one_registry_get_gapless_numbers(
    registry: Registry, tmp_path: Path
) -> None:
    registry.create_group("g")
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "m.bin").write_bytes(b"m")
    upload = registry.upload_artifact(tmp_path / "art")

    def work(_: int) -> list[int]:
        return [registry.register_version("g", upload).number for _ in range(25)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = [n for batch in pool.map(work, range(4)) for n in batch]
    assert sorted(numbers) == list(range(1, 101))
