"""The settings documentation matches ``Settings``: the table in docs/concepts.md lists
exactly its fields, docs/cli.md's environment table names every variable, and the example
config file in docs/cli.md is one the loader accepts."""

from __future__ import annotations

import re
from pathlib import Path

from modelyard.config import Settings, load_settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
FIELDS = set(Settings.__dataclass_fields__)


def table_first_column(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1].strip())
    return rows


def test_the_settings_table_lists_exactly_the_settings() -> None:
    rows = table_first_column((DOCS / "concepts.md").read_text(), "| setting | environment |")
    names = [row.strip("`") for row in rows]
    assert len(names) == len(set(names)), "a setting is listed twice"
    assert set(names) == FIELDS, (
        f"undocumented: {sorted(FIELDS - set(names))}; not settings: {sorted(set(names) - FIELDS)}"
    )


def test_the_environment_table_names_every_variable() -> None:
    rows = table_first_column((DOCS / "cli.md").read_text(), "| variable | flag | meaning |")
    documented = {v for row in rows for v in re.findall(r"`(MODELYARD_[A-Z0-9_]+)`", row)}
    missing = {f"MODELYARD_{name.upper()}" for name in FIELDS} - documented
    assert not missing, f"docs/cli.md's environment table lacks {sorted(missing)}"
    assert "MODELYARD_CONFIG" in documented


def test_the_example_config_file_loads(tmp_path: Path) -> None:
    cli_md = (DOCS / "cli.md").read_text()
    examples = re.findall(r"^```toml\n(.*?)^```", cli_md, re.M | re.S)
    assert examples, "docs/cli.md has no example config file"
    for example in examples:
        file = tmp_path / "modelyard.toml"
        file.write_text(example)
        loaded = load_settings({}, config_file=file)
        from_file = {name for name, origin in loaded.origins.items() if origin == str(file)}
        keys = set(re.findall(r"^(\w+) =", example, re.M))
        assert from_file == keys
        assert loaded.settings.key_file == tmp_path / "blob-keys.json"  # relative to the file
