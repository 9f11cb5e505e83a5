"""Listings on the command line: ``--limit``, ``--cursor`` and ``--all`` on every list
command, and one way to print a page (a table, or ``--json`` with ``next_cursor``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from modelyard.cli.output import console, print_json
from modelyard.domain.paging import Page

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def paging_options(noun: str, *, limit: int = 100) -> Callable[[F], F]:
    """``--limit N`` (``noun`` per page), ``--cursor C`` (continue a listing) and ``--all``
    (every page, following cursors). The command receives ``limit``, ``cursor`` and
    ``all_pages``."""

    def decorate(command: F) -> F:
        command = click.option(
            "--all",
            "all_pages",
            is_flag=True,
            help=f"Every {noun[:-1] if noun.endswith('s') else noun}: follow the cursors to the "
            "last page.",
        )(command)
        command = click.option(
            "--cursor", help="Continue after the previous page (its next_cursor)."
        )(command)
        return click.option(
            "--limit",
            default=limit,
            show_default=True,
            help=f"{noun.capitalize()} per page (1 to 1000).",
        )(command)

    return decorate


def print_page(
    page: Page[T],
    *,
    all_pages: bool,
    as_json: bool,
    item_json: Callable[[T], Any],
    table: Callable[[Sequence[T]], None],
) -> None:
    """Print one page (or, with ``all_pages``, every page) as a table or JSON; a table is
    followed by ``more: --cursor …`` when there is a next page."""
    items = list(page) if all_pages else page.items
    next_cursor = None if all_pages else page.next_cursor
    if as_json:
        print_json({"items": [item_json(item) for item in items], "next_cursor": next_cursor})
        return
    table(items)
    if next_cursor:
        console.print(f"more: --cursor {next_cursor}")
