"""Printing for the CLI: JSON for machines, rich tables for people, errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Piped output is not cut to 80 columns: scripts and pagers get whole values.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 4096)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    table = Table(*columns, title=title, box=None, header_style="bold", pad_edge=False)
    for column in table.columns:  # headers are plain text too: "rule[target]" is not markup
        column.header = Text(str(column.header))
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    console.print(table)


def print_pairs(pairs: Iterable[tuple[str, Any]]) -> None:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in pairs:
        table.add_row(Text(key), Text("" if value is None else str(value)))
    console.print(table)


def format_map(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"
