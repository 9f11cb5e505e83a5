"""Target 4: ingest of a 1 GiB file, against the machine's own limits, in constant memory.

Baselines, measured here on the same disk:

* single-core sha256 rate: ``hashlib.sha256`` over an in-memory buffer (pure CPU);
* disk write rate: write the same amount in 1 MiB chunks to a new file, then ``fsync``
  (after an ``os.sync()``, so no other dirty pages are written back meanwhile).

Target: ingest throughput ≥ 70% of the lower baseline; peak RSS growth < 64 MiB. Each
ingest runs in a child process (``benchmarks.ingest_child``) that reports its RSS before and
its peak RSS (``VmHWM`` reset just before; ``ru_maxrss`` alongside) after. The source file
is written once (random bytes) and stays in the page cache, so reads are memory-speed: the
numbers are hashing + writing + fsync, not reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Measurement, log

MiB = 1024 * 1024
TARGET_FRACTION = 0.70
RSS_TARGET_MIB = 64.0
SETTLE_S = 10.0
REPO = Path(__file__).resolve().parent.parent


def run_ingest(workdir: Path, size_mib: int, rounds: int = 3) -> list[Measurement]:
    """``rounds`` rounds of: both baselines, a blob put, a register (medians are reported).

    Nothing written is deleted before the end: on a file system mounted with ``discard``
    on a thin-provisioned virtual disk (this machine), writing into blocks freed a moment
    ago (not yet discarded) is several times faster than writing into fresh space, which
    would make the baseline and the ingests depend on what the previous step deleted.
    Every write here lands on fresh space, as a growing blob store's writes do.
    """
    root = workdir / "ingest"
    shutil.rmtree(root, ignore_errors=True)
    artifact = root / "artifact"
    artifact.mkdir(parents=True)
    free_mib = shutil.disk_usage(root).free // MiB
    need_mib = (2 + 3 * rounds) * size_mib
    if free_mib < need_mib:
        raise SystemExit(f"ingest: {free_mib} MiB free under {root}, need {need_mib}")
    samples: dict[str, list[Any]] = {k: [] for k in ("sha", "disk", "put", "register")}
    try:
        source = artifact / "model.bin"
        log(f"writing a {size_mib} MiB random file to {source}")
        _write_random(source, size_mib)
        file_digest, read_hash_rate = _hash_file(source)
        os.sync()
        time.sleep(SETTLE_S)  # let discards of blocks freed before this run finish
        for number in range(1, rounds + 1):
            log(f"round {number}/{rounds}: baselines, blob put, register_version")
            samples["sha"].append(_sha256_rate(size_mib))
            samples["disk"].append(_disk_write_rate(root / f"baseline-{number}.bin", size_mib))
            samples["put"].append(_child("put", source, root / f"put-blobs-{number}"))
            home = root / f"register-home-{number}"
            samples["register"].append(_child("register", artifact, home))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for result in samples["put"] + samples["register"]:
        if result["sha256"] != file_digest:
            raise SystemExit(f"ingest: stored digest {result['sha256']} != {file_digest}")
    return _measurements(size_mib, samples, read_hash_rate)


def _measurements(
    size_mib: int, samples: dict[str, list[Any]], read_hash_rate: float
) -> list[Measurement]:
    sha_rate = statistics.median(samples["sha"])
    disk_rate = statistics.median(samples["disk"])
    floor = min(sha_rate, disk_rate)
    baselines = {
        "size_mib": size_mib,
        "rounds": len(samples["sha"]),
        "sha256_rate_mib_s": sha_rate,
        "sha256_rate_samples": samples["sha"],
        "disk_write_fsync_rate_mib_s": disk_rate,
        "disk_write_fsync_samples": samples["disk"],
        "read_and_hash_file_rate_mib_s": read_hash_rate,
        "lower_baseline": "sha256" if sha_rate <= disk_rate else "disk write",
        "target_fraction": TARGET_FRACTION,
    }
    results = [
        Measurement("ingest", "baseline: single-core sha256 (in memory)", sha_rate, "MiB/s"),
        Measurement("ingest", "baseline: disk write 1 MiB chunks + fsync", disk_rate, "MiB/s"),
    ]
    for key, label in (
        ("put", f"FilesystemBlobStore.put, {size_mib} MiB stream"),
        ("register", f"register_version, dir with one {size_mib} MiB file"),
    ):
        runs = samples[key]
        rates = [size_mib / r["seconds"] for r in runs]
        per_round = [
            rate / min(sha, disk)
            for rate, sha, disk in zip(rates, samples["sha"], samples["disk"], strict=True)
        ]
        rate = statistics.median(rates)
        details = baselines | {
            "rate_samples": rates,
            "fraction_of_lower_baseline": rate / floor,
            "fraction_of_lower_baseline_by_round": per_round,
            "children": runs,
        }
        results.append(
            Measurement("ingest", label, rate, "MiB/s", TARGET_FRACTION * floor, details=details)
        )
        growth = max(_rss_growth_mib(r) for r in runs)
        results.append(
            Measurement(
                "ingest",
                f"  peak RSS growth during {label.split(',')[0]} (max of rounds)",
                growth,
                "MiB",
                RSS_TARGET_MIB,
                higher_is_better=False,
                details={"children": runs},
            )
        )
    return results


def _rss_growth_mib(run: dict[str, Any]) -> float:
    """Peak RSS during the ingest minus the RSS just before it.

    The peak is ``VmHWM`` after a reset when the kernel allows it, else ``ru_maxrss`` (which
    may hide growth below the start-up peak; ``peak_reset`` says which one was used).
    """
    before = run["rss_current_before_kib"]
    after = run["hwm_after_kib"] if run["peak_reset"] else run["maxrss_after_kib"]
    return float(max(0, after - before)) / 1024


def _write_random(path: Path, size_mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(size_mib // 16):
            out.write(os.urandom(16 * MiB))
        out.write(os.urandom((size_mib % 16) * MiB))


def _sha256_rate(size_mib: int) -> float:
    buffer = os.urandom(MiB)
    hasher = hashlib.sha256()
    start = time.perf_counter()
    for _ in range(size_mib):
        hasher.update(buffer)
    hasher.hexdigest()
    return size_mib / (time.perf_counter() - start)


def _disk_write_rate(path: Path, size_mib: int) -> float:
    """Write ``size_mib`` MiB in 1 MiB chunks to a new file and fsync it, like a blob put."""
    buffers = [os.urandom(MiB) for _ in range(16)]
    os.sync()  # no other dirty pages (the source file) being written back meanwhile
    start = time.perf_counter()
    with path.open("wb") as out:
        for i in range(size_mib):
            out.write(buffers[i % 16])
        out.flush()
        os.fsync(out.fileno())
    return size_mib / (time.perf_counter() - start)


def _hash_file(path: Path) -> tuple[str, float]:
    hasher = hashlib.sha256()
    start = time.perf_counter()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            hasher.update(chunk)
    rate = path.stat().st_size / MiB / (time.perf_counter() - start)
    return hasher.hexdigest(), rate


def _child(mode: str, first: Path, second: Path) -> dict[str, Any]:
    os.sync()
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest_child", mode, str(first), str(second)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"ingest child {mode} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result
