"""The modelyard side of the HTTP benchmark: ``python -m modelyard server`` (one process,
SQLite + local blobs under a fresh MODELYARD_HOME) driven by modelyard's own ``Client``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from benchmarks.http_servers import ServerProcess, clean_env, free_port
from modelyard import Client
from modelyard.transfer.files import UploadResult

METRIC_KEYS = ("auc", "accuracy", "f1", "precision", "recall")
TEAMS = ("risk", "growth", "search", "ads", "platform")


def version_spec(i: int) -> tuple[dict[str, float], dict[str, str]]:
    """5 metrics and 3 tags of registration ``i`` (deterministic)."""
    metrics = {k: ((i * 7919 + n * 104729) % 10007) / 10007 for n, k in enumerate(METRIC_KEYS)}
    tags = {"team": TEAMS[i % len(TEAMS)], "dataset": f"ds-{i % 20}", "run": f"r{i}"}
    return metrics, tags


class ModelyardSide:
    name = "modelyard"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.argv = [sys.executable, "-m", "modelyard", "server", "--port", str(port)]
        self.server = ServerProcess(
            self.argv,
            clean_env(MODELYARD_HOME=str(self.home)),
            f"{self.url}/healthz",
            root / "server.log",
        )

    @property
    def pid(self) -> int:
        return self.server.pid

    def describe(self) -> dict[str, Any]:
        return {
            "command": f"MODELYARD_HOME={self.home} {' '.join(self.argv)}",
            "health": "/healthz",
            "client": "modelyard.Client (httpx), one per thread",
        }

    def start(self, *, fresh: bool) -> float:
        if fresh:
            shutil.rmtree(self.home, ignore_errors=True)
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def connect(self) -> ModelyardConn:
        token = (self.home / "admin-token").read_text().strip()
        return ModelyardConn(Client(self.url, token))

    def prepare(self, conn: ModelyardConn, groups: tuple[str, ...]) -> None:
        for group in groups:
            conn.client.create_group(group)


class ModelyardConn:
    def __init__(self, client: Client) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def register(self, group: str, directory: Path, i: int) -> None:
        metrics, tags = version_spec(i)
        self.client.register_version(group, directory, metrics=metrics, tags=tags)

    def set_tag(self, group: str, number: int, key: str, value: str) -> None:
        self.client.tag_version(f"{group}/{number}", {key: value})

    def set_alias(self, group: str, alias: str, number: int) -> None:
        self.client.set_alias(group, alias, number)

    def get_version(self, group: str, number: int) -> None:
        self.client.get_version(f"{group}/{number}")

    def resolve_alias(self, group: str, alias: str) -> None:
        self.client.get_version(f"{group}@{alias}")

    def search(self, group: str, rows: int) -> int:
        """``rows`` versions of ``group`` through ``search_versions``, pages of ≤ 1,000."""
        found, cursor = 0, None
        while found < rows:
            page = self.client.search_versions(
                f"name = '{group}'", limit=min(1000, rows - found), cursor=cursor
            )
            found += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return found

    def upload(self, directory: Path, group: str, round_: int) -> Any:
        """Timed: hash the directory, ask what is missing, stream the blob."""
        return self.client.upload_artifact(directory)

    def finish_upload(self, handle: Any, group: str) -> Any:
        """Untimed: register the uploaded artifact as a version; the reference to download."""
        assert isinstance(handle, UploadResult)
        return self.client.register_version(group, handle).reference

    def download(self, handle: Any, destination: Path) -> None:
        self.client.download(str(handle), destination)
