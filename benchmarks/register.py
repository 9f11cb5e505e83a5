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


def _prepare_artifacts(root: Path, count: int) -> list[Path]:
    """One directory per registration, each with a 1 KiB file of fresh random bytes, written
    and synced before timing starts: writing the model is the trainer's cost, not the
    registry's, and dirty pages would otherwise be flushed by the registry's own fsyncs."""
    shutil.rmtree(root, ignore_errors=True)
    directories = []
    for i in range(count):
        directory = root / f"a{i:06d}"
        directory.mkdir(parents=True)
        (directory / "model.bin").write_bytes(os.urandom(1024))
        directories.append(directory)
    os.sync()
    return directories


def run_register(workdir: Path, count: int) -> list[Measurement]:
    home = workdir / "register-home"
    shutil.rmtree(home, ignore_errors=True)
    reg = Registry.open(home)
    try:
        reg.create_group("bench-register", tags={"domain": "benchmark"})
        reg.create_group("bench-split", tags={"domain": "benchmark"})
        rng = random.Random(1)
        artifacts = _prepare_artifacts(workdir / "register-artifacts", 20 + 3 * count)

        for i in range(20):  # warm-up: imports, statement caches, the connection pool
            reg.register_version("bench-register", artifacts.pop(), metrics=_spec(rng, i)[0])

        log(f"register_version(dir) x {count}")
        full: list[float] = []
        for i in range(count):
            metrics, tags = _spec(rng, i)
            directory = artifacts.pop()
            start = time.perf_counter()
            reg.register_version("bench-register", directory, metrics=metrics, tags=tags)
            full.append(time.perf_counter() - start)

        log(f"upload_artifact(dir) + register_version(upload) x {count}")
        upload: list[float] = []
        metadata: list[float] = []
        for i in range(count):
            metrics, tags = _spec(rng, i)
            directory = artifacts.pop()
            start = time.perf_counter()
            result = reg.upload_artifact(directory)
            middle = time.perf_counter()
            reg.register_version("bench-split", result, metrics=metrics, tags=tags)
            upload.append(middle - start)
            metadata.append(time.perf_counter() - middle)

        # Statement counting hooks every execute, so it runs apart from the timed loops.
        with count_sql() as sql:
            for i in range(min(count, 200)):
                metrics, tags = _spec(rng, i)
                reg.register_version("bench-register", artifacts.pop(), metrics=metrics, tags=tags)
        counted = min(count, 200)
    finally:
        reg.close()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(workdir / "register-artifacts", ignore_errors=True)

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
                "sql_statements_per_version": sql.statements / counted,
                "commits_per_version": sql.commits / counted,
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
