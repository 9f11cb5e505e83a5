"""Target 1: sequential registration of small versions (1 KiB unique file, 5 metrics, 3 tags).

Three loops on a fresh store:

* ``register_version(group, directory)`` end to end — the number the target is about;
* its two halves separately: ``upload_artifact(directory)`` (hash, blob put with fsync) and
  ``register_version(group, upload)`` (the metadata transaction), to show where time goes.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

from benchmarks.common import Measurement, log, summary_ms
from benchmarks.sqlcount import count_sql
from modelyard import Registry

TARGET_PER_S = 1000.0
MLFLOW_SERVER_PER_S = 87.0  # from the issue: MLflow's server, over HTTP
TEAMS = ("risk", "growth", "search", "ads", "platform")


def _spec(rng: random.Random, i: int) -> tuple[dict[str, float], dict[str, str]]:
    metrics = {k: rng.random() for k in ("auc", "accuracy", "f1", "precision", "recall")}
    tags = {"team": rng.choice(TEAMS), "dataset": f"ds-{rng.randrange(20)}", "run": f"r{i}"}
    return metrics, tags


def run_register(workdir: Path, count: int) -> list[Measurement]:
    home = workdir / "register-home"
    shutil.rmtree(home, ignore_errors=True)
    reg = Registry.open(home)
    try:
        reg.create_group("bench-register", tags={"domain": "benchmark"})
        reg.create_group("bench-split", tags={"domain": "benchmark"})
        artifact = workdir / "register-artifact"
        artifact.mkdir(exist_ok=True)
        model = artifact / "model.bin"
        rng = random.Random(1)

        for i in range(20):  # warm-up: imports, statement caches, the connection pool
            model.write_bytes(os.urandom(1024))
            reg.register_version("bench-register", artifact, metrics=_spec(rng, i)[0])

        log(f"register_version(dir) x {count}")
        full: list[float] = []
        with count_sql() as sql:
            for i in range(count):
                model.write_bytes(os.urandom(1024))  # unique bytes: no deduplication
                metrics, tags = _spec(rng, i)
                start = time.perf_counter()
                reg.register_version("bench-register", artifact, metrics=metrics, tags=tags)
                full.append(time.perf_counter() - start)

        log(f"upload_artifact(dir) + register_version(upload) x {count}")
        upload: list[float] = []
        metadata: list[float] = []
        for i in range(count):
            model.write_bytes(os.urandom(1024))
            metrics, tags = _spec(rng, i)
            start = time.perf_counter()
            result = reg.upload_artifact(artifact)
            middle = time.perf_counter()
            reg.register_version("bench-split", result, metrics=metrics, tags=tags)
            upload.append(middle - start)
            metadata.append(time.perf_counter() - middle)
    finally:
        reg.close()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(workdir / "register-artifact", ignore_errors=True)

    rate = count / sum(full)
    return [
        Measurement(
            "register",
            "register_version(dir), 1 KiB unique file, 5 metrics, 3 tags",
            rate,
            "versions/s",
            TARGET_PER_S,
            details={
                "count": count,
                "latency": summary_ms(full),
                "sql_statements_per_version": sql.statements / count,
                "commits_per_version": sql.commits / count,
                "vs_mlflow_server_87_per_s": rate / MLFLOW_SERVER_PER_S,
            },
        ),
        Measurement(
            "register",
            "  part 1: upload_artifact(dir) (hash + put + fsync)",
            count / sum(upload),
            "uploads/s",
            details={"latency": summary_ms(upload)},
        ),
        Measurement(
            "register",
            "  part 2: register_version(upload) (metadata transaction)",
            count / sum(metadata),
            "versions/s",
            details={"latency": summary_ms(metadata)},
        ),
    ]
