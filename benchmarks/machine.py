"""A description of the machine a run happened on (for the results and docs/performance.md)."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any


def machine_info(workdir: Path) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpuinfo("model name"),
        "cpu_flags_sha_ni": "sha_ni" in _cpuinfo("flags").split(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 1024 / 1024, 1),
        "disk": _disk(workdir),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": version("sqlalchemy"),
        "modelyard": version("modelyard"),
    }


def _cpuinfo(key: str) -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _meminfo_kib(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _disk(path: Path) -> dict[str, Any]:
    """The file system holding ``path``: device, type, size, free space, rotational or not."""
    path = path.resolve()
    usage = shutil.disk_usage(path)
    device, fstype, mountpoint = _mount_of(path)
    name = Path(device).name
    rotational = Path(f"/sys/block/{name}/queue/rotational")
    return {
        "path": str(path),
        "device": device,
        "fstype": fstype,
        "mountpoint": mountpoint,
        "size_gib": round(usage.total / 2**30),
        "free_gib": round(usage.free / 2**30),
        "rotational": rotational.read_text().strip() == "1" if rotational.exists() else None,
    }


def _mount_of(path: Path) -> tuple[str, str, str]:
    best = ("unknown", "unknown", "/")
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return best
    for line in lines:
        device, mountpoint, fstype, *_ = line.split()
        if path.is_relative_to(mountpoint) and len(mountpoint) >= len(best[2]):
            best = (device, fstype, mountpoint)
    return best


def describe(info: dict[str, Any]) -> str:
    disk = info["disk"]
    kind = "virtio block device" if Path(disk["device"]).name.startswith("vd") else "disk"
    return (
        f"{info['nproc']} CPU ({info['cpu_model']}, SHA-NI: {info['cpu_flags_sha_ni']}), "
        f"{info['memory_gib']} GiB RAM, {disk['device']} ({kind}, {disk['fstype']}, "
        f"rotational={disk['rotational']}, {disk['size_gib']} GiB), Linux {info['kernel']}, "
        f"Python {info['python']}, SQLite {info['sqlite']}, SQLAlchemy {info['sqlalchemy']}"
    )
