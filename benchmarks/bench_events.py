"""Issue 4: event delivery — the pattern matcher, the rule index, and webhooks end to end.

1. **Matcher.** ``compile_pattern(p).matches(event)`` evaluations per second on one core, for
   typical rules (exact, prefix, numeric, anything-but, wildcard, ``$or``) on realistic
   CloudEvents; and ``RuleIndex(1,000 rules).route(event)`` p50/p99 per event, for 1,000
   rules that each name a group and for a mix with rules that have no exact field.
2. **Throughput.** A fresh SQLite home (``Registry.open(tmp)``), one rule
   ``{"type": [{"prefix": "version."}]}`` with a webhook target on a local receiver (a
   separate process). ``groups`` groups with one version each, then ``tag_version`` calls
   round-robin over them until ``events`` events exist, with no worker running (the produce
   rate); then ``Worker(queue, threads=4).start()`` and the time until the receiver has every
   event (one stream per group: ordering is per rule, target and group).
3. **Latency.** Worker first, then a producer thread that makes a tag change every
   ``1/rate`` s; commit time = when ``tag_version`` returns, arrival time = when the receiver
   got the POST (both ``time.monotonic()``, one clock for every process on Linux); the two
   are matched by the tag value carried in the event.
4. **MLflow** (3.17.2 from ``benchmarks/.venv-mlflow``): the same latency for its model
   registry webhooks (``model_version_tag.set``), set-tag → webhook arrival; and a check of
   its webhook cache (a webhook created after an event of its type was fired).

The receiver is uvicorn (httptools, uvloop) with a bare ASGI app, or ``ThreadingHTTPServer``
(HTTP/1.1 keep-alive) with ``--events-receiver threading``; both are first driven alone by 4
httpx threads (like the worker's senders) to show their ceiling. It verifies every signature
and records arrival time, event id, group and tag value; the benchmark checks afterwards that
every event arrived once, in order within its group, and that the delivery log agrees.

    python -m benchmarks.run --only events        # part of `make bench` with BENCH_ARGS
    python -m benchmarks.bench_events --help      # alone, with its own table and JSON
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks.common import Measurement, fmt, log, summary_ms
from benchmarks.http_servers import (
    OtherCpu,
    ServerProcess,
    clean_env,
    ensure_mlflow_venv,
    free_port,
)

SECRET = "0123456789abcdef0123"
EVALS_TARGET = 100_000.0  # evaluations/s, one core
ROUTE_TARGET_MS = 1.0  # per event, 1,000 rules
THROUGHPUT_TARGET = 1_000.0  # events/s delivered
LATENCY_P50_TARGET_MS = 50.0
LATENCY_P99_TARGET_MS = 500.0
RECEIVERS = ("uvicorn", "threading")
DRAIN_TIMEOUT_S = 120.0
POLL_S = 0.05  # the receiver's count; arrival times come from the receiver itself


@dataclass(frozen=True, slots=True)
class Options:
    events: int = 5_000  # throughput: events delivered per run (groups' version.created incl.)
    groups: int = 20
    threads: int = 4
    runs: int = 3  # throughput runs; the median is reported
    latency_events: int = 1_000
    rate: float = 100.0  # latency: tag changes per second
    receiver: str = "uvicorn"
    mlflow: bool = True
    mlflow_events: int = 300
    matcher_evals: int = 200_000
    route_events: int = 10_000


# --- 1. matcher and rule index ------------------------------------------------------------

TYPES = ("version.created", "version.tagged", "version.approval_changed", "alias.set")
STATUSES = ("PendingManualApproval", "Approved", "Rejected")

#: (kind, pattern) — the rules a user would write; ``{g}`` is a group name
TYPICAL: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "exact: type + group + status",
        {
            "type": ["version.approval_changed"],
            "data": {"group": ["{g}"], "approval_status": ["Approved"]},
        },
    ),
    ("prefix on type", {"type": [{"prefix": "version."}]}),
    (
        "numeric on version",
        {"type": ["version.created"], "data": {"version": [{"numeric": [">=", 3, "<", 1000]}]}},
    ),
    (
        "anything-but on status",
        {"data": {"approval_status": [{"anything-but": ["Rejected", "PendingManualApproval"]}]}},
    ),
    ("wildcard on subject", {"subject": [{"wildcard": "{g}/*"}]}),
    (
        "$or: alias set or approved",
        {
            "source": ["modelyard"],
            "$or": [{"type": ["alias.set"]}, {"data": {"approval_status": ["Approved"]}}],
        },
    ),
)


def cloud_event(rng: random.Random, groups: int, seq: int) -> dict[str, Any]:
    """A CloudEvent shaped like the registry's (``modelyard.domain.events``)."""
    group = f"g-{rng.randrange(groups)}"
    version = rng.randint(1, 12)
    kind = rng.choice(TYPES)
    data: dict[str, Any] = {
        "group": group,
        "version": version,
        "reference": f"{group}/{version}",
        "approval_status": rng.choice(STATUSES),
        "manifest_digest": "sha256:" + hashlib.sha256(f"{group}/{version}".encode()).hexdigest(),
        "created_by": "local",
        "created_at": "2026-11-26T22:19:01.434650Z",
    }
    if kind == "version.tagged":
        data["changes"] = {"tags": {"k": str(seq)}}
        data["previous"] = {"tags": {"k": str(seq - 1)}}
    elif kind == "alias.set":
        data["alias"] = rng.choice(("production", "staging", "champion"))
    return {
        "specversion": "1.0",
        "id": f"{seq:08x}-4cad-40a1-9e16-a53fcf2eeb57",
        "source": "modelyard",
        "type": kind,
        "subject": f"{group}/{version}",
        "time": "2026-11-26T22:19:01.434650Z",
        "datacontenttype": "application/json",
        "data": data,
    }


def _fill(pattern: Any, group: str) -> Any:
    if isinstance(pattern, dict):
        return {k: _fill(v, group) for k, v in pattern.items()}
    if isinstance(pattern, list):
        return [_fill(v, group) for v in pattern]
    return pattern.replace("{g}", group) if isinstance(pattern, str) else pattern


def run_matcher(opts: Options) -> tuple[list[Measurement], dict[str, Any]]:
    from modelyard.domain.patterns import compile_pattern

    rng = random.Random(4)
    events = [cloud_event(rng, 50, i) for i in range(1_000)]
    near = [cloud_event(rng, 4, i) for i in range(20_000)]  # g-0..g-3: every rule matches some
    per_kind: dict[str, dict[str, float]] = {}
    pairs = []
    n = max(opts.matcher_evals // len(TYPICAL), len(events))
    for kind, raw in TYPICAL:
        pattern = compile_pattern(_fill(raw, "g-3"))
        pairs += [(pattern, e) for e in events]
        rate, hits = _evals_per_s([(pattern, events[i % len(events)]) for i in range(n)])
        matching = [e for e in near if pattern.matches(e)]
        full, _ = _evals_per_s([(pattern, matching[i % len(matching)]) for i in range(n)])
        per_kind[kind] = {"evals_per_s": rate, "match_share": hits / n, "matching_per_s": full}
    rng.shuffle(pairs)
    mixed = [pairs[i % len(pairs)] for i in range(opts.matcher_evals)]
    rates = [_evals_per_s(mixed)[0] for _ in range(3)]
    mixed_rate = statistics.median(rates)
    slowest = min(per_kind, key=lambda k: per_kind[k]["matching_per_s"])
    log(f"matcher: {mixed_rate:,.0f} evaluations/s (mix of {len(TYPICAL)} rule kinds)")
    for kind, row in per_kind.items():
        log(
            f"  {kind}: {row['evals_per_s']:,.0f}/s ({row['match_share']:.0%} match); "
            f"on matching events only {row['matching_per_s']:,.0f}/s"
        )

    found = [
        Measurement(
            "events",
            "matcher: pattern evaluations/s, one core (typical rules)",
            mixed_rate,
            "evals/s",
            EVALS_TARGET,
            details={"runs": rates, "per_kind": per_kind, "evaluations": opts.matcher_evals},
        ),
        Measurement(
            "events",
            f"matcher, slowest kind on matching events only ({slowest})",
            per_kind[slowest]["matching_per_s"],
            "evals/s",
            EVALS_TARGET,
            details={"per_kind": per_kind},
        ),
    ]
    routing: dict[str, Any] = {}
    for name, rules in (
        ("1,000 rules, each naming a group", group_rules(1_000)),
        ("1,000 rules, mixed (60 without an exact field)", mixed_rules(1_000, rng)),
    ):
        stats = _route_latency(rules, opts.route_events, rng)
        routing[name] = stats
        log(
            f"route, {name}: p50 {stats['p50_ms'] * 1000:.1f} µs, p99 "
            f"{stats['p99_ms'] * 1000:.1f} µs, {stats['mean_matches']:.2f} matches/event, "
            f"{stats['mean_candidates']:.1f} candidates/event"
        )
        for q in ("p50", "p99"):
            found.append(
                Measurement(
                    "events",
                    f"route {q}: {name}",
                    stats[f"{q}_ms"],
                    "ms",
                    ROUTE_TARGET_MS,
                    higher_is_better=False,
                    details=stats,
                )
            )
    return found, {"per_kind": per_kind, "routing": routing}


def _evals_per_s(pairs: list[tuple[Any, dict[str, Any]]]) -> tuple[float, int]:
    hits = 0
    start = time.perf_counter()
    for pattern, event in pairs:
        if pattern.matches(event):
            hits += 1
    return len(pairs) / (time.perf_counter() - start), hits


def group_rules(count: int) -> list[dict[str, Any]]:
    """``count`` rules of the exact kind, one per group, over 3 event types."""
    kinds = ("version.approval_changed", "version.created", "alias.set")
    return [
        {
            "type": [kinds[i % 3]],
            "data": {"group": [f"g-{i}"], "approval_status": ["Approved"]},
        }
        for i in range(count)
    ]


def mixed_rules(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Mostly group rules of several shapes, plus 60 rules without an exact field (tested on
    every event: prefix, numeric, anything-but, wildcard)."""
    rules: list[dict[str, Any]] = []
    unindexed: list[dict[str, Any]] = [
        {"type": [{"prefix": "version."}]},
        {"data": {"version": [{"numeric": [">", 10]}]}},
        {"data": {"approval_status": [{"anything-but": ["Rejected"]}]}},
        {"subject": [{"wildcard": "g-1*/1"}]},
    ]
    for i in range(60):
        rules.append(unindexed[i % len(unindexed)])
    for i in range(count - len(rules)):
        group = f"g-{i}"
        shape = i % 4
        if shape == 0:
            rules.append(_fill(TYPICAL[0][1], group))
        elif shape == 1:
            rules.append({"type": [{"prefix": "version."}], "data": {"group": [group]}})
        elif shape == 2:
            rules.append({"data": {"group": [group], "version": [{"numeric": [">=", 2]}]}})
        else:
            rules.append(
                {
                    "type": ["alias.set"],
                    "data": {"group": [group], "alias": [{"anything-but": "staging"}]},
                }
            )
    rng.shuffle(rules)
    return rules


def _route_latency(
    raw_rules: list[dict[str, Any]], events: int, rng: random.Random
) -> dict[str, Any]:
    from modelyard.domain.patterns import compile_pattern
    from modelyard.domain.rule_index import RuleIndex

    started = time.perf_counter()
    index = RuleIndex([(i, compile_pattern(p)) for i, p in enumerate(raw_rules)])
    build_s = time.perf_counter() - started
    sample = [cloud_event(rng, 1_200, i) for i in range(events)]  # some groups have no rule
    for event in sample[:500]:
        index.route(event)  # warm-up
    clock = time.perf_counter_ns
    samples, matches = [], 0
    for event in sample:
        t0 = clock()
        found = index.route(event)
        samples.append((clock() - t0) / 1e9)
        matches += len(found)
    candidates = sum(len(index.candidates(e)) for e in sample[:2_000]) / min(events, 2_000)
    return summary_ms(samples) | {
        "rules": len(raw_rules),
        "index_build_ms": build_s * 1000,
        "mean_matches": matches / events,
        "mean_candidates": candidates,
    }


# --- the webhook receiver (a child process) --------------------------------------------------


class Records:
    """What the receiver got: one row per POST."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str, str, str, bool]] = []
        self.lock = threading.Lock()

    def add(self, headers: dict[str, str], body: bytes) -> None:
        arrived = time.monotonic()
        h = {k.lower(): v for k, v in headers.items()}
        try:
            doc = json.loads(body)
            data = doc.get("data") or {}
        except ValueError:
            data = {}
        if "modelyard-event-id" in h:
            event_id = h["modelyard-event-id"]
            group = str(data.get("group", ""))
            key = str(((data.get("changes") or {}).get("tags") or {}).get("k", ""))
            ok = _modelyard_signature_ok(h, body)
        else:  # MLflow: {"entity", "action", "timestamp", "data": {name, version, key, value}}
            event_id = h.get("x-mlflow-delivery-id", "")
            group, key = str(data.get("name", "")), str(data.get("value", ""))
            ok = _mlflow_signature_ok(h, body)
        with self.lock:
            self.rows.append((arrived, event_id, group, key, ok))

    def dump(self) -> bytes:
        with self.lock:
            return json.dumps(self.rows).encode()

    def reset(self) -> None:
        with self.lock:
            self.rows.clear()


def _modelyard_signature_ok(h: dict[str, str], body: bytes) -> bool:
    from modelyard.domain.delivery import verify_signature

    return verify_signature(
        SECRET,
        event_id=h.get("modelyard-event-id", ""),
        timestamp=h.get("modelyard-timestamp", ""),
        body=body,
        signature=h.get("modelyard-signature", ""),
        now=time.time(),
    )


def _mlflow_signature_ok(h: dict[str, str], body: bytes) -> bool:
    signed = f"{h.get('x-mlflow-delivery-id', '')}.{h.get('x-mlflow-timestamp', '')}."
    digest = hmac.new(SECRET.encode(), signed.encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return hmac.compare_digest(expected, h.get("x-mlflow-signature", ""))


def serve_uvicorn(port: int) -> None:
    import uvicorn

    records = Records()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path, method = scope["path"], scope["method"]
        out, status = b"", 204
        if method == "POST" and path == "/hook":
            records.add({k.decode(): v.decode() for k, v in scope["headers"]}, body)
        elif path == "/count":
            out, status = str(len(records.rows)).encode(), 200
        elif path == "/dump":
            out, status = records.dump(), 200
        elif path == "/reset":
            records.reset()
        else:
            status = 404
        headers = [(b"content-length", str(len(out)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


def serve_threading(port: int) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    records = Records()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, out: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/hook":
                records.add(dict(self.headers.items()), body)
                self._reply(204)
            elif self.path == "/reset":
                records.reset()
                self._reply(204)
            else:
                self._reply(404)

        def do_GET(self) -> None:
            if self.path == "/count":
                self._reply(200, str(len(records.rows)).encode())
            elif self.path == "/dump":
                self._reply(200, records.dump())
            else:
                self._reply(404)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


class Receiver:
    """The receiver child process and a client to read what it got."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/hook"
        argv = [sys.executable, "-m", "benchmarks.bench_events", "--serve-receiver", kind]
        argv += ["--port", str(port)]
        self.log = workdir / f"receiver-{kind}-{port}.log"
        self.server = ServerProcess(argv, clean_env(), f"{self.base}/count", self.log)
        self.http = httpx.Client(base_url=self.base, timeout=30.0)

    def __enter__(self) -> Receiver:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.server.stop()
        if self.log.exists() and not self.log.read_text(errors="replace").strip():
            self.log.unlink()  # kept only when the receiver said something (an error)

    @property
    def pid(self) -> int:
        return self.server.pid

    def count(self) -> int:
        return int(self.http.get("/count").text)

    def rows(self) -> list[tuple[float, str, str, str, bool]]:
        return [(t, i, g, k, ok) for t, i, g, k, ok in self.http.get("/dump").json()]

    def reset(self) -> None:
        self.http.post("/reset")

    def wait_for(self, n: int, timeout: float = DRAIN_TIMEOUT_S) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= n:
                return True
            time.sleep(POLL_S)
        return False

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)


def receiver_capacity(kind: str, workdir: Path, posts: int, threads: int) -> dict[str, Any]:
    """POSTs/s the receiver takes from ``threads`` httpx clients (keep-alive), no database:
    the ceiling of the HTTP part alone, sender included."""
    from modelyard.domain.delivery import sign

    body = json.dumps(cloud_event(random.Random(1), 20, 1)).encode()
    with Receiver(kind, workdir) as rx:

        def blast(count: int) -> None:
            with httpx.Client(timeout=10.0) as client:
                for _ in range(count):
                    ts = int(time.time())
                    headers = {
                        "Content-Type": "application/json",
                        "Modelyard-Event-Id": "e",
                        "Modelyard-Timestamp": str(ts),
                        "Modelyard-Signature": sign(SECRET, "e", ts, body),
                    }
                    client.post(rx.url, content=body, headers=headers).raise_for_status()

        blast(50)
        rx.reset()
        cpu0, rx_cpu0 = _own_cpu(), rx.cpu_seconds()
        start = time.monotonic()
        workers = [threading.Thread(target=blast, args=(posts // threads,)) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.monotonic() - start
        got = rx.count()
        return {
            "receiver": kind,
            "posts": got,
            "posts_per_s": got / wall,
            "client_cores": (_own_cpu() - cpu0) / wall,
            "receiver_cores": (rx.cpu_seconds() - rx_cpu0) / wall,
        }


def _own_cpu() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


# --- 2. and 3. modelyard end to end ----------------------------------------------------------


@dataclass
class Home:
    """A fresh registry home with the webhook rule and ``groups`` groups of one version."""

    path: Path
    registry: Any
    groups: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.registry.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def delivery_log(self) -> dict[str, Any]:
        """Delivery rows by status and attempts made, read from the SQLite file."""
        with sqlite3.connect(f"file:{self.path / 'registry.db'}?mode=ro", uri=True) as db:
            by_status = dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status"))
            attempts = db.execute("SELECT COUNT(*) FROM delivery_attempts").fetchone()[0]
            failed = db.execute("SELECT COUNT(*) FROM delivery_attempts WHERE NOT ok").fetchone()[0]
        return {"by_status": by_status, "attempts": attempts, "failed_attempts": failed}


@contextmanager
def fresh_home(workdir: Path, url: str, groups: int) -> Iterator[Home]:
    from modelyard import Registry

    path = Path(tempfile.mkdtemp(prefix="events-", dir=workdir))
    home = Home(path, Registry.open(path))
    try:
        reg = home.registry
        reg.create_rule(
            "bench",
            {"type": [{"prefix": "version."}]},
            [{"type": "webhook", "url": url, "secret": SECRET}],
        )
        artifact = path / "artifact"
        artifact.mkdir()
        (artifact / "model.bin").write_bytes(os.urandom(1024))
        upload = reg.upload_artifact(artifact)
        for g in range(groups):
            name = f"g-{g}"
            reg.create_group(name)
            reg.register_version(name, upload, tags={"k": "0"})
            home.groups.append(name)
        yield home
    finally:
        home.close()


def run_throughput(
    opts: Options, workdir: Path, rx: Receiver, run: int
) -> tuple[dict[str, Any], list[str]]:
    """One run: produce ``opts.events`` events with no worker, then deliver them all."""
    from modelyard.worker.loop import Worker

    problems: list[str] = []
    rx.reset()
    with fresh_home(workdir, rx.url, opts.groups) as home:
        reg, groups = home.registry, home.groups
        tags = opts.events - len(groups)  # + one version.created per group
        started = time.perf_counter()
        for n in range(1, tags + 1):
            reg.tag_version(f"{groups[n % len(groups)]}/1", {"k": str(n)})
        produce_s = time.perf_counter() - started
        worker = Worker(reg.delivery_queue(), threads=opts.threads)
        cpu0, rx_cpu0 = _own_cpu(), rx.cpu_seconds()
        t0 = time.monotonic()
        worker.start()
        try:
            complete = rx.wait_for(opts.events)
        finally:
            worker.stop()
        wall = time.monotonic() - t0
        cpu, rx_cpu = _own_cpu() - cpu0, rx.cpu_seconds() - rx_cpu0
        rows = rx.rows()
        problems += _check_rows(rows, opts.events, complete)
        journal = home.delivery_log()
        if journal["by_status"].get("delivered", 0) != opts.events:
            problems.append(f"delivery log: {journal['by_status']} (wanted {opts.events})")
    arrivals = sorted(r[0] - t0 for r in rows)
    last = arrivals[-1] if arrivals else wall
    n = len(arrivals)
    steady = (
        (int(0.9 * n) - int(0.1 * n)) / (arrivals[int(0.9 * n) - 1] - arrivals[int(0.1 * n)])
        if n >= 100
        else 0.0
    )
    result = {
        "run": run,
        "events": opts.events,
        "tag_changes": tags,
        "produce_s": produce_s,
        "produce_per_s": tags / produce_s,
        "delivered": n,
        "deliver_s": last,
        "deliver_per_s": n / last if last > 0 else 0.0,
        "steady_per_s": steady,
        "first_arrival_ms": arrivals[0] * 1000 if arrivals else None,
        "worker_process_cores": cpu / wall,
        "receiver_cores": rx_cpu / wall,
        "delivery_log": journal,
    }
    log(
        f"run {run}: produced {tags:,} tag changes at {result['produce_per_s']:,.0f}/s; "
        f"delivered {n:,} in {last:.2f} s = {result['deliver_per_s']:,.0f} events/s "
        f"(steady {steady:,.0f}/s; worker process {result['worker_process_cores']:.2f} cores, "
        f"receiver {result['receiver_cores']:.2f})"
    )
    return result, problems


def _check_rows(
    rows: list[tuple[float, str, str, str, bool]], expected: int, complete: bool
) -> list[str]:
    problems = []
    if not complete:
        problems.append(f"timed out: {len(rows)} of {expected} events arrived")
    ids = [r[1] for r in rows]
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} duplicate deliveries")
    if len(set(ids)) != expected:
        problems.append(f"{len(set(ids))} distinct events arrived, {expected} expected")
    bad = sum(1 for r in rows if not r[4])
    if bad:
        problems.append(f"{bad} bad signatures")
    last: dict[str, int] = {}
    disorder = 0
    for _t, _id, group, key, _ok in sorted(rows):
        k = int(key or 0)
        if k < last.get(group, -1):
            disorder += 1
        last[group] = k
    if disorder:
        problems.append(f"{disorder} events arrived before an earlier event of their group")
    return problems


def run_latency(opts: Options, workdir: Path, rx: Receiver) -> tuple[dict[str, Any], list[str]]:
    """Worker running; one tag change every 1/rate s; commit → arrival per event."""
    from modelyard.worker.loop import Worker

    rx.reset()
    with fresh_home(workdir, rx.url, opts.groups) as home:
        reg, groups = home.registry, home.groups
        worker = Worker(reg.delivery_queue(), threads=opts.threads)
        worker.start()
        try:
            if not rx.wait_for(len(groups), timeout=30):
                return {}, ["warm-up events never arrived"]
            rx.reset()
            committed, call_s = _paced(
                opts.latency_events,
                opts.rate,
                lambda n: reg.tag_version(f"{groups[n % len(groups)]}/1", {"k": str(n)}),
            )
            complete = rx.wait_for(opts.latency_events, timeout=30)
        finally:
            worker.stop()
        rows = rx.rows()
        problems = _check_rows(rows, opts.latency_events, complete)
    result = _latencies(committed, rows, opts.latency_events, call_s)
    result["rate_asked"] = opts.rate
    _log_latency("modelyard", result)
    return result, problems


def _paced(
    count: int, rate: float, change: Callable[[int], object]
) -> tuple[dict[str, tuple[float, float]], list[float]]:
    """Call ``change(n)`` for n = 1..count at ``rate``/s on a producer thread (catching up,
    never bursting, when a call overruns); returns n → (sent, returned) monotonic times."""
    committed: dict[str, tuple[float, float]] = {}
    call_s: list[float] = []

    def produce() -> None:
        start = time.monotonic()
        for n in range(1, count + 1):
            wait = start + (n - 1) / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            change(n)
            done = time.monotonic()
            committed[str(n)] = (sent, done)
            call_s.append(done - sent)

    producer = threading.Thread(target=produce, name="producer")
    producer.start()
    producer.join()
    return committed, call_s


def _latencies(
    committed: dict[str, tuple[float, float]],
    rows: list[tuple[float, str, str, str, bool]],
    expected: int,
    call_s: list[float],
) -> dict[str, Any]:
    arrived = {r[3]: r[0] for r in rows}
    from_commit = [arrived[k] - done for k, (_s, done) in committed.items() if k in arrived]
    from_send = [arrived[k] - sent for k, (sent, _d) in committed.items() if k in arrived]
    times = sorted(done for _s, done in committed.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    result: dict[str, Any] = {
        "events": expected,
        "matched": len(from_commit),
        "achieved_rate": (len(times) - 1) / span if span > 0 else 0.0,
        "call": summary_ms(call_s) if call_s else {},
    }
    if from_commit:
        result["from_commit"] = summary_ms(from_commit) | {"min_ms": min(from_commit) * 1000}
        result["from_send"] = summary_ms(from_send) | {"min_ms": min(from_send) * 1000}
    return result


def _log_latency(side: str, r: dict[str, Any]) -> None:
    if "from_commit" not in r:
        log(f"{side}: no event arrived")
        return
    c = r["from_commit"]
    log(
        f"{side}: {r['matched']:,}/{r['events']:,} events at {r['achieved_rate']:.0f}/s "
        f"(change call p50 {r['call']['p50_ms']:.2f} ms); commit → arrival p50 "
        f"{c['p50_ms']:.1f} ms, p90 {c['p90_ms']:.1f}, p99 {c['p99_ms']:.1f}, "
        f"max {c['max_ms']:.1f} (min {c['min_ms']:.1f})"
    )


# --- 4. MLflow ----------------------------------------------------------------------------


def run_mlflow(opts: Options, workdir: Path, rx: Receiver) -> tuple[dict[str, Any], list[str]]:
    """Set-tag → webhook arrival through ``mlflow server`` (SQLite), paced like modelyard's
    run but bounded by how fast MLflow takes set-tag calls; then its webhook-cache check."""
    from benchmarks.mlflow_side import MlflowSide

    bin_dir, missing = ensure_mlflow_venv(workdir / "mlflow-install.log")
    if bin_dir is None:
        return {"missing": missing}, [f"MLFLOW FIGURES ARE MISSING: {missing}"]
    root = Path(tempfile.mkdtemp(prefix="events-mlflow-", dir=workdir))
    side = MlflowSide(root, bin_dir)
    # Webhooks to http://127.0.0.1 are refused unless both are allowed (SSRF protection).
    side.server.env |= {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    }
    try:
        side.start(fresh=True)
        conn = side.connect()
        try:
            side.prepare(conn, ("g-0",))
            artifact = root / "artifact"
            artifact.mkdir()
            (artifact / "model.bin").write_bytes(os.urandom(1024))
            conn.register("g-0", artifact, 1)
            result, problems = _mlflow_latency(conn.http, opts, rx)
        finally:
            conn.close()
    finally:
        side.stop()
        shutil.rmtree(root, ignore_errors=True)
    _log_latency("MLflow", result)
    return result, problems


def _mlflow_latency(
    http: httpx.Client, opts: Options, rx: Receiver
) -> tuple[dict[str, Any], list[str]]:
    from benchmarks.mlflow_side import API, _check

    def webhook(name: str, entity: str, action: str) -> None:
        body = {
            "name": name,
            "url": rx.url,
            "events": [{"entity": entity, "action": action}],
            "secret": SECRET,
        }
        _check(http.post(f"{API}/webhooks", json=body))

    # The cache check first: an alias event before its webhook exists caches "no webhooks".
    alias = {"name": "g-0", "alias": "champion", "version": "1"}
    _check(http.post(f"{API}/registered-models/alias", json=alias))
    webhook("alias-late", "MODEL_VERSION_ALIAS", "CREATED")
    webhook("bench", "MODEL_VERSION_TAG", "SET")
    rx.reset()
    late_started = time.monotonic()
    for _ in range(20):
        _check(http.post(f"{API}/registered-models/alias", json=alias))
        time.sleep(0.1)
    time.sleep(1.0)
    late, late_s = rx.count(), time.monotonic() - late_started
    log(
        f"MLflow: webhook created after an alias event: {late} of 20 alias events "
        f"delivered in the next {late_s:.1f} s (its webhook cache lives 60 s)"
    )

    def set_tag(n: int) -> None:
        body = {"name": "g-0", "version": "1", "key": "k", "value": str(n)}
        _check(http.post(f"{API}/model-versions/set-tag", json=body))

    for n in range(-5, 0):  # warm-up: connection, webhook cache, delivery pool
        set_tag(n)
    rx.wait_for(5, timeout=10)
    rx.reset()
    committed, call_s = _paced(opts.mlflow_events, opts.rate, set_tag)
    complete = rx.wait_for(opts.mlflow_events, timeout=30)
    rows = rx.rows()
    problems = [] if complete else [f"MLflow: {len(rows)} of {opts.mlflow_events} arrived"]
    if sum(1 for r in rows if not r[4]):
        problems.append("MLflow: bad signatures")
    result = _latencies(committed, rows, opts.mlflow_events, call_s)
    result["rate_asked"] = opts.rate
    result["late_webhook"] = {"alias_events": 20, "delivered": late, "seconds": late_s}
    return result, problems


# --- the whole benchmark --------------------------------------------------------------------


def run_events(workdir: Path, opts: Options) -> list[Measurement]:
    """Every part; measurements for ``benchmarks.run`` (details hold the raw figures)."""
    workdir.mkdir(parents=True, exist_ok=True)
    found, _ = run_matcher(opts)
    capacity = {}
    for kind in RECEIVERS:
        capacity[kind] = c = receiver_capacity(kind, workdir, 4_000, opts.threads)
        log(
            f"receiver {kind} alone: {c['posts_per_s']:,.0f} POSTs/s from {opts.threads} httpx "
            f"threads (clients {c['client_cores']:.2f} cores, receiver {c['receiver_cores']:.2f})"
        )
    e2e = _end_to_end(workdir, opts)
    for p in e2e.problems:
        log(f"PROBLEM: {p}")
    runs = e2e.runs
    median = sorted(runs, key=lambda r: r["deliver_per_s"])[len(runs) // 2]
    setup = {
        "events": opts.events,
        "groups": opts.groups,
        "threads": opts.threads,
        "receiver": opts.receiver,
        "receiver_capacity": capacity,
        "runs": runs,
        "problems": e2e.problems,
        "other_cpu_cores": e2e.others,
    }
    found.append(
        Measurement(
            "events",
            f"webhooks delivered/s, {opts.events:,} queued events, {opts.groups} groups "
            f"(median of {len(runs)})",
            median["deliver_per_s"],
            "events/s",
            THROUGHPUT_TARGET,
            details=setup | {"median_run": median["run"]},
        )
    )
    found.append(
        Measurement(
            "events",
            "produce: tag_version with its event, no worker (median)",
            statistics.median(r["produce_per_s"] for r in runs),
            "changes/s",
            details={"runs": [r["produce_per_s"] for r in runs]},
        )
    )
    return found + _latency_measurements(opts, e2e.latency, e2e.mlflow)


@dataclass
class EndToEnd:
    runs: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    mlflow: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    others: dict[str, float] = field(default_factory=dict)  # label → other processes' cores

    def watched(self, label: str, measure: Callable[[], Any]) -> Any:
        """``measure()``, noting the CPU other processes used meanwhile (noise)."""
        with OtherCpu() as other:
            result = measure()
        self.others[label] = round(other.cores, 3)
        if other.cores > 0.1:
            log(
                f"WARNING: other processes used {other.cores:.2f} cores on average during "
                f"{label} ({other.top[:3]}): figures disturbed"
            )
        return result


def _end_to_end(workdir: Path, opts: Options) -> EndToEnd:
    e2e = EndToEnd()
    with Receiver(opts.receiver, workdir) as rx:
        for run in range(1, opts.runs + 1):
            result, bad = e2e.watched(
                f"throughput run {run}", lambda run=run: run_throughput(opts, workdir, rx, run)
            )
            e2e.runs.append(result)
            e2e.problems += [f"throughput run {run}: {p}" for p in bad]
        e2e.latency, bad = e2e.watched("latency", lambda: run_latency(opts, workdir, rx))
        e2e.problems += [f"latency: {p}" for p in bad]
        if opts.mlflow:
            e2e.mlflow, bad = e2e.watched("MLflow", lambda: run_mlflow(opts, workdir, rx))
            e2e.problems += bad
    return e2e


def _latency_measurements(
    opts: Options, latency: dict[str, Any], mlflow: dict[str, Any]
) -> list[Measurement]:
    found = []
    if "from_commit" in latency:
        c = latency["from_commit"]
        name = f"commit → webhook arrival at {opts.rate:g}/s"
        for q, target in (("p50", LATENCY_P50_TARGET_MS), ("p99", LATENCY_P99_TARGET_MS)):
            found.append(
                Measurement("events", f"{name}: {q}", c[f"{q}_ms"], "ms", target, False, latency)
            )
    if "from_send" in mlflow:
        # MLflow hands the webhook to its delivery pool before it answers the set-tag call, so
        # "from the call's return" is often negative there: the call's start is the bound used.
        c = mlflow["from_send"]
        name = f"MLflow set-tag call start → webhook arrival at {mlflow['achieved_rate']:.0f}/s"
        for q in ("p50", "p99"):
            found.append(
                Measurement("events", f"{name}: {q}", c[f"{q}_ms"], "ms", None, False, mlflow)
            )
    elif opts.mlflow:
        found.append(Measurement("events", "MLflow webhooks: NOT MEASURED", 0, "", details=mlflow))
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
        events=args.events_count,
        groups=args.events_groups,
        threads=args.events_threads,
        runs=args.events_runs,
        latency_events=args.events_latency_count,
        rate=args.events_rate,
        receiver=args.events_receiver,
        mlflow=not args.no_mlflow,
        mlflow_events=args.events_mlflow_count,
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--events-*`` options (shared with ``benchmarks.run``)."""
    d = Options()
    p.add_argument("--events-count", type=int, default=d.events, help="events: queued (5000)")
    p.add_argument("--events-groups", type=int, default=d.groups, help="events: groups (20)")
    p.add_argument(
        "--events-threads", type=int, default=d.threads, help="events: sender threads (4)"
    )
    p.add_argument("--events-runs", type=int, default=d.runs, help="events: throughput runs (3)")
    p.add_argument(
        "--events-latency-count",
        type=int,
        default=d.latency_events,
        help="events: tag changes in the latency run (1000)",
    )
    p.add_argument(
        "--events-rate", type=float, default=d.rate, help="events: latency run changes/s (100)"
    )
    p.add_argument(
        "--events-mlflow-count",
        type=int,
        default=d.mlflow_events,
        help="events: MLflow set-tag calls in its latency run (300)",
    )
    p.add_argument(
        "--events-receiver",
        choices=RECEIVERS,
        default=d.receiver,
        help="events: the webhook receiver process (uvicorn)",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_events", description=(__doc__ or "").split("\n")[0]
    )
    add_arguments(p)
    p.add_argument("--no-mlflow", action="store_true", help="skip the MLflow comparison")
    p.add_argument("--workdir", type=Path, default=Path("benchmarks/results/work"))
    p.add_argument("--serve-receiver", choices=RECEIVERS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_receiver:
        (serve_uvicorn if args.serve_receiver == "uvicorn" else serve_threading)(args.port)
        return 0
    from benchmarks.machine import describe, machine_info

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {describe(machine_info(args.workdir))}", flush=True)
    found = run_events(args.workdir, options_from(args))
    print()
    print(console_table(found))
    print("\nJSON summary (one measurement a line, with its details):")
    print("[")
    print(",\n".join(json.dumps(m.to_dict(), default=str) for m in found))
    print("]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
