"""Target 1: sequential registration of small versions (1 KiB unique file, 5 metrics, 3 tags).

Each run uses a fresh store and has three loops:

* ``register_version(group, directory)`` end to end — the number the target is about;
* its two halves separately: ``upload_artifact(directory)`` (hash, blob put with fsync) and
  ``register_version(group, upload)`` (the metadata transaction), to show where time goes;
* an untimed loop that counts, per registration, the SQL statements and commits, the time
  spent executing SQL, the ``os.fsync`` calls and the blob store's temp-file creations
  (``tempfile.mkstemp``) and the time spent in each (hooks would distort the timed loops).

The run is repeated (``runs``, 3 by default) because the disk's latency is noisy; the median
run is reported, with the range. Before each run, a probe times the file system's own cost of
what a blob put does for a small file (create a temp file, write 1 KiB, fsync, rename into a
shard directory, fsync that directory) in the same directory tree, without modelyard.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import Measurement, log, summary_ms
from benchmarks.sqlcount import count_sql
from modelyard import Registry

TARGET_PER_S = 1000.0
MLFLOW_SERVER_PER_S = 87.0  # from the issue: MLflow's server, over HTTP
TEAMS = ("risk", "growth", "search", "ads", "platform")
COUNTED = 200  # registrations in the untimed counting loop
PROBE_COUNT = 500  # iterations of the fsync probe


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


@contextmanager
def _timed(owner: Any, name: str) -> Iterator[list[float]]:
    """Record the duration of every call of ``owner.name`` (looked up at call time, as the
    blob store calls ``os.fsync`` and ``tempfile.mkstemp``). SQLite's own syncs happen in C
    and are not seen here."""
    durations: list[float] = []
    real: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            durations.append(time.perf_counter() - start)

    setattr(owner, name, timed)
    try:
        yield durations
    finally:
        setattr(owner, name, real)


def fsync_probe(workdir: Path, count: int = PROBE_COUNT) -> dict[str, Any]:
    """The disk's cost of a small blob put, without modelyard: create a temp file, write
    1 KiB to it, fsync it, rename it into a shard directory, fsync that directory."""
    root = workdir / "fsync-probe"
    shutil.rmtree(root, ignore_errors=True)
    tmp, shards = root / "tmp", root / "sha256"
    tmp.mkdir(parents=True)
    for index in range(256):
        (shards / f"{index:02x}").mkdir(parents=True)
    os.sync()
    steps: dict[str, list[float]] = {
        k: [] for k in ("create", "write", "fsync_file", "rename", "fsync_dir")
    }
    total: list[float] = []
    try:
        for i in range(count):
            payload = os.urandom(1024)
            t0 = time.perf_counter()
            fd = os.open(tmp / f"upload-{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            t_open = time.perf_counter()
            try:
                os.write(fd, payload)
                t1 = time.perf_counter()
                os.fsync(fd)
                t2 = time.perf_counter()
            finally:
                os.close(fd)
            shard = shards / f"{i % 256:02x}"
            os.replace(tmp / f"upload-{i}", shard / f"blob-{i}")
            t3 = time.perf_counter()
            dir_fd = os.open(shard, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            t4 = time.perf_counter()
            steps["create"].append(t_open - t0)
            steps["write"].append(t1 - t_open)
            steps["fsync_file"].append(t2 - t1)
            steps["rename"].append(t3 - t2)
            steps["fsync_dir"].append(t4 - t3)
            total.append(t4 - t0)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "count": count,
        "total": summary_ms(total),
        "steps": {name: summary_ms(samples) for name, samples in steps.items()},
        "puts_per_s": count / sum(total),
    }


def _one_run(workdir: Path, count: int) -> dict[str, Any]:
    log(f"fsync probe: create + 1 KiB write + fsync + rename + dir fsync x {PROBE_COUNT}")
    probe = fsync_probe(workdir)
    home = workdir / "register-home"
    shutil.rmtree(home, ignore_errors=True)
    reg = Registry.open(home)
    try:
        reg.create_group("bench-register", tags={"domain": "benchmark"})
        reg.create_group("bench-split", tags={"domain": "benchmark"})
        rng = random.Random(1)
        counted = min(count, COUNTED)
        artifacts = _prepare_artifacts(workdir / "register-artifacts", 20 + 2 * count + counted)

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

        # Hooks on every execute, fsync and temp-file creation: apart from the timed loops.
        log(f"counting statements, fsyncs and temp files x {counted}")
        with (
            count_sql() as sql,
            _timed(os, "fsync") as fsyncs,
            _timed(tempfile, "mkstemp") as creates,
        ):
            start = time.perf_counter()
            for i in range(counted):
                metrics, tags = _spec(rng, i)
                reg.register_version("bench-register", artifacts.pop(), metrics=metrics, tags=tags)
            counted_seconds = time.perf_counter() - start
    finally:
        reg.close()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(workdir / "register-artifacts", ignore_errors=True)
    return {
        "probe": probe,
        "rate": count / sum(full),
        "latency": summary_ms(full),
        "upload_rate": count / sum(upload),
        "upload_latency": summary_ms(upload),
        "metadata_rate": count / sum(metadata),
        "metadata_latency": summary_ms(metadata),
        "counted": {
            "registrations": counted,
            "ms_per_version_with_hooks": counted_seconds * 1000 / counted,
            "sql_statements_per_version": sql.statements / counted,
            "commits_per_version": sql.commits / counted,
            "sql_execute_ms_per_version": sql.execute_seconds * 1000 / counted,
            "fsyncs_per_version": len(fsyncs) / counted,
            "fsync_ms_per_version": sum(fsyncs) * 1000 / counted,
            "fsync_latency": summary_ms(fsyncs) if fsyncs else None,
            "temp_files_per_version": len(creates) / counted,
            "temp_file_create_ms_per_version": sum(creates) * 1000 / counted,
            "temp_file_create_latency": summary_ms(creates) if creates else None,
        },
    }


def _spread(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    values = [r[key] for r in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_register(workdir: Path, count: int, runs: int = 3) -> list[Measurement]:
    results = []
    for number in range(1, runs + 1):
        log(f"run {number}/{runs}")
        results.append(_one_run(workdir, count))
        log(f"run {number}/{runs}: {results[-1]['rate']:,.0f} versions/s")
    median_run = sorted(results, key=lambda r: r["rate"])[len(results) // 2]
    rate = statistics.median(r["rate"] for r in results)
    by_run = [
        {k: r[k] for k in ("rate", "upload_rate", "metadata_rate")}
        | {
            "p50_ms": r["latency"]["p50_ms"],
            "upload_p50_ms": r["upload_latency"]["p50_ms"],
            "metadata_p50_ms": r["metadata_latency"]["p50_ms"],
            "probe_p50_ms": r["probe"]["total"]["p50_ms"],
            "probe_create_p50_ms": r["probe"]["steps"]["create"]["p50_ms"],
        }
        for r in results
    ]
    probe_rate = statistics.median(r["probe"]["puts_per_s"] for r in results)
    return [
        Measurement(
            "register",
            f"register_version(dir), 1 KiB unique file, 5 metrics, 3 tags (median of {runs})",
            rate,
            "versions/s",
            TARGET_PER_S,
            details={
                "count": count,
                "runs": runs,
                "rate": _spread(results, "rate"),
                "by_run": by_run,
                "latency": median_run["latency"],
                "counted": median_run["counted"],
                "counted_by_run": [r["counted"] for r in results],
                "fsync_probe": median_run["probe"],
                "vs_mlflow_server_87_per_s": rate / MLFLOW_SERVER_PER_S,
            },
        ),
        Measurement(
            "register",
            "  part 1: upload_artifact(dir) (hash + put + fsync)",
            statistics.median(r["upload_rate"] for r in results),
            "uploads/s",
            details={
                "rate": _spread(results, "upload_rate"),
                "latency": median_run["upload_latency"],
            },
        ),
        Measurement(
            "register",
            "  part 2: register_version(upload) (metadata transaction)",
            statistics.median(r["metadata_rate"] for r in results),
            "versions/s",
            details={
                "rate": _spread(results, "metadata_rate"),
                "latency": median_run["metadata_latency"],
            },
        ),
        Measurement(
            "register",
            "  disk probe: create, 1 KiB write, fsync, rename, dir fsync (no modelyard)",
            probe_rate,
            "puts/s",
            details={"by_run": [r["probe"] for r in results]},
        ),
    ]
