"""What every stage action gets (``StageContext``) and shares: placeholders, logging, and
running a command with a timeout while streaming its output to the stage's log."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelyard.services.release.engine import Outcome, RunEngine, StageWork

FLUSH_EVERY_S = 0.5
MAX_LINE = 4000


class Action(Protocol):
    """A stage action: one module per ``uses:`` value (see ``actions/__init__.py``)."""

    def idempotent(self, stage: Mapping[str, Any]) -> bool:
        """May the stage run again after a worker died during it?"""
        ...

    def run(self, ctx: StageContext) -> Outcome: ...


@dataclass
class StageContext:
    engine: RunEngine
    work: StageWork
    workdir: Path  # this attempt's scratch directory (removed afterwards)
    _buffer: list[str] = field(default_factory=list)
    _last_flush: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stage(self) -> Mapping[str, Any]:
        return self.work.stage

    def log(self, line: str) -> None:
        """Add a line to the stage's log (written in batches, at least every 0.5 s)."""
        with self._lock:
            self._buffer.append(line.rstrip("\n")[:MAX_LINE])
            due = time.monotonic() - self._last_flush >= FLUSH_EVERY_S
        if due:
            self.flush()

    def flush(self) -> None:
        self.engine.log(self.work, self.take_lines())

    def take_lines(self) -> list[str]:
        """The lines not written yet (the caller writes them)."""
        with self._lock:
            lines, self._buffer = self._buffer, []
            self._last_flush = time.monotonic()
        return lines

    def placeholders(self, **extra: str) -> dict[str, str]:
        run, version = self.work.run, self.work.version
        return {
            "reference": version.reference,
            "group": version.group,
            "version": str(version.number),
            "run_id": str(run["id"]),
            "pipeline": str(run["pipeline"]),
            "artifact_dir": str(self.workdir / "artifact"),
            "metrics_out": str(self.workdir / "metrics.json"),
            **extra,
        }

    def materialize(self) -> Path:
        """The version's files in ``{artifact_dir}``, every digest verified on the way."""
        target = self.workdir / "artifact"
        if not target.exists():
            self.engine.materialize(self.work, target)
        return target

    def expand(self, text: str) -> str:
        if "{artifact_dir}" in text:
            self.materialize()
        return text.format_map(self.placeholders())


@dataclass(frozen=True, slots=True)
class Finished:
    exit_code: int | None  # None: it did not finish (timed out, could not start)
    error: str = ""


def run_command(
    ctx: StageContext,
    command: str | Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    label: str = "",
) -> Finished:
    """Run ``command`` (a string is split like a shell would, without a shell), with the
    placeholders expanded, streaming stdout and stderr lines into the stage log."""
    argv = (
        shlex.split(ctx.expand(command))
        if isinstance(command, str)
        else [ctx.expand(part) for part in command]
    )
    environment = {**os.environ, **{k: ctx.expand(v) for k, v in (env or {}).items()}}
    prefix = f"[{label}] " if label else ""
    ctx.log(f"{prefix}$ {shlex.join(argv)}")
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd or ctx.workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # so a timeout can kill the whole process group
        )
    except OSError as e:
        return Finished(None, f"cannot run {argv[0]!r}: {e.strerror or e}")
    reader = threading.Thread(target=_pump, args=(process, ctx, prefix), daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        _close(process, reader)
        ctx.log(f"{prefix}timed out after {timeout:g} s: killed")
        return Finished(None, f"timed out after {timeout:g} s")
    _close(process, reader)
    ctx.log(f"{prefix}exit code {code}")
    return Finished(code, "" if code == 0 else f"exit code {code}")


def _pump(process: subprocess.Popen[str], ctx: StageContext, prefix: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        ctx.log(prefix + line)


def _close(process: subprocess.Popen[str], reader: threading.Thread) -> None:
    reader.join(timeout=5)
    if process.stdout is not None:
        process.stdout.close()


def _kill(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def failed(error: str, **outputs: Any) -> Outcome:
    return Outcome(status="failed", error=error, outputs=outputs)


def succeeded(**outputs: Any) -> Outcome:
    return Outcome(status="succeeded", outputs=outputs)


Check = Callable[[StageContext], Outcome]
