"""Issue 5: release pipelines — the overhead of the run engine itself.

The pipeline is 6 stages that do (almost) nothing: five ``notify`` stages (each writes one
``custom.noop`` event) and, third, a ``gate`` whose condition is ``true`` (an auto-approve
gate: it still reads the group's environments and evaluates CEL). What is measured is
therefore the engine: leasing a run, marking the stage running, the action's own
transaction, the stage log, recording the outcome and moving the run on, with the audit
entries and outbox events every step writes.

1. **SQLite, embedded worker.** A fresh ``Registry.open(tmp)`` with ``runs`` versions over
   ``groups`` groups and one run started for each (``start_run("bench", "g-N/V")``: one
   active run per version per pipeline) with no worker running — the backlog. Then
   ``workers_for(registry, settings).start()``, what ``modelyard server`` embeds (the
   pipeline worker, ``run_threads`` = 2, *and* the event worker: router and 4 senders), and
   the time until every run has ``succeeded``: runs/s = runs ÷ (last ``finished_at`` -
   start). Repeated ``rounds`` times on fresh stores, median reported; once more with the
   pipeline worker alone (``RunWorker`` + ``subscribe(wake)``, no event worker), to show
   what the event worker costs.
2. **PostgreSQL, worker processes.** The same backlog in a fresh database on the local
   server, held (``next_run_at`` = NULL) while 1, then 3, ``modelyard worker`` processes
   start (env ``MODELYARD_HOME``, ``MODELYARD_DB_URL``, ``MODELYARD_BLOBS_URL``), then
   released (``next_run_at`` = now) and timed the same way. CPU of the workers and of
   every ``postgres`` process is recorded (the machine has 2 cores), and
   ``pg_stat_activity`` is sampled every 50 ms: what the backends wait for.
3. **Dispatch latency.** SQLite, embedded worker started first, then a producer thread
   calls ``start_run`` every ``1/rate`` s: stage dispatch = a stage's ``started_at`` - the
   previous stage's ``finished_at`` (both from the engine's clock, as stored); run start =
   first stage's ``started_at`` - the run's ``created_at``. Once more on PostgreSQL with one
   separate ``modelyard worker`` process, at ``pg_rate`` (runs created by another process
   wake no worker: it notices them on its 0.25 s poll).

Every run is checked afterwards: all runs ``succeeded``, every stage once (attempts = 1),
five ``custom.noop`` events per run. In-process drains count transactions and statements
per thread role (pipeline runner, events router, events senders) with SQLAlchemy events.

    python -m benchmarks.run --only pipelines       # part of `make bench` with BENCH_ARGS
    python -m benchmarks.bench_pipelines --help     # alone, with its own table and JSON
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, NullPool, create_engine, event, func, make_url, select, text, update

from benchmarks.common import Measurement, fmt, log, summary_ms
from benchmarks.http_servers import clean_env

RUNS_TARGET = 50.0  # runs/s, SQLite, embedded worker
PG_FACTOR = 3.0  # ≥ 3x that with 3 workers on PostgreSQL
DISPATCH_P50_TARGET_MS = 100.0
DRAIN_TIMEOUT_S = 240.0
WORKER_START_TIMEOUT_S = 60.0
POLL_S = 0.05
STAGES = 6
NOTIFY_STAGES = 5
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

PIPELINE = """\
name: bench
description: 6 no-op stages with an auto-approve gate (benchmarks/bench_pipelines.py)
stages:
  - {name: n1, uses: notify, type: custom.noop}
  - {name: n2, uses: notify, type: custom.noop}
  - {name: approve, uses: gate, when: ["true"]}
  - {name: n3, uses: notify, type: custom.noop}
  - {name: n4, uses: notify, type: custom.noop}
  - {name: n5, uses: notify, type: custom.noop}
"""


@dataclass(frozen=True, slots=True)
class Options:
    runs: int = 300  # runs per drain (one version each)
    groups: int = 20
    rounds: int = 3  # SQLite embedded drains; the median is reported
    threads: int = 2  # run_threads (the default of modelyard server and worker)
    latency_runs: int = 100
    rate: float = 10.0  # latency: runs started per second
    postgres: bool = True
    pg_url: str = DEFAULT_PG_URL  # a database on the server; others are created beside it
    pg_runs: int = 300
    pg_workers: tuple[int, ...] = (1, 3)
    pg_latency_runs: int = 30
    pg_rate: float = 2.0  # well under one worker's capacity: shows its idle wake-up


# --- stores -----------------------------------------------------------------------------------


@dataclass
class Store:
    """A registry home with the ``bench`` pipeline, ``groups`` groups and one version for
    every run to come (``refs``)."""

    root: Path
    home: Path
    db_url: str
    blobs_url: str
    registry: Any
    refs: list[str]
    reader: Engine  # a separate engine for the benchmark's own reads

    def env(self) -> dict[str, str]:
        return clean_env(
            MODELYARD_HOME=str(self.home),
            MODELYARD_DB_URL=self.db_url,
            MODELYARD_BLOBS_URL=self.blobs_url,
        )


@contextmanager
def fresh_store(
    workdir: Path, versions: int, groups: int, db_url: str | None = None
) -> Iterator[Store]:
    from modelyard import Registry

    root = Path(tempfile.mkdtemp(prefix="pipelines-", dir=workdir)).resolve()
    home = root / "home"
    home.mkdir()
    url = db_url or f"sqlite:///{home / 'registry.db'}"
    blobs = f"file://{root / 'blobs'}"
    try:
        registry = Registry.open(home, db_url=url, blobs_url=blobs)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    reader = create_engine(url)
    try:
        registry.apply_pipeline(PIPELINE)
        artifact = root / "artifact"
        artifact.mkdir()
        (artifact / "model.bin").write_bytes(b"weights")
        names = [f"g-{g}" for g in range(min(groups, versions))]
        for name in names:
            registry.create_group(name)
        refs = []
        for i in range(versions):
            version = registry.register_version(names[i % len(names)], artifact)
            refs.append(version.reference)
        yield Store(root, home, url, blobs, registry, refs, reader)
    finally:
        registry.close()
        reader.dispose()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fresh_postgres(base_url: str, tag: str) -> Iterator[str]:
    """A new database beside ``base_url``'s, dropped afterwards (connections forced out)."""
    base = make_url(base_url)
    name = f"modelyard_bench_pipelines_{os.getpid()}_{tag}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_problem(url: str) -> str:
    """Why PostgreSQL cannot be used ("" when it can)."""
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as e:
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"
    return ""


def start_runs(store: Store, refs: list[str] | None = None) -> float:
    """One run per version, no worker running; returns start_run calls per second."""
    refs = store.refs if refs is None else refs
    started = time.perf_counter()
    for ref in refs:
        store.registry.start_run("bench", ref)
    return len(refs) / (time.perf_counter() - started)


# --- watching: completion, CPU, transactions ---------------------------------------------------


def finished_count(store: Store) -> tuple[int, int]:
    """(runs finished, of which succeeded)."""
    from modelyard.store.sql.schema import pipeline_runs as r

    query = select(r.c.status, func.count()).where(r.c.finished_at.is_not(None))
    with store.reader.connect() as conn:
        counts = dict(conn.execute(query.group_by(r.c.status)).all())
    return sum(counts.values()), counts.get("succeeded", 0)


def wait_finished(store: Store, runs: int, timeout: float = DRAIN_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if finished_count(store)[0] >= runs:
            return True
        time.sleep(POLL_S)
    return False


class CpuWatch:
    """CPU seconds used while the block runs, by process kind: this benchmark's process
    tree ("benchmark": the embedded worker or the worker processes), ``postgres`` processes,
    and everything else ("other": noise on a 2-core machine)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.seconds: dict[str, float] = {}
        self.top_other: list[tuple[str, float]] = []
        self._before: dict[int, tuple[float, float]] = {}

    @staticmethod
    def _snapshot() -> dict[int, tuple[float, float, str]]:
        found = {}
        for p in psutil.process_iter(["pid", "create_time", "cpu_times", "name"]):
            info = p.info
            if info["cpu_times"] is not None:
                times = info["cpu_times"]
                found[info["pid"]] = (info["create_time"], times.user + times.system, info["name"])
        return found

    def __enter__(self) -> CpuWatch:
        self._start = time.time()
        self._before = {pid: (c, s) for pid, (c, s, _n) in self._snapshot().items()}
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._t0
        mine = set()
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(os.getpid())
            mine = {root.pid} | {c.pid for c in root.children(recursive=True)}
        used: Counter[str] = Counter()
        other: Counter[str] = Counter()
        for pid, (created, seconds, name) in self._snapshot().items():
            before = self._before.get(pid)
            if before is not None and before[0] == created:
                delta = seconds - before[1]
            elif created >= self._start - 1:
                delta = seconds
            else:
                continue
            kind = "benchmark" if pid in mine else "postgres" if name == "postgres" else "other"
            used[kind] += delta
            if kind == "other":
                other[name] += delta
        self.seconds = dict(used)
        self.top_other = [(n, round(s / self.wall, 3)) for n, s in other.most_common(3)]

    def __exit__(self, *exc: object) -> None:
        if not self.wall:
            self.stop()

    def cores(self, kind: str) -> float:
        return self.seconds.get(kind, 0.0) / self.wall if self.wall else 0.0


@dataclass
class SqlCounts:
    """Transactions begun and statements executed in this process, by thread role."""

    transactions: Counter[str] = field(default_factory=Counter)
    statements: Counter[str] = field(default_factory=Counter)

    @staticmethod
    def role(thread: str) -> str:
        for prefix, role in (
            ("pipeline-runner", "pipeline runner"),
            ("events-router", "events router"),
            ("events-sender", "events senders"),
        ):
            if thread.startswith(prefix):
                return role
        return "heartbeat" if thread.startswith("Thread-") else "benchmark"

    def per(self, attempts: int) -> dict[str, dict[str, float]]:
        """Per stage attempt, by role (the benchmark's own polling left out)."""
        return {
            kind: {
                k: round(v / max(attempts, 1), 2) for k, v in c.most_common() if k != "benchmark"
            }
            for kind, c in (("transactions", self.transactions), ("statements", self.statements))
        }


@contextmanager
def count_sql() -> Iterator[SqlCounts]:
    counts = SqlCounts()
    lock = threading.Lock()

    def on_begin(*_args: Any) -> None:
        role = SqlCounts.role(threading.current_thread().name)
        with lock:
            counts.transactions[role] += 1

    def on_execute(*_args: Any) -> None:
        role = SqlCounts.role(threading.current_thread().name)
        with lock:
            counts.statements[role] += 1

    event.listen(Engine, "begin", on_begin)
    event.listen(Engine, "before_cursor_execute", on_execute)
    try:
        yield counts
    finally:
        event.remove(Engine, "begin", on_begin)
        event.remove(Engine, "before_cursor_execute", on_execute)


# --- what the runs tell ---------------------------------------------------------------------


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def read_runs(store: Store) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]], int]:
    """Every run and its stages (times as UTC datetimes), and the ``custom.noop`` events."""
    from modelyard.store.sql.rows import utc_or_none
    from modelyard.store.sql.schema import outbox, pipeline_runs, run_stages

    with store.reader.connect() as conn:
        runs = [
            {
                "id": row.id,
                "status": row.status,
                "created_at": utc_or_none(row.created_at),
                "finished_at": utc_or_none(row.finished_at),
            }
            for row in conn.execute(select(pipeline_runs).order_by(pipeline_runs.c.id))
        ]
        stages: dict[int, list[dict[str, Any]]] = {}
        query = select(run_stages).order_by(run_stages.c.run_id, run_stages.c.position)
        for row in conn.execute(query):
            stages.setdefault(row.run_id, []).append(
                {
                    "status": row.status,
                    "attempts": row.attempts,
                    "started_at": utc_or_none(row.started_at),
                    "finished_at": utc_or_none(row.finished_at),
                }
            )
        noop = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.type == "custom.noop")
        ).scalar_one()
    return runs, stages, int(noop)


def check_runs(
    runs: list[dict[str, Any]], stages: dict[int, list[dict[str, Any]]], noop: int, expected: int
) -> list[str]:
    problems = []
    bad = [r["id"] for r in runs if r["status"] != "succeeded"]
    if len(runs) != expected or bad:
        problems.append(f"{len(runs) - len(bad)} of {expected} runs succeeded (not: {bad[:5]})")
    repeated = sum(1 for s in stages.values() for st in s if st["attempts"] != 1)
    if repeated:
        problems.append(f"{repeated} stages ran other than once")
    if noop != NOTIFY_STAGES * expected:
        problems.append(f"{noop} custom.noop events, expected {NOTIFY_STAGES * expected}")
    return problems


def dispatch_gaps(stages: dict[int, list[dict[str, Any]]]) -> list[float]:
    """Seconds from each stage's finish to the next stage's start, over every run."""
    gaps = []
    for run in stages.values():
        for before, after in pairwise(run):
            if before["finished_at"] and after["started_at"]:
                gaps.append(_seconds(after["started_at"], before["finished_at"]))
    return gaps


def first_starts(
    runs: list[dict[str, Any]], stages: dict[int, list[dict[str, Any]]]
) -> list[float]:
    """Seconds from each run's creation to its first stage's start."""
    return [
        _seconds(stages[r["id"]][0]["started_at"], r["created_at"])
        for r in runs
        if stages.get(r["id"]) and stages[r["id"]][0]["started_at"]
    ]


def drain_result(store: Store, started: datetime, wall: float, cpu: CpuWatch) -> dict[str, Any]:
    runs, stages, noop = read_runs(store)
    expected = len(store.refs)
    problems = check_runs(runs, stages, noop, expected)
    ends = sorted(r["finished_at"] for r in runs if r["finished_at"] is not None)
    attempts = sum(st["attempts"] for s in stages.values() for st in s)
    elapsed = _seconds(ends[-1], started) if ends else wall
    first = min(
        (st["started_at"] for s in stages.values() for st in s if st["started_at"]),
        default=started,
    )
    gaps = dispatch_gaps(stages)
    busy = cpu.seconds.get("benchmark", 0.0) + cpu.seconds.get("postgres", 0.0)
    return {
        "runs": expected,
        "succeeded": sum(1 for r in runs if r["status"] == "succeeded"),
        "seconds": elapsed,
        "runs_per_s": len(ends) / elapsed if elapsed > 0 else 0.0,
        # the oldest due run goes first, so a backlog advances stage by stage across all
        # runs: the first run finishes late in the drain
        "first_run_done_s": _seconds(ends[0], started) if ends else 0.0,
        "stage_attempts": attempts,
        "attempts_per_s": attempts / elapsed if elapsed > 0 else 0.0,
        "first_stage_after_s": _seconds(first, started),
        "cpu_cores": {k: round(cpu.cores(k), 3) for k in ("benchmark", "postgres", "other")},
        # the engine's cost: this process tree (worker threads or processes) and postgres
        "cpu_ms_per_attempt": 1000 * busy / attempts if attempts else 0.0,
        "other_top": cpu.top_other,
        "dispatch_gap_under_load": summary_ms(gaps) if gaps else {},
        "problems": problems,
    }


# --- 1. SQLite, embedded worker --------------------------------------------------------------


def drain_embedded(workdir: Path, opts: Options, *, events_worker: bool) -> dict[str, Any]:
    from modelyard.config import Settings
    from modelyard.worker.process import workers_for
    from modelyard.worker.runner import RunWorker

    with fresh_store(workdir, opts.runs, opts.groups) as store:
        produce = start_runs(store)
        settings = Settings(home=store.home, run_threads=opts.threads)
        if events_worker:
            workers: Any = workers_for(store.registry, settings)
        else:
            workers = RunWorker(
                store.registry.run_engine(),
                scratch=settings.resolved_cache_dir / "runs",
                threads=opts.threads,
            )
            workers.engine.subscribe(workers.wake)
        with count_sql() as sql, CpuWatch() as cpu:
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            workers.start()
            try:
                complete = wait_finished(store, opts.runs)
                wall = time.perf_counter() - t0
                cpu.stop()
            finally:
                workers.stop()
        result = drain_result(store, started, wall, cpu)
    if not complete:
        result["problems"].append(f"not finished after {DRAIN_TIMEOUT_S:.0f} s")
    attempts = max(result["stage_attempts"], 1)
    result |= {
        "mode": "workers_for (pipeline + event worker)" if events_worker else "RunWorker alone",
        "start_run_per_s": produce,
        "per_stage_attempt": sql.per(attempts),
    }
    _log_drain(result)
    return result


def _log_drain(r: dict[str, Any]) -> None:
    cores = r["cpu_cores"]
    line = (
        f"{r['mode']}: {r['runs']} runs in {r['seconds']:.2f} s = {r['runs_per_s']:.1f} runs/s "
        f"(first done after {r['first_run_done_s']:.1f} s), {r['attempts_per_s']:.0f} stage "
        f"attempts/s, {r['cpu_ms_per_attempt']:.1f} ms CPU each; "
        f"CPU: benchmark {cores['benchmark']:.2f} cores"
    )
    if cores.get("postgres"):
        line += f", postgres {cores['postgres']:.2f}"
    line += f", other {cores['other']:.2f}"
    if r.get("pg_backends"):
        line += "; postgres backends on average: " + ", ".join(
            f"{k} {v:.2f}" for k, v in r["pg_backends"]["average_backends"].items()
        )
    if r.get("per_stage_attempt"):
        for kind, by_role in r["per_stage_attempt"].items():
            line += f"; {kind} per stage attempt: " + ", ".join(
                f"{k} {v:g}" for k, v in by_role.items()
            )
    log(line)
    if cores["other"] > 0.1:
        log(f"WARNING: other processes used {cores['other']:.2f} cores ({r['other_top']})")
    for p in r["problems"]:
        log(f"PROBLEM: {p}")


# --- 2. PostgreSQL, worker processes -----------------------------------------------------------


class WorkerProcesses:
    """``count`` ``modelyard worker`` processes on a store; ``start`` returns when each has
    printed its banner (it has opened the store and started its threads)."""

    def __init__(self, store: Store, count: int, threads: int) -> None:
        self.store, self.count, self.threads = store, count, threads
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = [store.root / f"worker-{i}.log" for i in range(count)]

    def __enter__(self) -> WorkerProcesses:
        env = self.store.env() | {"MODELYARD_RUN_THREADS": str(self.threads)}
        for path in self.logs:
            with path.open("wb") as out:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "modelyard", "worker"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                )
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not all("modelyard worker" in p.read_text(errors="replace") for p in self.logs):
            for proc, path in zip(self.processes, self.logs, strict=True):
                if proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"worker exited: {path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("workers did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def errors(self) -> list[str]:
        """Log lines that look like trouble (tracebacks, failures)."""
        found = []
        for path in self.logs:
            for line in path.read_text(errors="replace").splitlines():
                if "Traceback" in line or "failed" in line.lower():
                    found.append(f"{path.name}: {line[:200]}")
        return found[:5]


def hold_runs(store: Store, *, release: datetime | None) -> None:
    """Make every queued run not due (``release`` None) or due at ``release``."""
    from modelyard.store.sql.schema import pipeline_runs as r

    with store.reader.begin() as conn:
        conn.execute(update(r).where(r.c.status == "queued").values(next_run_at=release))


class PgActivity:
    """Samples ``pg_stat_activity`` of the benchmark's database every 50 ms on a thread:
    what the backends are doing on average (running, waiting for a lock, for the client,
    for WAL), and which statements wait for locks."""

    QUERY = text(
        "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, url: str, interval: float = 0.05) -> None:
        self._engine = create_engine(url, poolclass=NullPool)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-activity", daemon=True)
        self.samples = 0
        self.states: Counter[str] = Counter()
        self.lock_waits: Counter[str] = Counter()

    def __enter__(self) -> PgActivity:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._engine.dispose()

    def _run(self) -> None:
        with self._engine.connect() as conn:
            while not self._stop.wait(self._interval):
                rows = conn.execute(self.QUERY).all()
                conn.rollback()
                self.samples += 1
                for state, wait_type, wait_event, query in rows:
                    if state == "idle":
                        continue  # between transactions: the worker is busy elsewhere
                    kind = f"{state}: {wait_type}:{wait_event}" if wait_type else f"{state}: on CPU"
                    self.states[kind] += 1
                    if wait_type == "Lock":
                        self.lock_waits[" ".join(str(query).split())] += 1

    def summary(self) -> dict[str, Any]:
        """Backends in each state, on average over the samples (idle ones left out)."""
        n = max(self.samples, 1)
        return {
            "samples": self.samples,
            "average_backends": {k: round(v / n, 3) for k, v in self.states.most_common(8)},
            "lock_waits_by_statement": {
                k: round(v / n, 3) for k, v in self.lock_waits.most_common(5)
            },
        }


def drain_postgres(workdir: Path, opts: Options, workers: int) -> dict[str, Any]:
    with (
        fresh_postgres(opts.pg_url, f"w{workers}") as url,
        fresh_store(workdir, opts.pg_runs, opts.groups, url) as store,
    ):
        produce = start_runs(store)
        hold_runs(store, release=None)
        with (
            WorkerProcesses(store, workers, opts.threads) as procs,
            CpuWatch() as cpu,
            PgActivity(store.db_url) as activity,
        ):
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            hold_runs(store, release=started)
            complete = wait_finished(store, opts.pg_runs)
            wall = time.perf_counter() - t0
            cpu.stop()
        result = drain_result(store, started, wall, cpu)
        result["problems"] += procs.errors()
        result["pg_backends"] = activity.summary()
    if not complete:
        result["problems"].append(f"not finished after {DRAIN_TIMEOUT_S:.0f} s")
    result |= {
        "mode": f"PostgreSQL, {workers} worker process(es) x {opts.threads} threads",
        "workers": workers,
        "start_run_per_s": produce,
    }
    _log_drain(result)
    return result


# --- 3. latency ---------------------------------------------------------------------------------


def paced_starts(store: Store, count: int, rate: float) -> list[float]:
    """``start_run`` for the first ``count`` versions at ``rate``/s (on a fixed schedule, no
    bursts); returns each call's duration."""
    calls: list[float] = []

    def produce() -> None:
        t0 = time.monotonic()
        for n, ref in enumerate(store.refs[:count]):
            wait = t0 + n / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            store.registry.start_run("bench", ref)
            calls.append(time.monotonic() - sent)

    producer = threading.Thread(target=produce, name="producer")
    producer.start()
    producer.join()
    return calls


def latency_result(store: Store, calls: list[float], complete: bool, mode: str) -> dict[str, Any]:
    runs, stages, noop = read_runs(store)
    problems = check_runs(runs, stages, noop, len(calls))
    if not complete:
        problems.append("not every run finished")
    created = sorted(r["created_at"] for r in runs)
    span = _seconds(created[-1], created[0]) if len(created) > 1 else 0.0
    durations = [_seconds(r["finished_at"], r["created_at"]) for r in runs if r["finished_at"]]
    gaps, first = dispatch_gaps(stages), first_starts(runs, stages)
    result = {
        "mode": mode,
        "runs": len(runs),
        "achieved_rate": (len(created) - 1) / span if span > 0 else 0.0,
        "start_run_call": summary_ms(calls) if calls else {},
        "dispatch": summary_ms(gaps) if gaps else {},
        "first_stage": summary_ms(first) if first else {},
        "run_duration": summary_ms(durations) if durations else {},
        "problems": problems,
    }
    _log_latency(result)
    return result


def _log_latency(r: dict[str, Any]) -> None:
    if not r["dispatch"]:
        log(f"{r['mode']}: no stage dispatched")
        return
    d, f, run = r["dispatch"], r["first_stage"], r["run_duration"]
    log(
        f"{r['mode']}: {r['runs']} runs at {r['achieved_rate']:.1f}/s; stage finished → next "
        f"started p50 {d['p50_ms']:.1f} ms, p90 {d['p90_ms']:.1f}, p99 {d['p99_ms']:.1f}, max "
        f"{d['max_ms']:.1f}; run created → first stage p50 {f['p50_ms']:.1f} ms, p99 "
        f"{f['p99_ms']:.1f}; whole run p50 {run['p50_ms']:.1f} ms"
    )
    for p in r["problems"]:
        log(f"PROBLEM: {p}")


def latency_embedded(workdir: Path, opts: Options) -> dict[str, Any]:
    from modelyard.config import Settings
    from modelyard.worker.process import workers_for

    with fresh_store(workdir, opts.latency_runs, opts.groups) as store:
        workers = workers_for(store.registry, Settings(home=store.home, run_threads=opts.threads))
        workers.start()
        try:
            time.sleep(0.5)
            with CpuWatch() as cpu:
                calls = paced_starts(store, opts.latency_runs, opts.rate)
                complete = wait_finished(store, opts.latency_runs, timeout=60)
                cpu.stop()
        finally:
            workers.stop()
        result = latency_result(store, calls, complete, "SQLite, embedded worker")
    result["cpu_cores"] = {k: round(cpu.cores(k), 3) for k in ("benchmark", "other")}
    return result


def latency_postgres(workdir: Path, opts: Options) -> dict[str, Any]:
    with (
        fresh_postgres(opts.pg_url, "lat") as url,
        fresh_store(workdir, opts.pg_latency_runs, opts.groups, url) as store,
        WorkerProcesses(store, 1, opts.threads),
    ):
        time.sleep(0.5)
        calls = paced_starts(store, opts.pg_latency_runs, opts.pg_rate)
        complete = wait_finished(store, opts.pg_latency_runs, timeout=60)
        return latency_result(store, calls, complete, "PostgreSQL, 1 worker process")


# --- the whole benchmark ------------------------------------------------------------------------


@dataclass
class Results:
    sqlite: list[dict[str, Any]] = field(default_factory=list)
    alone: dict[str, Any] = field(default_factory=dict)
    postgres: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    pg_latency: dict[str, Any] = field(default_factory=dict)
    pg_missing: str = ""


def measure(workdir: Path, opts: Options) -> Results:
    res = Results()
    for n in range(1, opts.rounds + 1):
        log(f"SQLite drain {n} of {opts.rounds}")
        res.sqlite.append(drain_embedded(workdir, opts, events_worker=True))
    res.alone = drain_embedded(workdir, opts, events_worker=False)
    res.latency = latency_embedded(workdir, opts)
    if opts.postgres:
        res.pg_missing = postgres_problem(opts.pg_url)
        if res.pg_missing:
            log(f"PostgreSQL NOT MEASURED: {res.pg_missing}")
        else:
            res.postgres = [drain_postgres(workdir, opts, w) for w in opts.pg_workers]
            res.pg_latency = latency_postgres(workdir, opts)
    return res


def run_pipelines(workdir: Path, opts: Options) -> list[Measurement]:
    """Every part; measurements for ``benchmarks.run`` (details hold the raw figures)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return measurements(opts, measure(workdir, opts))


def measurements(opts: Options, res: Results) -> list[Measurement]:
    median = sorted(res.sqlite, key=lambda r: r["runs_per_s"])[len(res.sqlite) // 2]
    what = f"{opts.runs} queued runs of {STAGES} stages"
    found = [
        Measurement(
            "pipelines",
            f"runs/s completed, SQLite, embedded worker, {what} (median of {len(res.sqlite)})",
            median["runs_per_s"],
            "runs/s",
            RUNS_TARGET,
            details={"median_run": median, "runs": res.sqlite},
        ),
        Measurement(
            "pipelines",
            "… stage attempts/s in that run",
            median["attempts_per_s"],
            "attempts/s",
            details={"cpu_cores": median["cpu_cores"]},
        ),
        Measurement(
            "pipelines",
            "runs/s, SQLite, pipeline worker alone (no event worker)",
            res.alone["runs_per_s"],
            "runs/s",
            details=res.alone,
        ),
    ]
    for r in res.postgres:
        target = RUNS_TARGET * PG_FACTOR if r["workers"] == max(opts.pg_workers) else None
        found.append(
            Measurement(
                "pipelines",
                f"runs/s, PostgreSQL, {r['workers']} modelyard worker process(es), "
                f"{opts.pg_runs} queued runs",
                r["runs_per_s"],
                "runs/s",
                target,
                details=r,
            )
        )
    if res.pg_missing:
        found.append(
            Measurement(
                "pipelines", "PostgreSQL: NOT MEASURED", 0, "", details={"why": res.pg_missing}
            )
        )
    found += _latency_measurements(opts.rate, res.latency, DISPATCH_P50_TARGET_MS)
    if res.pg_latency:
        found += _latency_measurements(opts.pg_rate, res.pg_latency, None)
    return found


def _latency_measurements(
    rate: float, lat: dict[str, Any], target: float | None
) -> list[Measurement]:
    found = []
    at = f"{lat['mode']}, {rate:g} runs/s"
    for key, label in (
        ("dispatch", "stage finished → next stage started"),
        ("first_stage", "run created → first stage started"),
    ):
        if not lat.get(key):
            continue
        found.append(
            Measurement(
                "pipelines", f"{label}, {at}: p50", lat[key]["p50_ms"], "ms", target, False, lat
            )
        )
        found.append(
            Measurement("pipelines", f"{label}, {at}: p99", lat[key]["p99_ms"], "ms", None, False)
        )
    return found


def console_table(found: list[Measurement]) -> str:
    rows = [("measurement", "value", "target", "ratio")]
    rows += [(m.name, f"{fmt(m.value)} {m.unit}", m.target_text, m.verdict) for m in found]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        runs=args.pipelines_runs,
        groups=args.pipelines_groups,
        rounds=args.pipelines_rounds,
        threads=args.pipelines_threads,
        latency_runs=args.pipelines_latency_runs,
        rate=args.pipelines_rate,
        postgres=not args.pipelines_no_postgres,
        pg_url=args.pipelines_pg_url,
        pg_runs=args.pipelines_pg_runs,
        pg_workers=tuple(int(n) for n in args.pipelines_pg_workers.split(",")),
        pg_latency_runs=args.pipelines_pg_latency_runs,
        pg_rate=args.pipelines_pg_rate,
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--pipelines-*`` options (shared with ``benchmarks.run``)."""
    d = Options()
    p.add_argument(
        "--pipelines-runs", type=int, default=d.runs, help="pipelines: runs per SQLite drain (300)"
    )
    p.add_argument("--pipelines-groups", type=int, default=d.groups, help="pipelines: groups (20)")
    p.add_argument(
        "--pipelines-rounds",
        type=int,
        default=d.rounds,
        help="pipelines: SQLite drains, median (3)",
    )
    p.add_argument(
        "--pipelines-threads",
        type=int,
        default=d.threads,
        help="pipelines: run_threads per worker (2)",
    )
    p.add_argument(
        "--pipelines-latency-runs",
        type=int,
        default=d.latency_runs,
        help="pipelines: runs in the latency pass (100)",
    )
    p.add_argument(
        "--pipelines-rate", type=float, default=d.rate, help="pipelines: latency pass runs/s (10)"
    )
    p.add_argument(
        "--pipelines-no-postgres", action="store_true", help="pipelines: skip PostgreSQL"
    )
    p.add_argument(
        "--pipelines-pg-url",
        default=os.environ.get("MODELYARD_BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help="pipelines: a PostgreSQL database URL; fresh databases are created beside it "
        "(MODELYARD_BENCH_POSTGRES_URL, or the local server's postgres database)",
    )
    p.add_argument(
        "--pipelines-pg-runs",
        type=int,
        default=d.pg_runs,
        help="pipelines: runs per PostgreSQL drain (300)",
    )
    p.add_argument(
        "--pipelines-pg-workers",
        default=",".join(map(str, d.pg_workers)),
        help="pipelines: worker process counts (1,3)",
    )
    p.add_argument(
        "--pipelines-pg-latency-runs",
        type=int,
        default=d.pg_latency_runs,
        help="pipelines: runs in the PostgreSQL latency pass (30)",
    )
    p.add_argument(
        "--pipelines-pg-rate",
        type=float,
        default=d.pg_rate,
        help="pipelines: PostgreSQL latency pass runs/s (2)",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_pipelines", description=(__doc__ or "").split("\n")[0]
    )
    add_arguments(p)
    p.add_argument("--workdir", type=Path, default=Path("benchmarks/results/work"))
    args = p.parse_args(argv)
    from benchmarks.machine import describe, machine_info

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {describe(machine_info(args.workdir))}", flush=True)
    found = run_pipelines(args.workdir, options_from(args))
    print()
    print(console_table(found))
    print("\nJSON summary (one measurement a line, with its details):")
    print("[")
    print(",\n".join(json.dumps(m.to_dict(), default=str) for m in found))
    print("]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
