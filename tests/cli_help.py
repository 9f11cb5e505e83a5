"""The ``--help`` blocks of docs/cli.md, generated from the real CLI.

Each ``### `modelyard …``` section of docs/cli.md shows its command's ``--help`` output in a
``text`` block starting with ``Usage: modelyard``, as an 80-column terminal prints it, minus
the description (the section's prose says it) and the ``-h, --help`` line (every command has
it). ``tests/test_docs.py`` checks every block against the real CLI; after changing a command,
rewrite the blocks with::

    .venv/bin/python -m tests.cli_help
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from modelyard.server import cli

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
#: ``shutil.get_terminal_size`` reads it: click then wraps help at 78 characters, as it does
#: on any terminal at least 80 columns wide
COLUMNS = "80"
#: a heading of click's help output: ``Options:``, ``Commands:``
_HEADING = re.compile(r"^[A-Z][A-Za-z ]*:$")
_BLOCK = re.compile(r"^```text\n(Usage: modelyard.*?)^```[ \t]*$", re.M | re.S)


def commands(
    command: click.Command = cli, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command of the CLI with its path (``()`` for the root), groups included, through
    click's own listing (so lazily loaded subcommands are found too)."""
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from commands(sub, (*path, name))


def name_of(path: tuple[str, ...]) -> str:
    return " ".join(("modelyard", *path))


def real_help(path: tuple[str, ...]) -> str:
    """What ``modelyard PATH --help`` prints on an 80-column terminal."""
    result = CliRunner(env={"COLUMNS": COLUMNS}).invoke(
        cli, [*path, "--help"], prog_name="modelyard"
    )
    assert result.exit_code == 0, result.output
    return result.output


def documented_form(help_text: str) -> str:
    """``help_text`` as cli.md shows it: the usage, then each section (``Options:``,
    ``Commands:``) without the ``-h, --help`` line; a section left empty is dropped."""
    lines = help_text.rstrip("\n").splitlines()
    end_of_usage = lines.index("") if "" in lines else len(lines)
    sections: list[list[str]] = []
    for line in lines[end_of_usage:]:
        if _HEADING.match(line):
            sections.append([line])
        elif sections and line and not line.lstrip().startswith("-h, --help"):
            sections[-1].append(line)
    parts = ["\n".join(lines[:end_of_usage])]
    parts += ["\n".join(section) for section in sections if len(section) > 1]
    return "\n\n".join(parts) + "\n"


def section(text: str, path: tuple[str, ...]) -> re.Match[str] | None:
    """The ``## `modelyard …``` (or ``###``) section of one command, up to the next heading."""
    return re.search(
        rf"^#{{2,3}} `{re.escape(name_of(path))}`\n(.*?)(?=^#{{1,3}} |\Z)", text, re.M | re.S
    )


def help_blocks(section_text: str) -> list[str]:
    """The bodies of the ``text`` blocks of a section that show a ``--help``."""
    return _BLOCK.findall(section_text)


def rewrite(text: str) -> tuple[str, list[str]]:
    """``text`` (docs/cli.md) with every command's help block regenerated, and the commands
    it could not place (no section, or not exactly one help block in it)."""
    problems = []
    for path, _ in commands():
        found = section(text, path)
        if found is None or len(help_blocks(found.group(1))) != 1:
            problems.append(name_of(path))
            continue
        block = f"```text\n{documented_form(real_help(path))}```"
        body = _BLOCK.sub(lambda _, block=block: block, found.group(1), count=1)
        text = text[: found.start(1)] + body + text[found.end(1) :]
    return text, problems


def main() -> int:
    text, problems = rewrite(CLI_MD.read_text(encoding="utf-8"))
    CLI_MD.write_text(text, encoding="utf-8")
    for name in problems:
        print(
            f"docs/cli.md: add a section '### `{name}`' with its help in a ```text block",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
