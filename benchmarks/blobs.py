"""Issue 6: the blob store's backends and encryption at rest — throughput and ratios.

Targets (issue 6, "Performance"): encrypted ingest and download of 1 GiB at ≥ 60% of the
unencrypted throughput; the S3 backend against moto on loopback reported with its ratio to
the filesystem backend. What is measured, each in a fresh child process
(``python -m benchmarks.blobs child SPEC``) so its peak RSS growth can be read:

* **ingest**: ``ContentBlobStore.put(stream, expected_sha256=digest)`` — what the server
  does for an upload — of a ``size_mib`` file of random bytes (written once, read from the
  page cache, so reading is not what is measured), plain and encrypted (AES-256-GCM, 1 MiB
  chunks, data key wrapped by a local key file);
* **download**: ``read(digest)`` consumed to the end (no hashing: the store's own cost). On
  the disk backend twice: *cold* (the stored object dropped from the page cache with
  ``posix_fadvise(DONTNEED)`` first, so it comes from the disk) and *warm* (right after);
* **ranged read**: ``read(digest, start=, end=)`` of 1 MiB in the middle of the blob, at a
  chunk boundary (*aligned*) and 12,345 bytes past it (*unaligned*: two cipher chunks),
  ``range_reads`` times each, p50 reported.

Backends: ``disk`` (``FilesystemObjects`` under the work directory, the real case),
``tmpfs`` (the same on ``/dev/shm``: no disk, so the CPU cost of encryption shows), ``s3``
(``S3Objects`` against a ``moto_server`` on 127.0.0.1, started here with its defaults: it
keeps an object of more than ~5 MiB in a temporary file under ``TMPDIR`` and reads all of it
for every GET, ranged or not; the objects are deleted after every child) and ``null`` (an
object store that discards what it is given: the CPU ceiling of ``put`` itself). Every round
runs every backend plain and encrypted, alternating which goes first; medians of ``rounds``
rounds are reported, with the range. Nothing on the disk is deleted before the end (see
ingest.py: on this machine writing into blocks freed a moment ago is much faster than into
fresh space). Components measured in each round, to explain the figures: single-core
sha256, AES-256-GCM seal/open of 1 MiB chunks (``envelope.ChunkSealer``/``AESGCM.decrypt``),
disk write + fsync, and once whether ``AESGCM`` releases the GIL (how far a pure-Python
thread gets while another thread encrypts, against ``hashlib`` — which releases it — and
``bytes.translate`` — which does not). Other processes' CPU is recorded for every child (a
warning above 0.1 cores: the machine has 2).

    python -m benchmarks.run --only blobs              # part of `make bench` with BENCH_ARGS
    python -m benchmarks.run --only blobs --blobs-mib 64 --blobs-rounds 1   # quick (~20 s)
    MODELYARD_BENCH_BLOBS_MIB=64 python -m benchmarks.blobs                  # the same
    python -m benchmarks.blobs profile [--mib 256] [--root /dev/shm]        # where time goes

``profile`` puts one blob plain and encrypted, then shows cProfile's top functions of the
encrypted download and put (the main thread; put hashes on a second thread), the stages of
an encrypted read timed alone, and a what-if: the same reads with the ciphertext read in
whole sealed chunks (``chunk + tag`` bytes) so no re-cutting is needed — ``src/`` is only
patched in that process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.bench_pipelines import CpuWatch
from benchmarks.common import Measurement, fmt, log, percentile
from benchmarks.ingest import _disk_write_rate, _sha256_rate, _write_random

MiB = 1024 * 1024
TARGET_FRACTION = 0.60
ENV_MIB = "MODELYARD_BENCH_BLOBS_MIB"
MIN_MIB = 4
BUCKET = "modelyard-bench-blobs"
REGION = "us-east-1"
UNALIGNED = 12_345
TMPFS = Path("/dev/shm")
MOTO_START_TIMEOUT_S = 30.0
CHILD_TIMEOUT_S = 1800.0
REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("disk", "tmpfs", "s3", "null")
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _default_mib() -> int:
    return int(os.environ.get(ENV_MIB, "1024"))


@dataclass(frozen=True, slots=True)
class Options:
    size_mib: int = field(default_factory=_default_mib)
    s3_mib: int | None = None  # None: the same as size_mib
    rounds: int = 3
    range_reads: int = 30
    s3_range_reads: int = 5  # moto reads the whole object for every ranged GET
    backends: tuple[str, ...] = BACKENDS


# --- the parent: rounds, children, measurements ------------------------------------------------


@dataclass
class _Source:
    path: Path
    size: int
    digest: str


@dataclass
class _Setup:
    root: Path
    key_file: Path
    sources: dict[int, _Source]
    tmpfs: Path | None = None
    moto: subprocess.Popen[bytes] | None = None
    moto_url: str = ""
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    components: dict[str, list[float]] = field(default_factory=dict)


def run_blobs(workdir: Path, options: Options) -> list[Measurement]:
    if options.size_mib < MIN_MIB or (options.s3_mib or MIN_MIB) < MIN_MIB:
        raise SystemExit(f"blobs: sizes below {MIN_MIB} MiB are not meaningful")
    root = workdir / "blobs"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    backends = _usable_backends(options, root)
    setup = _Setup(root=root, key_file=root / "keys" / "blob-keys.json", sources={})
    try:
        _prepare(setup, options, backends)
        gil = _gil_probe()
        log("GIL probe (pure-Python thread progress vs idle): " + _gil_text(gil))
        for number in range(1, options.rounds + 1):
            log(f"round {number}/{options.rounds}: components, then {', '.join(backends)}")
            _components(setup, number, options.size_mib)
            order = (False, True) if number % 2 else (True, False)
            for backend in backends:
                for encrypt in order:
                    _one(setup, options, backend, encrypt, number)
    finally:
        _teardown(setup)
    return _measurements(setup, options, backends, gil)


def _usable_backends(options: Options, root: Path) -> list[str]:
    wanted = [b for b in BACKENDS if b in options.backends]
    biggest = max(options.size_mib, options.s3_mib or 0)
    need = (2 + 3 * options.rounds) * biggest
    free = shutil.disk_usage(root).free // MiB
    if free < need:
        raise SystemExit(f"blobs: {free} MiB free under {root}, need {need}")
    if "tmpfs" in wanted and (
        not TMPFS.is_dir() or shutil.disk_usage(TMPFS).free // MiB < 2 * options.size_mib
    ):
        log(f"skipping tmpfs: {TMPFS} missing or under {2 * options.size_mib} MiB free")
        wanted.remove("tmpfs")
    if "s3" in wanted and _moto_command() is None:
        log("skipping s3: moto_server is not installed (pip install 'moto[server]')")
        wanted.remove("s3")
    return wanted


def _prepare(setup: _Setup, options: Options, backends: list[str]) -> None:
    from modelyard.store.keys.keyring import KeyFile

    KeyFile(setup.key_file).create()
    sizes = {options.size_mib}
    if "s3" in backends:
        sizes.add(options.s3_mib or options.size_mib)
    for size_mib in sorted(sizes):
        path = setup.root / f"source-{size_mib}MiB.bin"
        log(f"writing a {size_mib} MiB random file to {path}")
        _write_random(path, size_mib)
        setup.sources[size_mib] = _Source(path, size_mib * MiB, _file_digest(path))
    if "tmpfs" in backends:
        setup.tmpfs = TMPFS / f"modelyard-bench-blobs-{os.getpid()}"
        setup.tmpfs.mkdir()
    if "s3" in backends:
        _start_moto(setup)
    os.sync()
    time.sleep(2.0)


def _file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            hasher.update(chunk)
    return hasher.hexdigest()


def _moto_command() -> list[str] | None:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script)]
    found = shutil.which("moto_server")
    return [found] if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_moto(setup: _Setup) -> None:
    command = _moto_command()
    assert command is not None
    port = _free_port()
    setup.moto_url = f"http://127.0.0.1:{port}"
    log_path = setup.root / "moto_server.log"
    with log_path.open("wb") as out:
        setup.moto = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | AWS_ENV,
        )
    deadline = time.monotonic() + MOTO_START_TIMEOUT_S
    while not _answers(setup.moto_url):
        if setup.moto.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"blobs: moto_server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    _s3_client(setup.moto_url).create_bucket(Bucket=BUCKET)
    log(f"moto_server on {setup.moto_url} (pid {setup.moto.pid}), bucket {BUCKET}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _s3_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def _empty_prefix(url: str, prefix: str) -> None:
    """Delete the child's objects: moto keeps them in memory."""
    client = _s3_client(url)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _teardown(setup: _Setup) -> None:
    if setup.moto is not None:
        setup.moto.kill()
        setup.moto.wait(timeout=30)
    if setup.tmpfs is not None:
        shutil.rmtree(setup.tmpfs, ignore_errors=True)
    shutil.rmtree(setup.root, ignore_errors=True)


def _components(setup: _Setup, number: int, size_mib: int) -> None:
    found = {
        "sha256": _sha256_rate(size_mib),
        "aes_gcm_seal": _seal_rate(size_mib),
        "aes_gcm_open": _open_rate(size_mib),
        "disk_write_fsync": _disk_write_rate(setup.root / f"baseline-{number}.bin", size_mib),
    }
    for key, value in found.items():
        setup.components.setdefault(key, []).append(value)
    log(", ".join(f"{k} {v:,.0f} MiB/s" for k, v in found.items()))


def _seal_rate(size_mib: int) -> float:
    from modelyard.store.blobs.envelope import CHUNK_PLAINTEXT, ChunkSealer, Header

    chunk = os.urandom(CHUNK_PLAINTEXT)
    sealer = ChunkSealer(os.urandom(32), Header(CHUNK_PLAINTEXT, os.urandom(16)))
    start = time.perf_counter()
    for i in range(size_mib):
        sealer.seal(chunk, final=i == size_mib - 1)
    return size_mib * CHUNK_PLAINTEXT / MiB / (time.perf_counter() - start)


def _open_rate(size_mib: int) -> float:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes = AESGCM(os.urandom(32))
    nonce, aad = bytes(12), b"aad"
    sealed = aes.encrypt(nonce, os.urandom(MiB), aad)
    start = time.perf_counter()
    for _ in range(size_mib):
        aes.decrypt(nonce, sealed, aad)
    return size_mib / (time.perf_counter() - start)


def _size_mib(options: Options, backend: str) -> int:
    return (options.s3_mib or options.size_mib) if backend == "s3" else options.size_mib


def _one(setup: _Setup, options: Options, backend: str, encrypt: bool, number: int) -> None:
    mode = "encrypted" if encrypt else "plain"
    size_mib = _size_mib(options, backend)
    source = setup.sources[size_mib]
    tag = f"{backend}-{mode}-{number}"
    spec: dict[str, Any] = {
        "backend": backend,
        "encrypt": encrypt,
        "key_file": str(setup.key_file),
        "source": str(source.path),
        "size": source.size,
        "digest": source.digest,
        "range_reads": options.s3_range_reads if backend == "s3" else options.range_reads,
    }
    if backend == "disk":
        spec["root"] = str(setup.root / f"store-{tag}")
    elif backend == "tmpfs":
        assert setup.tmpfs is not None
        spec["root"] = str(setup.tmpfs / f"store-{tag}")
    elif backend == "s3":
        assert setup.moto is not None
        spec |= {"url": setup.moto_url, "prefix": f"bench/{tag}", "moto_pid": setup.moto.pid}
    os.sync()
    with CpuWatch() as cpu:
        result = _child(spec)
    result |= {"round": number, "other_cores": round(cpu.cores("other"), 3)}
    result["other_top"] = cpu.top_other
    if backend == "tmpfs":
        shutil.rmtree(spec["root"], ignore_errors=True)
    elif backend == "s3":
        _empty_prefix(setup.moto_url, spec["prefix"])
    setup.samples.setdefault(f"{backend}/{mode}", []).append(result)
    log(f"{backend:5} {mode:9} " + _child_text(result, size_mib))
    if result["other_cores"] > 0.1:
        log(f"WARNING: other processes used {result['other_cores']:.2f} cores ({cpu.top_other})")


def _child_text(result: dict[str, Any], size_mib: int) -> str:
    parts = []
    for phase in ("put", "download_cold", "download"):
        if phase in result:
            p = result[phase]
            rate = size_mib / p["seconds"]
            moto = f" + moto {p['cores_moto']:.2f}" if result["backend"] == "s3" else ""
            parts.append(f"{phase} {rate:,.0f} MiB/s ({p['cores_self']:.2f}{moto} cores)")
    for kind in ("aligned", "unaligned"):
        if kind in result.get("range", {}):
            parts.append(f"range {kind} p50 {percentile(result['range'][kind], 50) * 1000:.2f} ms")
    return "; ".join(parts)


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.blobs", "child", json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=CHILD_TIMEOUT_S,
        env=os.environ | AWS_ENV,
    )
    if completed.returncode != 0:
        raise SystemExit(f"blobs child {spec['backend']} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


# --- GIL probe --------------------------------------------------------------------------------


def _gil_probe(seconds: float = 0.6) -> dict[str, float]:
    """How fast a pure-Python counting thread runs while this thread runs an operation on
    1 MiB buffers in a loop, as a fraction of its speed while this thread sleeps. Near 1:
    the operation releases the GIL (given a free core); well below: it holds it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    buffer = os.urandom(MiB)
    aes = AESGCM(os.urandom(32))
    nonce = bytes(12)
    sealed = aes.encrypt(nonce, buffer, None)
    table = bytes(range(255, -1, -1))
    hasher = hashlib.sha256()
    operations: dict[str, Callable[[], object]] = {
        "idle": lambda: time.sleep(0.001),
        "hashlib.sha256.update": lambda: hasher.update(buffer),
        "AESGCM.encrypt": lambda: aes.encrypt(nonce, buffer, None),
        "AESGCM.decrypt": lambda: aes.decrypt(nonce, sealed, None),
        "bytes.translate (holds the GIL)": lambda: buffer.translate(table),
    }
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            for _ in range(1000):
                n += 1
            counter[0] = n

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    rates: dict[str, float] = {}
    try:
        time.sleep(0.1)
        for _ in range(2):  # the second pass is kept: both threads warmed up
            for name, operation in operations.items():
                before, start = counter[0], time.perf_counter()
                while time.perf_counter() - start < seconds:
                    operation()
                rates[name] = (counter[0] - before) / (time.perf_counter() - start)
    finally:
        stop.set()
        thread.join()
    idle = rates.pop("idle") or 1.0
    return {name: rate / idle for name, rate in rates.items()}


def _gil_text(gil: dict[str, float]) -> str:
    return ", ".join(f"{name} {fraction:.2f}" for name, fraction in gil.items())


# --- results ----------------------------------------------------------------------------------


def _rates(samples: list[dict[str, Any]], phase: str, size_mib: int) -> list[float]:
    return [size_mib / s[phase]["seconds"] for s in samples if phase in s]


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f} to {max(values):,.0f}"


def _measurements(
    setup: _Setup, options: Options, backends: list[str], gil: dict[str, float]
) -> list[Measurement]:
    found: list[Measurement] = []
    medians: dict[tuple[str, str, str], float] = {}
    verdicts: list[str] = []
    phases = (
        ("put", "ingest"),
        ("download_cold", "download, cold (from disk)"),
        ("download", "download, warm (page cache)"),
    )
    for backend in backends:
        size_mib = _size_mib(options, backend)
        for phase, label in phases:
            by_mode = {
                mode: _rates(setup.samples[f"{backend}/{mode}"], phase, size_mib)
                for mode in ("plain", "encrypted")
            }
            if not by_mode["plain"]:
                continue
            shown = "download (GET from moto)" if (backend, phase) == ("s3", "download") else label
            plain = statistics.median(by_mode["plain"])
            medians[(backend, phase, "plain")] = plain
            # encrypted ÷ plain within each round (the two ran back to back)
            paired = [e / p for e, p in zip(by_mode["encrypted"], by_mode["plain"], strict=True)]
            for mode, rates in by_mode.items():
                rate = statistics.median(rates)
                medians[(backend, phase, mode)] = rate
                target = TARGET_FRACTION * plain if mode == "encrypted" else None
                details = {
                    "size_mib": size_mib,
                    "rate_samples": rates,
                    "children": setup.samples[f"{backend}/{mode}"],
                    "fraction_of_plain": rate / plain,
                    "fraction_of_plain_by_round": paired,
                }
                name = f"{backend}: {shown}, {mode}, {size_mib} MiB"
                if mode == "encrypted":
                    name += f" (≥ {TARGET_FRACTION:.0%} of plain)"
                    verdict = "PASS" if rate >= TARGET_FRACTION * plain else "MISS"
                    verdicts.append(
                        f"{backend} {shown}: encrypted {rate:,.0f} MiB/s ({_spread(rates)}) ÷ "
                        f"plain {plain:,.0f} MiB/s ({_spread(by_mode['plain'])}) = "
                        f"{rate / plain:.2f} (by round: "
                        + " / ".join(f"{r:.2f}" for r in paired)
                        + f") → {verdict}"
                    )
                found.append(
                    Measurement("blobs", name, rate, "MiB/s", target=target, details=details)
                )
    found += _s3_ratios(medians, backends)
    found += _range_latencies(setup, backends)
    found += _component_measurements(setup, gil)
    for line in verdicts:
        log(line)
    return found


def _s3_ratios(
    medians: dict[tuple[str, str, str], float], backends: list[str]
) -> list[Measurement]:
    found: list[Measurement] = []
    if "s3" not in backends or "disk" not in backends:
        return found
    for phase, disk_phase, label in (
        ("put", "put", "ingest"),
        ("download", "download_cold", "download vs disk cold"),
        ("download", "download", "download vs disk warm"),
    ):
        for mode in ("plain", "encrypted"):
            ratio = medians[("s3", phase, mode)] / medians[("disk", disk_phase, mode)]
            found.append(
                Measurement(
                    "blobs",
                    f"s3 (moto, loopback) ÷ disk: {label}, {mode}",
                    ratio,
                    "x",
                    details={
                        "s3_mib_s": medians[("s3", phase, mode)],
                        "disk_mib_s": medians[("disk", disk_phase, mode)],
                    },
                )
            )
    return found


def _range_latencies(setup: _Setup, backends: list[str]) -> list[Measurement]:
    found = []
    for backend in backends:
        for mode in ("plain", "encrypted"):
            for kind in ("aligned", "unaligned"):
                samples = setup.samples[f"{backend}/{mode}"]
                all_s = [t for s in samples for t in s.get("range", {}).get(kind, [])]
                if not all_s:
                    continue
                p50s = [percentile(s["range"][kind], 50) * 1000 for s in samples]
                found.append(
                    Measurement(
                        "blobs",
                        f"{backend}: 1 MiB range read mid-blob, {kind}, {mode}, p50",
                        percentile(all_s, 50) * 1000,
                        "ms",
                        higher_is_better=False,
                        details={
                            "p90_ms": percentile(all_s, 90) * 1000,
                            "max_ms": max(all_s) * 1000,
                            "p50_ms_by_round": p50s,
                            "reads": len(all_s),
                        },
                    )
                )
    return found


def _component_measurements(setup: _Setup, gil: dict[str, float]) -> list[Measurement]:
    labels = {
        "sha256": "component: sha256, 1 MiB updates, one core",
        "aes_gcm_seal": "component: AES-256-GCM seal, 1 MiB chunks (ChunkSealer)",
        "aes_gcm_open": "component: AES-256-GCM open, 1 MiB chunks (AESGCM.decrypt)",
        "disk_write_fsync": "component: disk write 1 MiB chunks + fsync, fresh space",
    }
    found = [
        Measurement(
            "blobs",
            label,
            statistics.median(setup.components[key]),
            "MiB/s",
            details={"samples": setup.components[key]},
        )
        for key, label in labels.items()
        if key in setup.components
    ]
    for name, fraction in gil.items():
        found.append(
            Measurement(
                "blobs",
                f"GIL probe: a Python thread's speed while another runs {name} (1 = unhindered)",
                fraction,
                "x",
                details=gil,
            )
        )
    return found


def console_lines(found: list[Measurement]) -> str:
    rows = [("measurement", "value", "target", "ratio")]
    rows += [(m.name, f"{fmt(m.value)} {m.unit}", m.target_text, m.verdict) for m in found]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- options ----------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--blobs-*`` options (shared with ``benchmarks.run``)."""
    d = Options()
    p.add_argument(
        "--blobs-mib",
        type=int,
        default=d.size_mib,
        help=f"blobs: blob size in MiB (1024, or ${ENV_MIB})",
    )
    p.add_argument(
        "--blobs-s3-mib",
        type=int,
        default=None,
        help="blobs: blob size on S3/moto (default: --blobs-mib)",
    )
    p.add_argument(
        "--blobs-rounds", type=int, default=d.rounds, help="blobs: rounds, median and range (3)"
    )
    p.add_argument(
        "--blobs-range-reads",
        type=int,
        default=d.range_reads,
        help="blobs: 1 MiB ranged reads per kind and child (30)",
    )
    p.add_argument(
        "--blobs-s3-range-reads",
        type=int,
        default=d.s3_range_reads,
        help="blobs: the same on S3/moto (5: moto reads the whole object for each)",
    )
    p.add_argument(
        "--blobs-backends",
        default=",".join(BACKENDS),
        help=f"blobs: backends to run ({','.join(BACKENDS)})",
    )


def options_from(args: argparse.Namespace) -> Options:
    backends = tuple(b.strip() for b in args.blobs_backends.split(",") if b.strip())
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"--blobs-backends: unknown {', '.join(sorted(unknown))}")
    return Options(
        size_mib=args.blobs_mib,
        s3_mib=args.blobs_s3_mib,
        rounds=args.blobs_rounds,
        range_reads=args.blobs_range_reads,
        s3_range_reads=args.blobs_s3_range_reads,
        backends=backends,
    )


# --- the child: one store, one blob -----------------------------------------------------------


class _NullObjects:
    """An object store that discards every byte: the CPU ceiling of ``put``."""

    location = "null"

    def stage(self, target: str | None = None) -> _NullStaging:
        return _NullStaging()

    def exists(self, key: str) -> bool:
        return False

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        from modelyard.errors import NotFoundError

        raise NotFoundError(f"{key} is not stored")

    def size(self, key: str) -> int:
        from modelyard.errors import NotFoundError

        raise NotFoundError(f"{key} is not stored")

    def get(self, key: str) -> bytes | None:
        return None

    def put(self, key: str, data: bytes) -> None:
        pass

    def delete(self, key: str) -> None:
        pass

    def list(self, prefix: str) -> Iterator[Any]:
        return iter(())


class _NullStaging:
    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)

    def commit(self, key: str) -> bool:
        return True

    def abort(self) -> None:
        pass


class _Phase:
    """Wall time, this process's CPU (all threads), moto's CPU and peak RSS growth."""

    def __init__(self, moto_pid: int | None) -> None:
        self._moto = None
        if moto_pid is not None:
            import psutil

            self._moto = psutil.Process(moto_pid)
        self.result: dict[str, Any] = {}

    def _moto_cpu(self) -> float:
        if self._moto is None:
            return 0.0
        times = self._moto.cpu_times()
        return float(times.user + times.system)

    def __enter__(self) -> _Phase:
        from benchmarks.ingest_child import _current_kib, _reset_peak

        self._reset = _reset_peak()
        self._rss = _current_kib()
        self._moto0 = self._moto_cpu()
        self._cpu0 = _self_cpu()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        from benchmarks.ingest_child import _hwm_kib, _peak_kib

        seconds = time.perf_counter() - self._t0
        peak = _hwm_kib() if self._reset else _peak_kib()
        self.result = {
            "seconds": seconds,
            "cores_self": (_self_cpu() - self._cpu0) / seconds,
            "cores_moto": (self._moto_cpu() - self._moto0) / seconds,
            "rss_growth_mib": max(0, peak - self._rss) / 1024,
            "peak_reset": self._reset,
        }


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _consume(chunks: Iterator[bytes]) -> int:
    total = 0
    for chunk in chunks:
        total += len(chunk)
    return total


def _drop_cache(path: Path) -> None:
    """Evict a (clean, fsynced) file from the page cache: the next read comes from disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def child(spec: dict[str, Any]) -> dict[str, Any]:
    from modelyard.store.blobs.content import ContentBlobStore
    from modelyard.store.blobs.fs_objects import FilesystemObjects
    from modelyard.store.blobs.objects import ObjectStore
    from modelyard.store.blobs.s3_objects import S3Objects
    from modelyard.store.keys.keyring import KeyFile, Keyring

    backend, encrypt = spec["backend"], spec["encrypt"]
    objects: ObjectStore
    if backend == "s3":
        objects = S3Objects(BUCKET, spec["prefix"], endpoint_url=spec["url"], region=REGION)
    elif backend == "null":
        objects = _NullObjects()
    else:
        objects = FilesystemObjects(Path(spec["root"]))
    keyring = Keyring(KeyFile(Path(spec["key_file"])))
    store = ContentBlobStore(objects, keyring=keyring, encrypt=encrypt)
    digest, size = spec["digest"], spec["size"]
    moto_pid = spec.get("moto_pid")
    out: dict[str, Any] = {"backend": backend, "encrypt": encrypt}
    with Path(spec["source"]).open("rb") as handle, _Phase(moto_pid) as phase:
        stored = store.put(handle, expected_sha256=digest)
    out["put"] = phase.result
    if stored.sha256 != digest or stored.size != size or not stored.created:
        raise SystemExit(f"blobs child: put returned {stored}, expected a new {digest}")
    if backend == "null":
        return out
    if backend == "disk":
        assert isinstance(objects, FilesystemObjects)
        key = f"{'enc' if encrypt else 'sha256'}/{digest[:2]}/{digest[2:]}"
        out["stored_bytes"] = objects.size(key)
        _drop_cache(objects.path(key))
        with _Phase(moto_pid) as phase:
            got = _consume(store.read(digest))
        out["download_cold"] = phase.result | {"bytes": got}
    with _Phase(moto_pid) as phase:
        got = _consume(store.read(digest))
    out["download"] = phase.result | {"bytes": got}
    if got != size:
        raise SystemExit(f"blobs child: read {got} bytes, expected {size}")
    out["range"] = _ranges(store, digest, size, spec["range_reads"])
    return out


def _ranges(store: Any, digest: str, size: int, reads: int) -> dict[str, list[float]]:
    aligned = (size // 2) // MiB * MiB
    found: dict[str, list[float]] = {}
    for kind, start in (("aligned", aligned), ("unaligned", aligned + UNALIGNED)):
        end = min(size, start + MiB)
        times = []
        for _ in range(reads):
            t0 = time.perf_counter()
            got = _consume(store.read(digest, start=start, end=end))
            times.append(time.perf_counter() - t0)
            if got != end - start:
                raise SystemExit(f"blobs child: range read {got} bytes, expected {end - start}")
        found[kind] = times
    return found


# --- profile: where the time of an encrypted read and write goes -------------------------------


class _PoolStream:
    """``size_mib`` MiB cycling through 16 random 1 MiB buffers: a stream, constant memory."""

    def __init__(self, size_mib: int, pool: list[bytes]) -> None:
        self._left = size_mib
        self._pool = pool

    def read(self, size: int = -1, /) -> bytes:
        if self._left == 0:
            return b""
        self._left -= 1
        return self._pool[self._left % len(self._pool)]  # callers ask for 1 MiB


def _best_rate(size_mib: int, run: Callable[[], object], times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return size_mib / best


def _regroup_aligned(pieces: Any, size: int) -> Iterator[bytes]:
    """The what-if: pieces that already have the sealed chunk's size pass through."""
    from modelyard.transfer.blobs import envelope

    pieces = iter(pieces)
    for piece in pieces:
        if len(piece) != size:
            yield from envelope._regroup_original([piece], size)  # type: ignore[attr-defined]
            yield from envelope._regroup_original(pieces, size)  # type: ignore[attr-defined]
            return
        yield piece


def _download(store: Any, digest: str) -> int:
    return _consume(store.read(digest))


def profile(size_mib: int, root: Path) -> None:
    import cProfile
    import pstats

    from modelyard.store.blobs.content import ContentBlobStore
    from modelyard.store.blobs.fs_objects import FilesystemObjects
    from modelyard.store.keys.keyring import KeyFile, Keyring
    from modelyard.transfer.blobs import envelope, fs_objects

    pool = [os.urandom(MiB) for _ in range(16)]
    hasher = hashlib.sha256()
    for i in range(size_mib - 1, -1, -1):
        hasher.update(pool[i % 16])
    digest = hasher.hexdigest()
    work = root / f"modelyard-bench-blobs-profile-{os.getpid()}"
    key_file = KeyFile(work / "keys.json")
    key_file.create()
    stores: dict[str, ContentBlobStore] = {}
    try:
        for mode in ("plain", "encrypted"):
            store = ContentBlobStore(
                FilesystemObjects(work / mode),
                keyring=Keyring(key_file),
                encrypt=mode == "encrypted",
            )
            stream = _PoolStream(size_mib, pool)
            rate = _best_rate(size_mib, partial(store.put, stream, expected_sha256=digest), 1)
            stores[mode] = store
            read = _best_rate(size_mib, partial(_download, store, digest))
            print(f"{mode:9}: put {rate:,.0f} MiB/s, download (best of 3) {read:,.0f} MiB/s")
        sealed = stores["encrypted"]
        key = f"enc/{digest[:2]}/{digest[2:]}"
        for title, run in (
            ("encrypted download", lambda: _consume(sealed.read(digest))),
            ("encrypted put", lambda: sealed.put(_PoolStream(size_mib, pool))),
        ):
            profiler = cProfile.Profile()
            profiler.runcall(run)
            print(f"\ncProfile, {title} ({size_mib} MiB), main thread, by own time:")
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(8)
        size = envelope.CHUNK_PLAINTEXT + envelope.TAG_SIZE
        objects = sealed.objects
        assert isinstance(objects, FilesystemObjects)
        print("stages of an encrypted read, alone (best of 3):")
        for title, run in (
            ("ciphertext read in 1 MiB pieces", lambda: _consume(objects.read(key))),
            (
                "+ envelope._regroup into sealed chunks",
                lambda: _consume(envelope._regroup(objects.read(key), size)),
            ),
        ):
            print(f"  {title}: {_best_rate(size_mib, run):,.0f} MiB/s")
        print(f"  AESGCM.decrypt of 1 MiB chunks: {_open_rate(size_mib):,.0f} MiB/s")
        envelope._regroup_original = envelope._regroup  # type: ignore[attr-defined]
        envelope._regroup = _regroup_aligned
        fs_objects.CHUNK_SIZE = size  # type: ignore[attr-defined]
        print("what-if, the ciphertext read in whole sealed chunks (no re-cutting):")
        for mode, store in stores.items():
            rate = _best_rate(size_mib, partial(_download, store, digest))
            print(f"  {mode:9} download {rate:,.0f} MiB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        print(json.dumps(child(json.loads(argv[1]))))
        return 0
    if argv[:1] == ["profile"]:
        p = argparse.ArgumentParser(prog="python -m benchmarks.blobs profile")
        p.add_argument("--mib", type=int, default=256, help="blob size (256)")
        p.add_argument("--root", type=Path, default=TMPFS, help="store directory (/dev/shm)")
        args = p.parse_args(argv[1:])
        profile(args.mib, args.root)
        return 0
    from benchmarks.run import main as run_main

    return run_main(["--only", "blobs", *argv])


if __name__ == "__main__":
    sys.exit(main())
