"""Server processes for the HTTP benchmark: start one, time it to its health check, watch the
RSS of its process tree (psutil), stop it; and the separate virtualenv MLflow runs from.

Both servers run as children of the benchmark, on loopback, with their output sent to a log
file (a full pipe would block them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

MiB = 1024 * 1024
REPO = Path(__file__).resolve().parent.parent
MLFLOW_VERSION = "3.17.2"
MLFLOW_VENV = REPO / "benchmarks" / ".venv-mlflow"
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (those that still exist)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    """Sum of the RSS of the process tree, in bytes (shared pages count once per process)."""
    total = 0
    for process in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


def tree_memory(pid: int) -> dict[str, Any]:
    """RSS and PSS of every process of the tree (PSS shares shared pages out fairly)."""
    processes: list[dict[str, Any]] = []
    for process in tree(pid):
        try:
            full = process.memory_full_info()
            processes.append(
                {
                    "pid": process.pid,
                    "cmd": " ".join(process.cmdline())[:160],
                    "rss_mib": full.rss / MiB,
                    "pss_mib": getattr(full, "pss", 0) / MiB,
                    "uss_mib": getattr(full, "uss", 0) / MiB,
                }
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return {
        "processes": len(processes),
        "rss_mib": sum(p["rss_mib"] for p in processes),
        "pss_mib": sum(p["pss_mib"] for p in processes),
        "by_process": processes,
    }


class RssSampler:
    """Samples the RSS of a process tree every ``interval`` seconds on a thread; ``peak``
    and ``baseline`` (taken at start) in bytes."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.baseline = 0
        self.peak = 0
        self.samples = 0

    def __enter__(self) -> RssSampler:
        self.baseline = self.peak = tree_rss(self._pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self._pid))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, tree_rss(self._pid))
            self.samples += 1

    @property
    def growth_mib(self) -> float:
        return max(0, self.peak - self.baseline) / MiB


class ServerProcess:
    """One server: ``start()`` returns seconds from spawning to the first 200 on
    ``health_url``; ``stop()`` ends the whole tree (SIGTERM, then SIGKILL after 15 s)."""

    def __init__(self, argv: list[str], env: dict[str, str], health_url: str, log: Path):
        self.argv = argv
        self.env = env
        self.health_url = health_url
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> float:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            start = time.perf_counter()
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO
            )
        with httpx.Client(timeout=2.0) as http:
            while True:
                try:
                    if http.get(self.health_url).status_code == 200:
                        return time.perf_counter() - start
                except httpx.HTTPError:
                    pass
                if self.process.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"server exited with {self.process.returncode}:\n{tail}")
                if time.perf_counter() - start > START_TIMEOUT_S:
                    self.stop()
                    raise RuntimeError(f"server not healthy after {START_TIMEOUT_S:.0f} s")
                time.sleep(0.01)

    def stop(self) -> None:
        if self.process is None:
            return
        members = tree(self.process.pid)
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.send_signal(signal.SIGTERM)
        _gone, alive = psutil.wait_procs(members, timeout=15)
        for member in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        self.process.wait()
        self.process = None


def clean_env(**extra: str) -> dict[str, str]:
    """The benchmark's environment without MODELYARD_* (a caller's URL or token), plus
    ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env.update(extra)
    return env


def ensure_mlflow_venv(log: Path) -> tuple[Path | None, str]:
    """``benchmarks/.venv-mlflow`` with mlflow==MLFLOW_VERSION, created on first use.

    Returns (its ``bin`` directory, "") or (None, why not) when it cannot be installed
    (no network, no ``venv`` module, …): the benchmark then runs the modelyard side only.
    """
    bin_dir = MLFLOW_VENV / "bin"
    stamp = MLFLOW_VENV / f".installed-mlflow-{MLFLOW_VERSION}"
    if stamp.exists() and (bin_dir / "mlflow").exists():
        return bin_dir, ""
    python3 = shutil.which("python3") or "python3"
    steps = [
        [python3, "-m", "venv", str(MLFLOW_VENV)],
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            f"mlflow=={MLFLOW_VERSION}",
        ],
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        for argv in steps:
            try:
                done = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, timeout=1800, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                return None, f"{' '.join(argv[:4])}: {type(e).__name__}: {e}"
            if done.returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                return None, f"{' '.join(argv[:4])} exited with {done.returncode}: {tail}"
    stamp.write_text(MLFLOW_VERSION + "\n")
    return bin_dir, ""


class OtherCpu:
    """CPU used by processes outside the benchmark's own tree (this process, its servers)
    while the block runs, in cores on average: anything above ~0.1 competes with the
    measurement on a 2-core machine (e.g. a test suite running meanwhile)."""

    def __init__(self) -> None:
        self.cores = 0.0
        self.top: list[tuple[str, float]] = []
        self._before: dict[int, tuple[float, float]] = {}
        self._start = 0.0
        self._t0 = 0.0

    @staticmethod
    def _snapshot() -> dict[int, tuple[float, float, str]]:
        mine = {p.pid for p in tree(os.getpid())}
        found = {}
        for process in psutil.process_iter(["pid", "create_time", "cpu_times", "name"]):
            info = process.info
            if info["pid"] in mine or info["cpu_times"] is None:
                continue
            times = info["cpu_times"]
            found[info["pid"]] = (info["create_time"], times.user + times.system, info["name"])
        return found

    def __enter__(self) -> OtherCpu:
        self._start = time.time()
        self._before = {pid: (c, t) for pid, (c, t, _n) in self._snapshot().items()}
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        used: dict[str, float] = {}
        for pid, (created, seconds, name) in self._snapshot().items():
            before = self._before.get(pid)
            if before is not None and before[0] == created:
                delta = seconds - before[1]
            elif created >= self._start - 1:
                delta = seconds
            else:
                continue
            used[name] = used.get(name, 0.0) + delta
        self.cores = sum(used.values()) / wall if wall > 0 else 0.0
        self.top = sorted(((n, s / wall) for n, s in used.items()), key=lambda x: -x[1])[:5]
