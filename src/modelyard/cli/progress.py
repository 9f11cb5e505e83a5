"""A rich progress bar implementing the transfer Progress protocol (stderr, TTY only)."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from modelyard.cli.output import err_console


class TransferBar:
    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description:>11}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        )
        self._task: TaskID | None = None
        #: (items, bytes) of each phase begun, e.g. phases["uploading"] = (2, 12_400_000)
        self.phases: dict[str, tuple[int, int]] = {}

    def __enter__(self) -> TransferBar:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def begin(self, phase: str, total_bytes: int, items: int) -> None:
        self.phases[phase] = (items, total_bytes)
        self._task = self._bar.add_task(phase, total=total_bytes)

    def advance(self, nbytes: int) -> None:
        if self._task is not None:
            self._bar.advance(self._task, nbytes)

    def end(self) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
            self._task = None
