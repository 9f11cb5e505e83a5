"""Issue 12, item 4's targets, measured: how long modelyard takes before it does anything.

Each command runs as a fresh process; its wall time is the median of N runs (``--startup-runs``),
interleaved with a bare ``python -c pass`` on the same interpreter, after one untimed warm-up
run of each (so ``.pyc`` files and the page cache are warm, as on a developer's machine).
Reported: each median, and its difference from the bare interpreter's median (what modelyard
itself costs). The commands and targets:

* ``python -X importtime -c 'import modelyard'`` ≤ 150 ms; also the cumulative time
  ``-X importtime`` itself reports for the ``modelyard`` package, and the wall time of
  ``python -c 'import modelyard'`` without ``-X importtime``'s own overhead (no target);
* ``modelyard --help`` ≤ 300 ms (the console script next to the interpreter);
* ``modelyard version show startup/1`` ≤ 400 ms, in remote mode (``MODELYARD_URL`` and
  ``MODELYARD_TOKEN`` set) against a real ``modelyard server`` started by the benchmark.

    python -m benchmarks.run --only startup                    # 15 runs (~1.5 min today)
    python -m benchmarks.run --only startup --startup-runs 5   # quick
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import Measurement, fmt, log
from benchmarks.http_servers import OtherCpu, ServerProcess, clean_env, free_port
from modelyard import Client

TARGETS_MS = {"importtime": 150.0, "help": 300.0, "show": 400.0}
REFERENCE = "startup/1"
GROUP = "startup"


@dataclass(frozen=True, slots=True)
class Options:
    runs: int = 15


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--startup-*`` options (shared with ``benchmarks.run``)."""
    p.add_argument(
        "--startup-runs",
        type=int,
        default=Options().runs,
        help="startup: runs of each command, median (15)",
    )


def options_from(args: argparse.Namespace) -> Options:
    return Options(runs=args.startup_runs)


@dataclass(frozen=True, slots=True)
class _Command:
    key: str
    label: str
    argv: list[str]
    env: dict[str, str]
    shown: str  # the command as a user would type it

    def run(self, cwd: Path) -> tuple[float, float, str]:
        """(wall seconds, CPU seconds, stderr) of one run; fails loudly on a non-zero exit.

        The CPU time (user + system of the child) is the figure to compare when other work
        competes for the cores: the wall time then includes waiting for one."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            self.argv, env=self.env, cwd=cwd, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"startup: {self.shown} exited {done.returncode}:\n{done.stderr}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return elapsed, cpu, done.stderr


@dataclass(slots=True)
class _Samples:
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    importtime_us: list[int] = field(default_factory=list)


def run_startup(workdir: Path, options: Options) -> list[Measurement]:
    root = workdir / "startup"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    home = root / "home"
    url = f"http://127.0.0.1:{free_port()}"
    server = ServerProcess(
        [sys.executable, "-m", "modelyard", "server", "--port", url.rsplit(":", 1)[1]],
        clean_env(MODELYARD_HOME=str(home)),
        f"{url}/healthz",
        root / "server.log",
    )
    server.start()
    try:
        token = (home / "admin-token").read_text().strip()
        _register_one(url, token, root / "artifact")
        commands = _commands(url, token, root / "cwd-home")
        with OtherCpu() as other:
            samples = _measure(commands, root, options.runs)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    found = _measurements(commands, samples, options.runs)
    for m in found:  # on 2 cores, anything else running makes every wall time longer
        m.details |= {"other_processes_cpu_cores": round(other.cores, 2)}
    return found


def _register_one(url: str, token: str, artifact: Path) -> None:
    artifact.mkdir()
    (artifact / "model.bin").write_bytes(b"startup benchmark model\n" * 1000)
    with Client(url, token) as client:
        client.create_group(GROUP)
        client.register_version(GROUP, artifact, metrics={"auc": 0.9})


def _commands(url: str, token: str, scratch_home: Path) -> list[_Command]:
    python = sys.executable
    script = str(Path(python).with_name("modelyard"))
    # a scratch MODELYARD_HOME: no command here may touch a store in the repository
    env = clean_env(MODELYARD_HOME=str(scratch_home))
    remote = env | {"MODELYARD_URL": url, "MODELYARD_TOKEN": token}
    show = [script, "version", "show", REFERENCE]
    return [
        _Command("bare", "python -c pass", [python, "-c", "pass"], env, "python -c pass"),
        _Command(
            "importtime",
            "python -X importtime -c 'import modelyard'",
            [python, "-X", "importtime", "-c", "import modelyard"],
            env,
            "python -X importtime -c 'import modelyard'",
        ),
        _Command(
            "import",
            "python -c 'import modelyard'",
            [python, "-c", "import modelyard"],
            env,
            "python -c 'import modelyard'",
        ),
        _Command("help", "modelyard --help", [script, "--help"], env, "modelyard --help"),
        _Command(
            "show",
            f"modelyard version show {REFERENCE} (remote)",
            show,
            remote,
            f"MODELYARD_URL={url} MODELYARD_TOKEN=… modelyard version show {REFERENCE}",
        ),
    ]


def _measure(commands: list[_Command], root: Path, runs: int) -> _Samples:
    samples = _Samples(wall={c.key: [] for c in commands}, cpu={c.key: [] for c in commands})
    for command in commands:  # warm-up: .pyc files written, files in the page cache
        command.run(root)
    for number in range(1, runs + 1):
        if number == 1 or number % 5 == 0:
            log(f"run {number}/{runs}")
        for command in commands:
            elapsed, cpu, stderr = command.run(root)
            samples.wall[command.key].append(elapsed)
            samples.cpu[command.key].append(cpu)
            if command.key == "importtime":
                samples.importtime_us.append(_cumulative_us(stderr, "modelyard"))
    return samples


def _cumulative_us(importtime: str, package: str) -> int:
    """The cumulative microseconds ``-X importtime`` reports for importing ``package``."""
    for line in importtime.splitlines():
        # "import time:       self [us] |  cumulative | imported package"
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[2].strip() == package:
            return int(parts[1])
    raise SystemExit(f"startup: no -X importtime line for {package!r}")


def _measurements(commands: list[_Command], samples: _Samples, runs: int) -> list[Measurement]:
    median: Callable[[list[float]], float] = statistics.median
    bare_ms = median(samples.wall["bare"]) * 1000
    found = []
    for command in commands:
        wall = [s * 1000 for s in samples.wall[command.key]]
        value = median(wall)
        details: dict[str, Any] = {
            "command": command.shown,
            "runs": runs,
            "median_ms": value,
            "min_ms": min(wall),
            "max_ms": max(wall),
            "bare_python_median_ms": bare_ms,
            "minus_bare_ms": value - bare_ms,
            "cpu_median_ms": median(samples.cpu[command.key]) * 1000,
            "bare_python_cpu_median_ms": median(samples.cpu["bare"]) * 1000,
        }
        name = (
            command.label
            if command.key == "bare"
            else (f"{command.label} (bare python {fmt(bare_ms)} ms; +{fmt(value - bare_ms)} ms)")
        )
        target = TARGETS_MS.get(command.key)
        found.append(
            Measurement(
                "startup",
                name,
                value,
                "ms",
                target=target,
                higher_is_better=False,
                details=details,
            )
        )
    cumulative = [us / 1000 for us in samples.importtime_us]
    found.append(
        Measurement(
            "startup",
            "import modelyard, as -X importtime reports it (cumulative)",
            median(cumulative),
            "ms",
            target=TARGETS_MS["importtime"],
            higher_is_better=False,
            details={"runs": runs, "min_ms": min(cumulative), "max_ms": max(cumulative)},
        )
    )
    return found
