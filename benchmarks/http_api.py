"""Issue 3: the HTTP API against MLflow's registry server, side by side, in one run.

For each server in turn (never both at once; modelyard first in odd runs, MLflow first in even
ones), on loopback, one server process each, SQLite backend, a fresh store:

1. start from nothing, time to the health check answering; stop; start again on the same
   store (a restart), time again; idle RSS of the process tree after ``SETTLE_S``;
2. register small versions (one 1 KiB file of fresh random bytes each): ``warm-up`` + N in a
   row from one client, then N more from ``clients`` threads with a client each;
3. at the N + warm-up versions of the first group: set a tag, move an alias (rate);
   get a version by number and resolve an alias (latency); search returning 1,000 rows;
4. upload then download a ``transfer_mib`` file (1 GiB by default), ``rounds`` times, with the
   RSS of the server's process tree sampled every 20 ms; the single-core sha256 rate is
   measured in the same run, before each side's transfers.

With ``runs`` > 1 the whole comparison is repeated and each figure is the median of the runs.
Each figure is printed beside MLflow's (as "x better") and beside its target. If MLflow cannot
be installed or is skipped (``--no-mlflow``), the known MLflow figures from the issue are shown
instead, labelled "reference, not measured in this run". See docs/performance.md.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

from benchmarks.common import Measurement, log, summary_ms
from benchmarks.http_modelyard import ModelyardSide
from benchmarks.http_report import METRICS, Metric, console_table
from benchmarks.http_servers import MiB, OtherCpu, RssSampler, ensure_mlflow_venv, tree_memory
from benchmarks.http_servers import tree as tree_processes
from benchmarks.ingest import _disk_write_rate, _sha256_rate, _write_random
from benchmarks.mlflow_side import MlflowSide

SETTLE_S = 5.0  # after start, before reading idle RSS
WARMUP = 20
SEQ, CONC, BIG = "bench-seq", "bench-conc", "bench-big"
GROUPS = (SEQ, CONC, BIG)
ALIAS = "champion"


@dataclass(frozen=True, slots=True)
class Counts:
    register: int = 1000  # per mode (sequential, concurrent)
    clients: int = 8
    writes: int = 200  # set-tag calls, and set-alias calls
    reads: int = 500  # get-version calls, and resolve-alias calls
    search_reps: int = 10
    search_rows: int = 1000
    transfer_mib: int = 1024
    transfer_rounds: int = 3


QUICK = Counts(register=200, writes=50, reads=200, search_reps=5, transfer_mib=256,
               transfer_rounds=1)  # fmt: skip


class Conn(Protocol):
    def close(self) -> None: ...
    def register(self, group: str, directory: Path, i: int) -> None: ...
    def set_tag(self, group: str, number: int, key: str, value: str) -> None: ...
    def set_alias(self, group: str, alias: str, number: int) -> None: ...
    def get_version(self, group: str, number: int) -> None: ...
    def resolve_alias(self, group: str, alias: str) -> None: ...
    def search(self, group: str, rows: int) -> int: ...
    def upload(self, directory: Path, group: str, round_: int) -> Any: ...
    def finish_upload(self, handle: Any, group: str) -> Any: ...
    def download(self, handle: Any, destination: Path) -> None: ...


class Side(Protocol):
    name: str

    @property
    def pid(self) -> int: ...
    def describe(self) -> dict[str, Any]: ...
    def start(self, *, fresh: bool) -> float: ...
    def stop(self) -> None: ...
    def connect(self) -> Conn: ...
    def prepare(self, conn: Any, groups: tuple[str, ...]) -> None: ...


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) used so far by the server's process tree and by this process
    (the clients), in seconds."""
    server = 0.0
    for process in tree_processes(pid):
        try:
            times = process.cpu_times()
            server += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    own = psutil.Process().cpu_times()
    return server, own.user + own.system


class _Calls:
    """Latencies of calls that succeeded, and the errors of those that did not."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu_before = _cpu_seconds(pid)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def call(self, func: Callable[[], Any]) -> None:
        start = time.perf_counter()
        try:
            func()
        except Exception as e:  # counted and reported; a server error must not end the run
            with self.lock:
                self.errors.append(f"{type(e).__name__}: {e}"[:300])
            return
        elapsed = time.perf_counter() - start
        with self.lock:
            self.latencies.append(elapsed)

    def summary(self, wall_s: float) -> dict[str, Any]:
        ok = len(self.latencies)
        server_cpu, client_cpu = (
            after - before
            for after, before in zip(_cpu_seconds(self.pid), self.cpu_before, strict=True)
        )
        return {
            "server_cpu_ms_per_call": server_cpu * 1000 / ok if ok else None,
            "client_cpu_ms_per_call": client_cpu * 1000 / ok if ok else None,
            "ok": ok,
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "wall_s": wall_s,
            "rate_per_s": ok / wall_s if wall_s > 0 else 0.0,
            "latency": summary_ms(self.latencies) if ok else None,
        }


def run_http(
    workdir: Path, counts: Counts, *, with_mlflow: bool = True, runs: int = 1
) -> list[Measurement]:
    """``runs`` rounds of both servers (alternating which goes first); each figure is the
    median over the runs, with every run's value in the details."""
    root = workdir / "http"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    need_mib = counts.transfer_mib * (3 + 2 * counts.transfer_rounds * runs) + 1024
    free_mib = shutil.disk_usage(root).free // MiB
    if free_mib < need_mib:
        raise SystemExit(f"http: {free_mib} MiB free under {root}, need {need_mib}")
    bin_dir, mlflow_missing = None, "skipped (--no-mlflow)"
    if with_mlflow:
        log("MLflow: benchmarks/.venv-mlflow (created and installed on first use)")
        bin_dir, mlflow_missing = ensure_mlflow_venv(root / "mlflow-install.log")
    if bin_dir is None:
        log(f"MLFLOW FIGURES ARE MISSING: {mlflow_missing}")
        log("showing MLflow's known figures instead: reference, not measured in this run")
    results: list[dict[str, dict[str, Any]]] = []
    sha_rates: list[float] = []
    try:
        big = root / "big"
        big.mkdir()
        log(f"writing a {counts.transfer_mib} MiB random file for the transfers")
        _write_random(big / "model.bin", counts.transfer_mib)
        log(f"disk baseline: write {counts.transfer_mib} MiB in 1 MiB chunks + fsync")
        disk_rate = _disk_write_rate(root / "disk-baseline.bin", counts.transfer_mib)
        for run in range(runs):
            log(f"== run {run + 1}/{runs}")
            results.append(_one_run(run, bin_dir, counts, root / f"run{run}", big, sha_rates))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    machine = {
        "sha256_mib_s": statistics.median(sha_rates),
        "sha256_samples": sha_rates,
        "disk_write_fsync_mib_s": disk_rate,
    }
    found = _measurements(results, mlflow_missing, machine, counts)
    found[0].details["servers"] = {name: r["describe"] for name, r in results[0].items()}
    found[0].details["other_cpu_cores"] = [
        {name: r["other_cpu"] for name, r in run.items()} for run in results
    ]
    print()
    if runs > 1:
        print(f"medians of {runs} runs:")
    print(console_table([m.to_dict() for m in found]), flush=True)
    if bin_dir is None:
        print(f"MLFLOW FIGURES ARE MISSING ({mlflow_missing}): its column shows the known")
        print("figures from the issue (reference, not measured in this run).", flush=True)
    return found


def _one_run(
    run: int, bin_dir: Path | None, counts: Counts, root: Path, big: Path, sha_rates: list[float]
) -> dict[str, dict[str, Any]]:
    """Both servers, one after the other (alternating which goes first from run to run, so
    drift does not favour one side)."""
    sides: list[Side] = [ModelyardSide(root / "modelyard")]
    if bin_dir is not None:
        sides.append(MlflowSide(root / "mlflow", bin_dir))
    if run % 2:
        sides.reverse()
    results = {}
    for index, side in enumerate(sides):
        log(f"== {side.name}")
        with OtherCpu() as others:
            raw = _measure_side(side, run * 10 + index, counts, root, big, sha_rates)
        raw["other_cpu"] = {"cores": others.cores, "top": others.top}
        results[side.name] = raw
        if others.cores > 0.1:
            log(
                f"WARNING: other processes used {others.cores:.2f} cores on average "
                f"while {side.name} was measured ({others.top[:3]}): figures disturbed"
            )
    return results


def _measure_side(
    side: Side, index: int, counts: Counts, root: Path, big: Path, sha_rates: list[float]
) -> dict[str, Any]:
    out: dict[str, Any] = {"describe": side.describe()}
    try:
        out["start_first_s"] = side.start(fresh=True)
        log(f"first start (fresh store) to health: {out['start_first_s']:.2f} s")
        time.sleep(SETTLE_S)
        out["idle_first"] = tree_memory(side.pid)
        side.stop()
        out["start_restart_s"] = side.start(fresh=False)
        log(f"restart (same store) to health: {out['start_restart_s']:.2f} s")
        time.sleep(SETTLE_S)
        out["idle"] = tree_memory(side.pid)
        log(f"idle: {out['idle']['rss_mib']:.0f} MiB RSS in {out['idle']['processes']} processes")
        conn = side.connect()
        try:
            side.prepare(conn, GROUPS)
            _registrations(side, conn, counts, root / side.name, out)
            _writes_and_reads(side, conn, counts, out)
            _transfers(side, conn, index, counts, root / side.name, big, sha_rates, out)
        finally:
            conn.close()
        out["after"] = tree_memory(side.pid)
    finally:
        side.stop()
    return out


def _say(summary: dict[str, Any]) -> None:
    latency = summary["latency"] or {"p50_ms": 0.0, "p99_ms": 0.0}
    log(
        f"  {summary['rate_per_s']:,.1f}/s, p50 {latency['p50_ms']:.2f} ms, "
        f"p99 {latency['p99_ms']:.2f} ms, errors {summary['errors']}; CPU per call: "
        f"server {summary['server_cpu_ms_per_call'] or 0:.2f} ms, "
        f"clients {summary['client_cpu_ms_per_call'] or 0:.2f} ms"
    )


def _tiny_dirs(root: Path, count: int) -> list[Path]:
    """One directory per registration with a 1 KiB file of fresh random bytes, synced before
    timing starts (writing the model is the trainer's cost)."""
    directories = []
    for i in range(count):
        directory = root / f"a{i:05d}"
        directory.mkdir(parents=True)
        (directory / "model.bin").write_bytes(os.urandom(1024))
        directories.append(directory)
    os.sync()
    return directories


def _registrations(side: Side, conn: Conn, counts: Counts, root: Path, out: dict[str, Any]) -> None:
    dirs = _tiny_dirs(root / "artifacts", WARMUP + 2 * counts.register)
    for i in range(WARMUP):
        conn.register(SEQ, dirs[i], i)
    log(f"register x {counts.register}, 1 client")
    calls = _Calls(side.pid)
    start = time.perf_counter()
    for i in range(WARMUP, WARMUP + counts.register):
        calls.call(lambda i=i: conn.register(SEQ, dirs[i], i))
    out["register_seq"] = calls.summary(time.perf_counter() - start)
    _say(out["register_seq"])

    log(f"register x {counts.register}, {counts.clients} clients (threads)")
    calls = _Calls(side.pid)
    barrier = threading.Barrier(counts.clients + 1)
    first = WARMUP + counts.register
    indices = list(range(first, first + counts.register))

    def worker(mine: list[int]) -> None:
        client = side.connect()
        try:
            client.get_version(SEQ, 1)  # open the connection before the clock starts
            barrier.wait()
            for i in mine:
                calls.call(lambda i=i: client.register(CONC, dirs[i], i))
        finally:
            client.close()

    threads = [
        threading.Thread(target=worker, args=(indices[k :: counts.clients],))
        for k in range(counts.clients)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    out["register_conc"] = calls.summary(time.perf_counter() - start)
    _say(out["register_conc"])
    out["versions_in_group"] = WARMUP + out["register_seq"]["ok"]
    shutil.rmtree(root / "artifacts", ignore_errors=True)


def _writes_and_reads(side: Side, conn: Conn, counts: Counts, out: dict[str, Any]) -> None:
    versions = out["versions_in_group"]
    rng = random.Random(7)
    conn.set_alias(SEQ, ALIAS, 1)
    # Every move goes to another version (modelyard refuses a move to where it points).
    moves = [1]
    for _ in range(counts.writes):
        moves.append(rng.choice([n for n in range(1, versions + 1) if n != moves[-1]]))
    for name, call in (
        ("set_tag", lambda i: conn.set_tag(SEQ, rng.randint(1, versions), "stage", f"s{i}")),
        ("set_alias", lambda i: conn.set_alias(SEQ, ALIAS, moves[i + 1])),
    ):
        log(f"{name} x {counts.writes} at {versions:,} versions")
        calls = _Calls(side.pid)
        start = time.perf_counter()
        for i in range(counts.writes):
            calls.call(lambda i=i, call=call: call(i))
        out[name] = calls.summary(time.perf_counter() - start)
        _say(out[name])
    for name, call in (
        ("get_version", lambda: conn.get_version(SEQ, rng.randint(1, versions))),
        ("resolve_alias", lambda: conn.resolve_alias(SEQ, ALIAS)),
    ):
        log(f"{name} x {counts.reads}")
        for _ in range(20):
            call()
        calls = _Calls(side.pid)
        start = time.perf_counter()
        for _ in range(counts.reads):
            calls.call(call)
        out[name] = calls.summary(time.perf_counter() - start)
        _say(out[name])
    rows = min(counts.search_rows, versions)
    log(f"search returning {rows:,} rows x {counts.search_reps}")
    got = conn.search(SEQ, rows)  # warm-up, and check the size
    if got != rows:
        raise SystemExit(f"http: search returned {got} rows, expected {rows}")
    calls = _Calls(side.pid)
    start = time.perf_counter()
    for _ in range(counts.search_reps):
        calls.call(lambda: conn.search(SEQ, rows))
    out["search"] = calls.summary(time.perf_counter() - start) | {"rows": rows}
    _say(out["search"])


def _transfers(
    side: Side,
    conn: Conn,
    index: int,
    counts: Counts,
    root: Path,
    big: Path,
    sha_rates: list[float],
    out: dict[str, Any],
) -> None:
    for _ in range(3):
        sha_rates.append(_sha256_rate(counts.transfer_mib))
    log(f"sha256 (in memory, one core): {statistics.median(sha_rates[-3:]):,.0f} MiB/s")
    rounds: list[dict[str, Any]] = []
    for number in range(1, counts.transfer_rounds + 1):
        # A different first 8 bytes every round and side: a new digest, nothing deduplicated.
        fd = os.open(big / "model.bin", os.O_WRONLY)
        try:
            os.pwrite(fd, (index * 1000 + number).to_bytes(8, "big"), 0)
        finally:
            os.close(fd)
        os.sync()
        with RssSampler(side.pid) as up_rss:
            start = time.perf_counter()
            handle = conn.upload(big, BIG, number)
            up_s = time.perf_counter() - start
        handle = conn.finish_upload(handle, BIG)
        os.sync()
        destination = root / f"download-{number}"
        with RssSampler(side.pid) as down_rss:
            start = time.perf_counter()
            conn.download(handle, destination)
            down_s = time.perf_counter() - start
        if (destination / "model.bin").stat().st_size != counts.transfer_mib * MiB:
            raise SystemExit(f"http: {side.name} download has the wrong size")
        shutil.rmtree(destination)
        rounds.append(
            {
                "upload_mib_s": counts.transfer_mib / up_s,
                "download_mib_s": counts.transfer_mib / down_s,
                "upload_rss_growth_mib": up_rss.growth_mib,
                "download_rss_growth_mib": down_rss.growth_mib,
                "rss_before_upload_mib": up_rss.baseline / MiB,
                "rss_samples": up_rss.samples + down_rss.samples,
            }
        )
        log(
            f"round {number}: upload {rounds[-1]['upload_mib_s']:,.0f} MiB/s "
            f"(+{up_rss.growth_mib:.1f} MiB), download {rounds[-1]['download_mib_s']:,.0f} "
            f"MiB/s (+{down_rss.growth_mib:.1f} MiB)"
        )
    out["transfer"] = {
        "size_mib": counts.transfer_mib,
        "rounds": rounds,
        "upload_mib_s": statistics.median(r["upload_mib_s"] for r in rounds),
        "download_mib_s": statistics.median(r["download_mib_s"] for r in rounds),
        "upload_rss_growth_mib": max(r["upload_rss_growth_mib"] for r in rounds),
        "download_rss_growth_mib": max(r["download_rss_growth_mib"] for r in rounds),
    }


def _value(side: dict[str, Any], metric: Metric) -> float | None:
    """A metric's value in a side's raw results (None when its calls all failed)."""
    path = metric.source.split(".")
    node: Any = side
    for part in path:
        if node is None:
            return None
        node = node[part]
    return None if node is None else float(node)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _measurements(
    results: list[dict[str, dict[str, Any]]],
    mlflow_missing: str,
    machine: dict[str, Any],
    counts: Counts,
) -> list[Measurement]:
    found = []
    sha = machine["sha256_mib_s"]
    first = results[0]["modelyard"]
    measured = "MLflow" in results[0]
    for metric in METRICS:
        ours = [_value(run["modelyard"], metric) for run in results]
        value = _median(ours)
        if value is None:
            continue
        theirs_runs = [_value(run["MLflow"], metric) for run in results] if measured else []
        theirs = _median(theirs_runs)
        source = "measured" if theirs is not None else None
        comparable = metric.key != "search_ms" or first["search"]["rows"] == 1000
        if not measured and metric.reference is not None and comparable:
            theirs, source = metric.reference, "reference, not measured in this run"
        target = metric.limit
        if metric.limit_of_sha256 is not None:
            target = metric.limit_of_sha256 * sha
        if metric.factor is not None and theirs:
            target = theirs * metric.factor if metric.higher_is_better else theirs / metric.factor
        vs = None
        if theirs and value:
            vs = value / theirs if metric.higher_is_better else theirs / value
        details: dict[str, Any] = {
            "key": metric.key,
            "goal": metric.goal_text(sha),
            "runs": len(results),
            "modelyard_runs": ours,
            "mlflow": theirs,
            "mlflow_runs": theirs_runs,
            "mlflow_source": source,
            "vs_mlflow": vs,
        }
        if source is None:
            details["mlflow_missing"] = "no figure" if measured else mlflow_missing
        details["modelyard_raw"] = [_raw(run["modelyard"], metric) for run in results]
        if measured:
            details["mlflow_raw"] = [_raw(run["MLflow"], metric) for run in results]
        found.append(
            Measurement(
                "http",
                metric.label.format(
                    n=first["versions_in_group"],
                    c=counts.clients,
                    rows=first["search"]["rows"],
                    mib=counts.transfer_mib,
                ),
                value,
                metric.unit,
                target,
                metric.higher_is_better,
                details,
            )
        )
    found.append(Measurement("http", "machine: sha256, one core, in memory", sha, "MiB/s",
                             details=machine))  # fmt: skip
    found.append(
        Measurement(
            "http",
            "machine: disk write 1 MiB chunks + fsync",
            machine["disk_write_fsync_mib_s"],
            "MiB/s",
        )
    )
    return found


def _raw(side: dict[str, Any], metric: Metric) -> Any:
    return side.get(metric.source.split(".")[0])
