"""Run the benchmarks, print a table, write JSON to benchmarks/results/.

    make bench                                    # targets 1-4, default scales (~2 min on 2 vCPUs)
    make bench BENCH_ARGS="--only search --curve" # search at 10k, 100k and 1M (~2 min)
    python -m benchmarks.run --help

Benchmarks: register (target 1), lookup (2), search (3), ingest (4), and, only when asked for
with --only, sqlvariants (today's search SQL vs hand-written rewrites; no target) and http
(issue 3: the HTTP API vs MLflow's server, side by side; ~4 min a run, --http-quick ~2 min),
events (issue 4: pattern matching, rule routing, webhook delivery throughput and latency, MLflow's
webhooks; ~2 min), pipelines (issue 5: the release-pipeline engine's overhead, runs/s on SQLite
and PostgreSQL and stage dispatch latency; ~3 min) and blobs (issue 6: blob store ingest, download
and ranged reads, plain vs encrypted, filesystem vs S3 on moto; ~5 min at 1 GiB, --blobs-mib for
less), and scan (issue 6: registering a 500 MB pickle-free artifact with and without its
unsafe-model scan; ~1 min), healthz (issue 12: /healthz p99 while a SQLite writer holds the
write lock and while a 1 GiB upload streams in; ~1.5 min) and startup (issue 12: import time,
`modelyard --help` and a remote `version show`, each beside a bare `python -c pass`; ~1 min).
See docs/performance.md for the results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_events import add_arguments as add_events_arguments
from benchmarks.bench_events import options_from as events_options
from benchmarks.bench_events import run_events
from benchmarks.bench_pipelines import add_arguments as add_pipelines_arguments
from benchmarks.bench_pipelines import options_from as pipelines_options
from benchmarks.bench_pipelines import run_pipelines
from benchmarks.blobs import add_arguments as add_blobs_arguments
from benchmarks.blobs import options_from as blobs_options
from benchmarks.blobs import run_blobs
from benchmarks.blobs_e2e import run_blobs_e2e
from benchmarks.common import Measurement
from benchmarks.healthz import add_arguments as add_healthz_arguments
from benchmarks.healthz import options_from as healthz_options
from benchmarks.healthz import run_healthz
from benchmarks.http_api import QUICK, Counts, run_http
from benchmarks.http_report import console_table
from benchmarks.ingest import run_ingest
from benchmarks.lookup import run_lookup
from benchmarks.machine import describe, machine_info
from benchmarks.populate import Store, populated_store
from benchmarks.register import run_register
from benchmarks.report import console_report
from benchmarks.scan import add_arguments as add_scan_arguments
from benchmarks.scan import options_from as scan_options
from benchmarks.scan import run_scan
from benchmarks.search import SHAPES, run_search_bench
from benchmarks.sql_variants import run_sql_variants
from benchmarks.startup import add_arguments as add_startup_arguments
from benchmarks.startup import options_from as startup_options
from benchmarks.startup import run_startup

BENCHMARKS = (
    "register",
    "lookup",
    "search",
    "sqlvariants",
    "ingest",
    "http",
    "events",
    "pipelines",
    "blobs",
    "scan",
    "healthz",
    "startup",
)
DEFAULT = ("register", "lookup", "search", "ingest")  # the others: only with --only
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
CURVE_POINT = 1_000_000


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=(__doc__ or "").split("\n")[0],
        epilog="--curve adds the 1,000,000-version point to search and sqlvariants.",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these (repeat or comma-separate): {', '.join(BENCHMARKS)} "
        f"(default: {', '.join(DEFAULT)})",
    )
    p.add_argument(
        "--scale",
        type=int,
        default=100_000,
        help="versions in the store for the lookup and search targets (100000)",
    )
    p.add_argument(
        "--curve",
        action="store_true",
        help=f"add the {CURVE_POINT:,}-version point to the search curve (+~2 min populate)",
    )
    p.add_argument(
        "--search-scales",
        default=None,
        metavar="N,N,…",
        help="search curve points (default: 10000,SCALE, plus 1000000 with --curve)",
    )
    p.add_argument(
        "--shapes",
        default=None,
        metavar="KEY,…",
        help=f"search shapes to run: {', '.join(s.key for s in SHAPES)}",
    )
    p.add_argument("--register-count", type=int, default=2000, help="versions registered (2000)")
    p.add_argument(
        "--register-runs", type=int, default=3, help="register runs, median and range (3)"
    )
    p.add_argument("--lookup-calls", type=int, default=2000, help="calls per lookup kind (2000)")
    p.add_argument("--search-reps", type=int, default=30, help="runs per search shape (30)")
    p.add_argument(
        "--search-budget",
        type=float,
        default=15.0,
        help="seconds per search shape and scale before stopping early (15)",
    )
    p.add_argument("--ingest-mib", type=int, default=1024, help="ingested file size (1024)")
    p.add_argument("--ingest-rounds", type=int, default=3, help="ingest rounds, median (3)")
    p.add_argument(
        "--http-quick",
        action="store_true",
        help="http: smaller counts and one 256 MiB transfer (CI-like, ~2 min)",
    )
    p.add_argument(
        "--http-register-count",
        type=int,
        default=None,
        help="http: versions registered per mode, 1 client and N clients (1000)",
    )
    p.add_argument("--http-clients", type=int, default=None, help="http: concurrent clients (8)")
    p.add_argument("--http-transfer-mib", type=int, default=None, help="http: file size (1024)")
    p.add_argument(
        "--http-transfer-rounds", type=int, default=None, help="http: transfers, median (3)"
    )
    p.add_argument(
        "--http-runs",
        type=int,
        default=1,
        help="http: whole runs of both servers, median per figure (1; the docs use 3)",
    )
    p.add_argument(
        "--no-mlflow",
        action="store_true",
        help="http: skip MLflow (its known figures are shown instead, as a reference); "
        "events: skip the MLflow webhook comparison",
    )
    add_events_arguments(p)
    add_pipelines_arguments(p)
    add_blobs_arguments(p)
    add_scan_arguments(p)
    add_healthz_arguments(p)
    add_startup_arguments(p)
    p.add_argument(
        "--workdir",
        type=Path,
        default=RESULTS / "work",
        help="scratch space for stores and the big file (benchmarks/results/work)",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="reuse populated stores left in --workdir by an earlier --keep/--reuse run",
    )
    p.add_argument("--keep", action="store_true", help="keep the populated stores afterwards")
    args = p.parse_args(argv)
    args.only = {n.strip() for item in args.only for n in item.split(",") if n.strip()}
    unknown = args.only - set(BENCHMARKS)
    if unknown:
        p.error(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}")
    if args.search_scales:
        args.scales = sorted({int(n) for n in args.search_scales.split(",")})
    else:
        args.scales = sorted({10_000, args.scale} | ({CURVE_POINT} if args.curve else set()))
    args.shape_keys = set(args.shapes.split(",")) if args.shapes else None
    return args


class _Session:
    """The state of one run: what was measured, the populated stores, the search plans."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.measurements: list[Measurement] = []
        self.plans: dict[str, Any] = {}
        self.stores: dict[int, Store] = {}

    def store(self, scale: int) -> Store:
        if scale not in self.stores:
            self.stores[scale] = populated_store(self.args.workdir, scale, reuse=self.args.reuse)
        return self.stores[scale]

    def record(self, new: list[Measurement]) -> None:
        for m in new:
            print(f"{m.name}: {m.value:,.2f} {m.unit} — {m.verdict}", flush=True)
        self.measurements.extend(new)

    def run(self, wanted: set[str]) -> None:
        args = self.args
        if "register" in wanted:
            print("\n== register (target 1)", flush=True)
            self.record(run_register(args.workdir, args.register_count, args.register_runs))
        if "ingest" in wanted:
            print("\n== ingest (target 4)", flush=True)
            self.record(run_ingest(args.workdir, args.ingest_mib, args.ingest_rounds))
        if "lookup" in wanted:
            print(f"\n== lookup (target 2) at {args.scale:,} versions", flush=True)
            self.record(run_lookup(self.store(args.scale), args.lookup_calls))
        if "search" in wanted:
            for scale in args.scales:
                print(f"\n== search (target 3) at {scale:,} versions", flush=True)
                found, plans = run_search_bench(
                    self.store(scale),
                    reps=args.search_reps,
                    budget_s=args.search_budget,
                    only=args.shape_keys,
                )
                self.record(found)
                self.plans[str(scale)] = plans
        self._run_issues(wanted)
        if "sqlvariants" in wanted:
            for scale in args.scales:
                print(f"\n== search SQL, today's vs rewritten, at {scale:,} versions", flush=True)
                self.record(run_sql_variants(self.store(scale), reps=10, budget_s=10.0))

    def _run_issues(self, wanted: set[str]) -> None:
        """The benchmarks of later issues (http, events, …, startup): only with --only."""
        args = self.args
        if "http" in wanted:
            print("\n== http (issue 3): modelyard vs MLflow over HTTP", flush=True)
            self.record(
                run_http(
                    args.workdir,
                    _http_counts(args),
                    with_mlflow=not args.no_mlflow,
                    runs=args.http_runs,
                )
            )
        if "events" in wanted:
            print("\n== events (issue 4): matching, routing, webhook delivery", flush=True)
            self.record(run_events(args.workdir, events_options(args)))
        if "pipelines" in wanted:
            print("\n== pipelines (issue 5): run engine overhead, dispatch latency", flush=True)
            self.record(run_pipelines(args.workdir, pipelines_options(args)))
        if "blobs" in wanted:
            print("\n== blobs (issue 6): blob store backends and encryption at rest", flush=True)
            self.record(run_blobs(args.workdir, blobs_options(args)))
            self.record(run_blobs_e2e(args.workdir, blobs_options(args).size_mib))
        if "scan" in wanted:
            print("\n== scan (issue 6): unsafe-model scanning vs registration", flush=True)
            self.record(run_scan(args.workdir, scan_options(args)))
        if "healthz" in wanted:
            print("\n== healthz (issue 12): /healthz while a long write is held", flush=True)
            self.record(run_healthz(args.workdir, healthz_options(args)))
        if "startup" in wanted:
            print("\n== startup (issue 12): import, --help, remote version show", flush=True)
            self.record(run_startup(args.workdir, startup_options(args)))

    def cleanup(self) -> None:
        if not (self.args.keep or self.args.reuse):
            for s in self.stores.values():
                shutil.rmtree(s.home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    machine = machine_info(args.workdir)
    print(f"machine: {describe(machine)}; modelyard {_git_revision()}", flush=True)
    started = time.perf_counter()
    session = _Session(args)
    try:
        session.run(args.only or set(DEFAULT))
    finally:
        session.cleanup()
    result = {
        "machine": machine,
        "revision": _git_revision(),
        "command": " ".join(["python -m benchmarks.run", *argv]),
        "elapsed_s": time.perf_counter() - started,
        "populate": {
            str(s.scale): {"seconds": s.seconds, "method": s.method}
            for s in session.stores.values()
        },
        "measurements": [m.to_dict() for m in session.measurements],
        "search_plans": session.plans,
    }
    path = _write(result)
    print()
    print(console_report(result))
    if any(m.benchmark == "http" for m in session.measurements):
        print(f"\nhttp (issue 3), side by side (medians of {args.http_runs} run(s)):")
        print(console_table(result["measurements"]))
    print(f"\nresults: {path} (and {RESULTS / 'latest.json'})")
    return 0


def _http_counts(args: argparse.Namespace) -> Counts:
    counts = QUICK if args.http_quick else Counts()
    overrides = {
        "register": args.http_register_count,
        "clients": args.http_clients,
        "transfer_mib": args.http_transfer_mib,
        "transfer_rounds": args.http_transfer_rounds,
    }
    return replace(counts, **{k: v for k, v in overrides.items() if v is not None})


def _git_revision() -> str:
    """The commit measured, with "+dirty" when src/ has uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else "?"

    dirty = git("status", "--porcelain", "--", "src")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def _write(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"bench-{stamp}.json"
    text = json.dumps(result, indent=2, default=str)
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path


if __name__ == "__main__":
    sys.exit(main())
