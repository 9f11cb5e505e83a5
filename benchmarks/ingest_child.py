"""One ingest in a fresh process, so its peak RSS growth can be measured (used by ingest.py).

    python -m benchmarks.ingest_child put SOURCE_FILE BLOB_ROOT
    python -m benchmarks.ingest_child register ARTIFACT_DIR HOME

Prints one JSON object: seconds, digest, and (KiB) the current RSS before, the peak RSS
(``VmHWM``, reset with ``clear_refs`` just before the ingest) before and after, and
``ru_maxrss`` before and after — all after imports and store set-up.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from modelyard import Registry
from modelyard.store.blobs.filesystem import FilesystemBlobStore


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _current_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024


def _hwm_kib() -> int:
    """The peak RSS since start or the last reset (``VmHWM``); 0 if not available."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) to the current RSS.

    Without it, the peak of start-up (imports) hides anything smaller during the ingest.
    ``ru_maxrss`` cannot be reset (it also keeps the peak of exited threads), so it is only
    reported alongside.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _start() -> dict[str, object]:
    reset = _reset_peak()
    return {
        "peak_reset": reset,
        "rss_current_before_kib": _current_kib(),
        "maxrss_before_kib": _peak_kib(),
        "hwm_before_kib": _hwm_kib(),
    }


def put(source: Path, root: Path) -> dict[str, object]:
    store = FilesystemBlobStore(root)
    before = _start()
    start = time.perf_counter()
    with source.open("rb") as handle:
        stored = store.put(handle)
    seconds = time.perf_counter() - start
    return _result(seconds, stored.sha256, before)


def register(directory: Path, home: Path) -> dict[str, object]:
    reg = Registry.open(home)
    reg.create_group("bench-ingest")
    before = _start()
    start = time.perf_counter()
    version = reg.register_version("bench-ingest", directory, metrics={"auc": 0.9})
    seconds = time.perf_counter() - start
    reg.close()
    return _result(seconds, version.manifest.files[0].sha256, before)


def _result(seconds: float, digest: str, before: dict[str, object]) -> dict[str, object]:
    return {
        "seconds": seconds,
        "sha256": digest,
        **before,
        "maxrss_after_kib": _peak_kib(),
        "hwm_after_kib": _hwm_kib(),
    }


def main(argv: list[str]) -> None:
    mode, first, second = argv
    run = {"put": put, "register": register}[mode]
    print(json.dumps(run(Path(first), Path(second))))


if __name__ == "__main__":
    main(sys.argv[1:])
