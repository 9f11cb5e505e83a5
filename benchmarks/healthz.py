"""Issue 12, item 5: ``/healthz`` p99 ≤ 20 ms while another client holds a long write.

One ``python -m modelyard server`` (SQLite + local blobs, encrypted at rest, its embedded
worker on: the defaults) under a fresh MODELYARD_HOME, and a prober (``benchmarks/probe.py``)
sending ``GET /healthz`` every 10 ms on its own keep-alive connection. Three scenarios:

* **idle**: nothing else happens (the floor of this machine, server and prober);
* **lock**: a second SQLite connection, opened by this process, takes the database write
  lock (``BEGIN IMMEDIATE``) and holds it for 5 s while a write request
  (``POST /api/v1/groups``; ``--healthz-writers`` of them at once) waits on it. 1 s into
  the hold a read request (``GET /api/v1/groups/{g}``) is sent; recorded: its latency and
  whether the writes were all still waiting when it returned. The window is from the lock
  taken to the last write's response;
* **upload**: a 1 GiB file of random bytes streams in as a blob
  (``PUT /api/v1/blobs/{sha256}``) from a child process (``benchmarks/healthz_upload.py``),
  which then registers it as a version. The window is the upload; each round has a fresh
  server, so every round stores the blob anew.

Samples of all rounds are pooled; the target is on the p99 of the lock and upload windows.

    python -m benchmarks.run --only healthz                       # 3 rounds each (~1.5 min)
    python -m benchmarks.run --only healthz --healthz-mib 256 --healthz-rounds 1   # quick
    python -m benchmarks.run --only healthz --healthz-writers 50   # more writers than threads
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import modelyard
from benchmarks.common import Measurement, log, summary_ms
from benchmarks.http_servers import OtherCpu, ServerProcess, clean_env, free_port
from benchmarks.probe import Prober, Probes

MiB = 1 << 20
TARGET_P99_MS = 20.0
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Options:
    rounds: int = 3
    hold_s: float = 5.0
    size_mib: int = 1024
    interval_ms: float = 10.0
    writers: int = 1
    idle_s: float = 2.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--healthz-*`` options (shared with ``benchmarks.run``)."""
    d = Options()
    p.add_argument(
        "--healthz-rounds", type=int, default=d.rounds, help="healthz: rounds per scenario (3)"
    )
    p.add_argument(
        "--healthz-hold-s",
        type=float,
        default=d.hold_s,
        help="healthz: seconds the SQLite write lock is held (5)",
    )
    p.add_argument(
        "--healthz-mib", type=int, default=d.size_mib, help="healthz: upload size (1024 MiB)"
    )
    p.add_argument(
        "--healthz-interval-ms",
        type=float,
        default=d.interval_ms,
        help="healthz: probe interval (10 ms)",
    )
    p.add_argument(
        "--healthz-writers",
        type=int,
        default=d.writers,
        help="healthz: write requests waiting on the held lock at once (1)",
    )


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        rounds=args.healthz_rounds,
        hold_s=args.healthz_hold_s,
        size_mib=args.healthz_mib,
        interval_ms=args.healthz_interval_ms,
        writers=args.healthz_writers,
    )


@dataclass(slots=True)
class _Results:
    """Pooled over rounds: probe latencies (s) per scenario, and what the lock rounds saw."""

    healthz: dict[str, list[float]] = field(default_factory=lambda: {"idle": [], "lock": []})
    raw: dict[str, list[float]] = field(default_factory=lambda: {"lock": [], "upload": []})
    read_s: list[float] = field(default_factory=list)
    write_s: list[float] = field(default_factory=list)
    read_before_write: int = 0
    upload_mib_s: list[float] = field(default_factory=list)
    failures: int = 0


class _Server:
    """A fresh ``modelyard server`` and an authenticated client of it."""

    def __init__(self, root: Path) -> None:
        shutil.rmtree(root, ignore_errors=True)
        self.home = root / "home"
        self.url = f"http://127.0.0.1:{free_port()}"
        argv = [sys.executable, "-m", "modelyard", "server", "--port", self.url.rsplit(":", 1)[1]]
        env = clean_env(MODELYARD_HOME=str(self.home))
        self.process = ServerProcess(argv, env, f"{self.url}/healthz", root / "server.log")
        self.command = f"MODELYARD_HOME={self.home} {' '.join(argv)}"

    @contextmanager
    def running(self) -> Iterator[httpx.Client]:
        self.process.start()
        try:
            self.token = (self.home / "admin-token").read_text().strip()
            headers = {"Authorization": f"Bearer {self.token}"}
            with httpx.Client(
                base_url=self.url,
                headers=headers,
                timeout=120.0,
                trust_env=False,
                limits=httpx.Limits(max_connections=None),  # --healthz-writers at once
            ) as http:
                # the token's first use records its last-used time (a write): done before
                # any lock is held, so the requests measured below do not also wait on it
                http.post("/api/v1/groups", json={"name": "bench"}).raise_for_status()
                yield http
        finally:
            self.process.stop()


def run_healthz(workdir: Path, options: Options) -> list[Measurement]:
    root = workdir / "healthz"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    results = _Results()
    server = _Server(root / "lock")
    try:
        with OtherCpu() as other:
            _lock_scenarios(server, options, results)
            _upload_scenario(root, options, results)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return _measurements(options, results, server.command, other)


def _lock_scenarios(server: _Server, options: Options, results: _Results) -> None:
    """Idle, then the held-lock rounds, on one server."""
    interval = options.interval_ms / 1000
    with server.running() as http, Prober(f"{server.url}/healthz", interval) as prober:
        _idle(prober.probes, options, results)
        for number in range(1, options.rounds + 1):
            log(f"lock round {number}/{options.rounds}: write lock held {options.hold_s} s")
            _lock_round(server, http, prober.probes, options, number, results)
        results.failures += prober.probes.failures


def _upload_scenario(root: Path, options: Options, results: _Results) -> None:
    source = root / "model.bin"
    log(f"writing a {options.size_mib} MiB random file")
    digest = _write_random(source, options.size_mib)
    results.healthz["upload"] = []
    for number in range(1, options.rounds + 1):
        log(f"upload round {number}/{options.rounds}: {options.size_mib} MiB streaming in")
        _upload_round(
            root / f"upload-{number}", source, digest, options.interval_ms / 1000, results
        )


def _idle(probes: Probes, options: Options, results: _Results) -> None:
    start = time.monotonic()
    time.sleep(options.idle_s)  # the idle scenario is a span of time, not a race
    results.healthz["idle"] += probes.window(start, time.monotonic())


def _lock_round(
    server: _Server,
    http: httpx.Client,
    probes: Probes,
    options: Options,
    number: int,
    results: _Results,
) -> None:
    db = sqlite3.connect(server.home / "registry.db", timeout=60, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    locked = time.monotonic()
    try:
        writes = [
            _in_thread(lambda i=i: http.post("/api/v1/groups", json={"name": f"held-{number}-{i}"}))
            for i in range(options.writers)
        ]
        time.sleep(min(1.0, options.hold_s / 2))  # let the writes reach the lock
        # in a thread too: where the write blocks the event loop, the read waits for the
        # write, which waits for this lock, so waiting for the read here would deadlock
        read_started = time.monotonic()
        read = _in_thread(lambda: http.get("/api/v1/groups/bench"))
        time.sleep(max(0.0, locked + options.hold_s - time.monotonic()))
    finally:
        db.execute("ROLLBACK")
        db.close()
    for call, status in [*((w, 201) for w in writes), (read, 200)]:
        call.done.wait()
        if call.error is not None:
            raise call.error
        assert call.result is not None and call.result.status_code == status, call.result
    first, last = min(w.finished for w in writes), max(w.finished for w in writes)
    results.write_s.append(last - locked)
    results.read_s.append(read.finished - read_started)
    results.read_before_write += read.finished < first
    results.healthz["lock"] += probes.window(locked, last)
    results.raw["lock"] += probes.window(locked, last, corrected=False)


def _upload_round(
    root: Path, source: Path, digest: str, interval: float, results: _Results
) -> None:
    server = _Server(root)
    with server.running() as http, Prober(f"{server.url}/healthz", interval) as prober:
        http.post("/api/v1/groups", json={"name": "big"}).raise_for_status()
        upload = ["benchmarks.healthz_upload", server.url, "big", str(source), digest]
        child = subprocess.run(
            [sys.executable, "-m", *upload],
            env=clean_env(MODELYARD_TOKEN=server.token),
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"healthz: the upload failed:\n{child.stderr[-3000:]}")
        times = json.loads(child.stdout)
    start, end = times["started"], times["uploaded"]
    results.healthz["upload"] += prober.probes.window(start, end)
    results.raw["upload"] += prober.probes.window(start, end, corrected=False)
    results.upload_mib_s.append(times["bytes"] / MiB / (end - start))
    results.failures += prober.probes.failures


@dataclass(slots=True)
class _Call:
    done: threading.Event = field(default_factory=threading.Event)
    result: httpx.Response | None = None
    error: BaseException | None = None
    finished: float = 0.0


def _in_thread(request: Callable[[], httpx.Response]) -> _Call:
    call = _Call()

    def run() -> None:
        try:
            call.result = request()
        except BaseException as e:  # handed to the main thread, which re-raises it
            call.error = e
        finally:
            call.finished = time.monotonic()
            call.done.set()

    threading.Thread(target=run, name="held-write", daemon=True).start()
    return call


def _write_random(path: Path, size_mib: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size_mib):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _measurements(
    options: Options, results: _Results, command: str, other: OtherCpu
) -> list[Measurement]:
    common: dict[str, Any] = {
        "server": command,
        # which code the server ran (a "before" run points PYTHONPATH at an older src/)
        "modelyard_source": str(Path(modelyard.__file__).parent),
        # on 2 cores, anything else running competes with the server and the prober
        "other_processes_cpu_cores": round(other.cores, 2),
        "other_processes_top": other.top,
        "probe_interval_ms": options.interval_ms,
        "rounds": options.rounds,
        "probe_failures": results.failures,
    }
    found = [
        Measurement(
            "healthz",
            "/healthz p99, idle server",
            summary_ms(results.healthz["idle"])["p99_ms"],
            "ms",
            details=common | summary_ms(results.healthz["idle"]),
        )
    ]
    scenarios = {
        "lock": f"SQLite write lock held {options.hold_s:g} s, "
        + ("a write" if options.writers == 1 else f"{options.writers} writes")
        + " waiting on it",
        "upload": f"{options.size_mib} MiB upload streaming in",
    }
    for key, label in scenarios.items():
        stats = summary_ms(results.healthz[key])
        extra: dict[str, Any] = {"uncorrected": summary_ms(results.raw[key])}
        if key == "lock":
            extra |= {
                "write_s": results.write_s,
                "read_ms": [s * 1000 for s in results.read_s],
                "read_returned_while_write_waited": f"{results.read_before_write}/{options.rounds}",
            }
        else:
            extra["upload_mib_s"] = results.upload_mib_s
        found.append(
            Measurement(
                "healthz",
                f"/healthz p99, {label}",
                stats["p99_ms"],
                "ms",
                target=TARGET_P99_MS,
                higher_is_better=False,
                details=common | stats | extra,
            )
        )
    found.append(
        Measurement(
            "healthz",
            "read request during the held lock (max)",
            max(results.read_s) * 1000,
            "ms",
            details={
                "returned_while_write_waited": f"{results.read_before_write}/{options.rounds}"
            },
        )
    )
    return found
