"""``modelyard version scan``, and the scan lines of ``version show``."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli.errors import FAILURE
from modelyard.cli.output import console, err_console, json_option, print_json, print_pairs
from modelyard.cli.output import print_table as print_rows
from modelyard.cli.state import State, pass_state
from modelyard.domain.scans import VersionScan
from modelyard.errors import NotFoundError


@click.command("scan")
@click.argument("reference")
@click.option(
    "--no-wait",
    is_flag=True,
    help="Queue the scan and return at once (a worker does it; 'version show' shows it).",
)
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the result; still unfinished then: exit 1.",
)
@json_option
@pass_state
def scan(state: State, reference: str, no_wait: bool, timeout: float, as_json: bool) -> None:
    """Scan REFERENCE's files for unsafe pickles again and show the verdict.

    Locally the scan runs in this process (unless a worker is already on it); against a
    server (--url) the server's workers do it while this waits for the result.
    """
    found = state.registry.scan_version(reference, wait=not no_wait, timeout=timeout)
    if as_json:
        print_json(found.to_dict())
    else:
        print_scan(found)
    if not no_wait and not found.is_done:
        err_console.print(
            f"error: scan {found.id} of {found.reference} is still {found.status} after "
            f"{timeout:g} s; 'modelyard version show {found.reference}' shows it when done",
            markup=False,
            highlight=False,
        )
        raise click.exceptions.Exit(FAILURE)


def latest_scan(state: State, reference: str) -> VersionScan | None:
    """The version's newest scan, or None if it was never scanned."""
    try:
        return state.registry.version_scan(reference)
    except NotFoundError as e:
        if e.field == "scan":
            return None
        raise


def scan_line(found: VersionScan | None) -> str:
    """One line for ``version show``: the verdict, or where the scan is."""
    if found is None:
        return "never scanned (run 'modelyard version scan')"
    if found.is_done:
        finished = f"{found.finished_at:%Y-%m-%d %H:%M:%S} UTC" if found.finished_at else ""
        counts = ", ".join(f"{n} {status}" for status, n in _counts(found).items())
        return f"{found.verdict} ({counts}; {found.scanner}, {finished})"
    if found.status == "pending":
        return (
            f"pending since {found.requested_at:%Y-%m-%d %H:%M:%S} UTC "
            "(a worker scans it: 'modelyard worker', or 'modelyard version scan' locally)"
        )
    return f"running (attempt {found.attempts})"


def scan_json(found: VersionScan | None) -> dict[str, Any] | None:
    return None if found is None else found.to_dict()


def print_scan(found: VersionScan) -> None:
    print_pairs(
        [
            ("reference", found.reference),
            ("scan", f"{found.id} ({found.reason}, requested by {found.requested_by})"),
            ("status", found.status),
            ("verdict", found.verdict or ""),
            ("scanner", found.scanner or ""),
        ]
    )
    if found.files:
        console.print()
        print_rows(
            ["path", "kind", "status", "findings"],
            [(f.path, f.kind, f.status, ", ".join(f.findings) or f.detail) for f in found.files],
        )


def _counts(found: VersionScan) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in found.files:
        counts[f.status] = counts.get(f.status, 0) + 1
    return dict(sorted(counts.items()))


VERSION_COMMANDS = [scan]
