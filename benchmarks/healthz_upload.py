"""The long write of the ``healthz`` benchmark's upload scenario, in a child process (so its
CPU use does not share the prober's interpreter): stream one file as a blob
(``PUT /api/v1/blobs/{sha256}``), then register it as a version of GROUP.

    python -m benchmarks.healthz_upload URL GROUP FILE SHA256   # token in MODELYARD_TOKEN

Prints JSON: the monotonic times (system-wide on Linux, so comparable with the parent's) at
which the upload started and ended, and when the registration returned.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CHUNK = 1 << 20


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def main(url: str, group: str, path: Path, sha256: str) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {os.environ['MODELYARD_TOKEN']}"}
    size = path.stat().st_size
    timeout = httpx.Timeout(60.0, read=600.0)
    with httpx.Client(base_url=url, headers=headers, timeout=timeout, trust_env=False) as http:
        started = time.monotonic()
        put = http.put(
            f"/api/v1/blobs/{sha256}",
            content=_chunks(path),
            headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
        )
        put.raise_for_status()
        uploaded = time.monotonic()
        files = [{"path": path.name, "size": size, "sha256": sha256}]
        http.post(f"/api/v1/groups/{group}/versions", json={"files": files}).raise_for_status()
        registered = time.monotonic()
    return {"started": started, "uploaded": uploaded, "registered": registered, "bytes": size}


if __name__ == "__main__":
    url, group, file, digest = sys.argv[1:5]
    print(json.dumps(main(url, group, Path(file), digest)))
