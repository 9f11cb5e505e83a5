"""The MLflow side of the HTTP benchmark: ``mlflow server --workers 1`` (SQLite backend,
artifacts proxied by the server into a local directory) from ``benchmarks/.venv-mlflow``,
driven with raw HTTP calls to its REST API (httpx, from the benchmark's own venv).

Raw REST rather than ``MlflowClient``: both servers are then driven by the same HTTP client
library in the same process, and MLflow is not charged for its Python client's own overhead
(protobuf conversions, request retries), which favours MLflow.

What a "registration" is on each side: modelyard's ``register_version(group, dir, metrics=5,
tags=3)`` hashes the directory, checks the group, asks which blobs are missing, uploads the
file and registers the version with its metrics and tags (4 requests). MLflow's model
versions carry no metrics of their own (they live on runs), so the MLflow registration here
is the cheapest equivalent: upload the file into one shared run's artifact directory
(``PUT /api/2.0/mlflow-artifacts/artifacts/…``) and create the model version from it with the
3 tags (``POST model-versions/create``, 2 requests, no metrics).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.http_modelyard import version_spec
from benchmarks.http_servers import MiB, ServerProcess, clean_env, free_port

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
TIMEOUT = httpx.Timeout(30.0, read=300.0)


class MlflowError(RuntimeError):
    pass


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise MlflowError(f"MLflow HTTP {response.status_code}: {response.text[:300]}")
    if not response.content:
        return {}
    data: dict[str, Any] = response.json()
    return data


class MlflowSide:
    name = "MLflow"

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root = root
        self.db = root / "mlflow.db"
        self.artifacts = root / "artifacts"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.argv = [
            str(bin_dir / "mlflow"),
            "server",
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{self.db}",
            "--artifacts-destination",
            str(self.artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        # No telemetry: this machine has no network, and its attempts are not MLflow's cost.
        env = clean_env(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        self.server = ServerProcess(self.argv, env, f"{self.url}/health", root / "server.log")
        self.run_id = ""
        self.artifact_uri = ""

    @property
    def pid(self) -> int:
        return self.server.pid

    def describe(self) -> dict[str, Any]:
        return {
            "command": " ".join(self.argv),
            "env": "MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true",
            "health": "/health",
            "client": "raw REST calls with httpx, one httpx.Client per thread",
        }

    def start(self, *, fresh: bool) -> float:
        if fresh:
            self.db.unlink(missing_ok=True)
            shutil.rmtree(self.artifacts, ignore_errors=True)
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def connect(self) -> MlflowConn:
        return MlflowConn(self, httpx.Client(base_url=self.url, timeout=TIMEOUT))

    def prepare(self, conn: MlflowConn, groups: tuple[str, ...]) -> None:
        """One experiment and one run whose artifact directory holds every version's files;
        one registered model per group."""
        http = conn.http
        experiment = _check(http.post(f"{API}/experiments/create", json={"name": "bench"}))
        run = _check(
            http.post(f"{API}/runs/create", json={"experiment_id": experiment["experiment_id"]})
        )
        self.run_id = run["run"]["info"]["run_id"]
        self.artifact_uri = run["run"]["info"]["artifact_uri"]
        for group in groups:
            _check(http.post(f"{API}/registered-models/create", json={"name": group}))


class MlflowConn:
    def __init__(self, side: MlflowSide, http: httpx.Client) -> None:
        self.side = side
        self.http = http

    def close(self) -> None:
        self.http.close()

    def _artifact_path(self, relative: str) -> str:
        return f"{ARTIFACTS}/{self.side.artifact_uri.removeprefix('mlflow-artifacts:/')}/{relative}"

    def register(self, group: str, directory: Path, i: int) -> None:
        _metrics, tags = version_spec(i)  # MLflow model versions hold no metrics
        for path in sorted(directory.iterdir()):
            url = self._artifact_path(f"{group}/{i}/{path.name}")
            _check(self.http.put(url, content=path.read_bytes()))
        body = {
            "name": group,
            "source": f"{self.side.artifact_uri}/{group}/{i}",
            "run_id": self.side.run_id,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        _check(self.http.post(f"{API}/model-versions/create", json=body))

    def set_tag(self, group: str, number: int, key: str, value: str) -> None:
        body = {"name": group, "version": str(number), "key": key, "value": value}
        _check(self.http.post(f"{API}/model-versions/set-tag", json=body))

    def set_alias(self, group: str, alias: str, number: int) -> None:
        body = {"name": group, "alias": alias, "version": str(number)}
        _check(self.http.post(f"{API}/registered-models/alias", json=body))

    def get_version(self, group: str, number: int) -> None:
        params = {"name": group, "version": str(number)}
        _check(self.http.get(f"{API}/model-versions/get", params=params))

    def resolve_alias(self, group: str, alias: str) -> None:
        params = {"name": group, "alias": alias}
        _check(self.http.get(f"{API}/registered-models/alias", params=params))

    def search(self, group: str, rows: int) -> int:
        """``rows`` versions of ``group`` through ``model-versions/search``."""
        found, token = 0, None
        while found < rows:
            params: dict[str, Any] = {"filter": f"name='{group}'", "max_results": rows - found}
            if token:
                params["page_token"] = token
            data = _check(self.http.get(f"{API}/model-versions/search", params=params))
            found += len(data.get("model_versions", []))
            token = data.get("next_page_token")
            if not token:
                break
        return found

    def upload(self, directory: Path, group: str, round_: int) -> Any:
        """Timed: stream every file of ``directory`` into the run's artifacts (1 MiB chunks)."""
        relative = f"{group}/{round_}"
        for path in sorted(directory.iterdir()):
            url = self._artifact_path(f"{relative}/{path.name}")
            _check(
                self.http.put(
                    url,
                    content=_chunks(path),
                    headers={"Content-Type": "application/octet-stream"},
                )
            )
        return relative, sorted(p.name for p in directory.iterdir())

    def finish_upload(self, handle: Any, group: str) -> Any:
        return handle

    def download(self, handle: Any, destination: Path) -> None:
        relative, names = handle
        destination.mkdir(parents=True, exist_ok=True)
        for name in names:
            url = self._artifact_path(f"{relative}/{name}")
            with self.http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    _check(response)
                with (destination / name).open("wb") as out:
                    for chunk in response.iter_bytes(MiB):
                        out.write(chunk)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            yield chunk
