"""What a user sees of encryption at rest: ``register_version`` and ``download`` of one big
file through the local Registry, plaintext store vs encrypted store (issue 6: encrypted ≥ 60%
of unencrypted). Both sides hash every byte (the client's sha256 before upload and after
download), so this is the end-to-end ratio; benchmarks/blobs.py isolates the blob store."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.common import Measurement
from modelyard import Registry
from modelyard.config import Settings

MiB = 1024 * 1024


def _artifact(root: Path, size_mib: int) -> Path:
    directory = root / "artifact"
    directory.mkdir(parents=True)
    with (directory / "weights.bin").open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MiB))
    return directory


def _rates(root: Path, artifact: Path, encrypt: bool, rounds: int) -> tuple[float, float]:
    """Median MiB/s of registering (a fresh store each round) and of downloading."""
    size_mib = (artifact / "weights.bin").stat().st_size / MiB
    registers, downloads = [], []
    for number in range(rounds):
        home = root / f"store-{encrypt}-{number}"
        with Registry.open(settings=Settings(home=home, blob_encryption=encrypt)) as registry:
            registry.create_group("bench")
            started = time.perf_counter()
            registry.register_version("bench", artifact)
            registers.append(size_mib / (time.perf_counter() - started))
            out = root / f"out-{encrypt}-{number}"
            started = time.perf_counter()
            registry.download("bench/1", out)
            downloads.append(size_mib / (time.perf_counter() - started))
        shutil.rmtree(home)
        shutil.rmtree(out)
    return statistics.median(registers), statistics.median(downloads)


def run_blobs_e2e(workdir: Path, size_mib: int, rounds: int = 3) -> list[Measurement]:
    root = workdir / "blobs-e2e"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        artifact = _artifact(root, size_mib)
        plain = _rates(root, artifact, False, rounds)
        sealed = _rates(root, artifact, True, rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    found = []
    for index, phase in enumerate(("register_version", "download")):
        name = f"end to end: {phase}, plain, {size_mib} MiB"
        found.append(Measurement("blobs", name, plain[index], "MiB/s"))
        found.append(
            Measurement(
                "blobs",
                f"end to end: {phase}, encrypted, {size_mib} MiB (≥ 60% of plain)",
                sealed[index],
                "MiB/s",
                target=0.6 * plain[index],
                details={"ratio_to_plain": sealed[index] / plain[index], "rounds": rounds},
            )
        )
    return found
