"""The user docs stay true: every command is documented, every example works.

- docs/cli.md shows every command's real ``--help`` (``tests/cli_help.py`` regenerates them),
  and its ``console`` examples run, in order, against a fresh store with the exit codes they
  show;
- every filter and order-by in docs/search.md parses and runs against a real registry, and the
  documented results and error messages are the real ones;
- docs/concepts.md names every audit action the services emit, every setting, every Registry
  method and the exit code of every error class, and its Python example runs;
- docs/events.md catalogues every event type the services emit with a real example payload, its
  example patterns select exactly the examples it says, its SageMaker example is what the
  mapping produces, and its webhook verification snippet accepts what the worker signs.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shlex
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
import yaml
from click.testing import CliRunner
from fastapi.routing import APIRoute

import modelyard.errors
from modelyard import Dataset, Lineage, ModelyardError, Registry, ValidationError
from modelyard.api.routes_pipelines import router as pipeline_router
from modelyard.cli.errors import exit_code_for
from modelyard.cli.ops import QUICKSTART
from modelyard.config import Settings
from modelyard.domain.access import DEFAULT_PROTECTED_ALIASES
from modelyard.domain.default_pipeline import DEFAULT_PIPELINE_NAME, DEFAULT_RELEASE_PIPELINE
from modelyard.domain.delivery import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    HEADER_TYPE,
    Message,
    backoff,
    sign,
)
from modelyard.domain.gates import compile_condition
from modelyard.domain.patterns import compile_pattern
from modelyard.domain.pipeline_spec import (
    ACTIONS,
    GATE_ROOTS,
    PLACEHOLDERS,
    PipelineError,
    parse_pipeline,
)
from modelyard.domain.rules import parse_rule
from modelyard.domain.sagemaker_events import to_sagemaker
from modelyard.domain.search import parse_filter, parse_order_by
from modelyard.domain.targets import parse_duration, parse_target
from modelyard.server import cli
from modelyard.worker.actions import ACTIONS as WORKER_ACTIONS
from modelyard.worker.senders import WebhookSender
from tests import cli_help
from tests.signers import cli_sign, ec_keypair

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SERVICES = ROOT / "src" / "modelyard" / "services"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def fenced_blocks(text: str, info: str) -> list[str]:
    """The bodies of the fenced code blocks whose info string is exactly ``info``."""
    return re.findall(rf"^```{re.escape(info)}[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S)


def block_lines(text: str, info: str) -> list[str]:
    return [
        line.strip()
        for block in fenced_blocks(text, info)
        for line in block.splitlines()
        if line.strip()
    ]


def table_rows(text: str, header: str) -> list[list[str]]:
    """Cells of the markdown table whose header row starts with ``header``, code spans unwrapped."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(header)]
    assert starts, f"no table with header {header!r}"
    rows = []
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows.append([c[1:-1] if c.startswith("`") and c.count("`") == 2 else c for c in cells])
    return rows


def no_modelyard_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MODELYARD_"):
            monkeypatch.delenv(name)


# ---------------------------------------------------------------- docs/cli.md


COMMANDS = list(cli_help.commands())


def test_the_walk_finds_nested_commands() -> None:
    paths = {p for p, _ in COMMANDS}
    assert {("version", "register"), ("alias", "set"), ("audit", "log"), ("init",)} <= paths


def test_the_documented_form_of_a_help_is_the_help_minus_description_and_help_line() -> None:
    shown = cli_help.documented_form(
        "Usage: modelyard g c [OPTIONS] NAME\n\n  Create it.\n\n  More prose.\n\n"
        "Options:\n  --tag KEY=VALUE  A tag\n                   (repeatable).\n"
        "  -h, --help       Show this message and exit.\n"
    )
    assert shown == (
        "Usage: modelyard g c [OPTIONS] NAME\n\n"
        "Options:\n  --tag KEY=VALUE  A tag\n                   (repeatable).\n"
    )
    group = "Usage: modelyard g [OPTIONS] COMMAND [ARGS]...\n\n  Groups.\n\nOptions:\n"
    group += "  -h, --help  Show this message and exit.\n\nCommands:\n  c  Create it.\n"
    assert cli_help.documented_form(group) == (
        "Usage: modelyard g [OPTIONS] COMMAND [ARGS]...\n\nCommands:\n  c  Create it.\n"
    )


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[cli_help.name_of(p) for p, _ in COMMANDS]
)
def test_every_help_in_cli_md_is_the_real_one(
    path: tuple[str, ...], command: click.Command
) -> None:
    """Each command has a section in cli.md whose help block is what ``--help`` prints (at 80
    columns, without the description and the ``-h, --help`` line)."""
    name = cli_help.name_of(path)
    found = cli_help.section(read("cli.md"), path)
    assert found, f"docs/cli.md has no section '### `{name}`'"
    blocks = cli_help.help_blocks(found.group(1))
    assert len(blocks) == 1, f"the section of {name} has {len(blocks)} help blocks, not 1"
    expected = cli_help.documented_form(cli_help.real_help(path))
    assert blocks[0] == expected, (
        f"the help of {name} in docs/cli.md is not the real one; "
        "regenerate it with: .venv/bin/python -m tests.cli_help"
    )


def test_every_help_block_and_command_heading_in_cli_md_is_a_real_command() -> None:
    """No help of a command that was removed or renamed stays behind."""
    text = read("cli.md")
    names = {cli_help.name_of(path) for path, _ in COMMANDS}
    headings = re.findall(r"^#{2,3} `(modelyard[^`]*)`$", text, re.M)
    assert set(headings) <= names, f"sections for no command: {sorted(set(headings) - names)}"
    assert len(headings) == len(set(headings)), "a command has two sections"
    usages = [b.splitlines()[0] for b in cli_help.help_blocks(text)]
    assert len(usages) == len(names), "every help block is in its command's section"


def test_command_options_have_no_environment_twins() -> None:
    """Only the settings documented in the environment table are read from the environment."""
    for path, command in COMMANDS:
        for param in command.params:
            assert getattr(param, "envvar", None) is None, (path, param.name)
    assert cli.context_settings.get("auto_envvar_prefix") is None


def console_commands(text: str) -> list[tuple[str, int, list[str]]]:
    """``$ modelyard …`` lines of ``console`` blocks (continuations joined), the exit code they
    show (``# exit N``, else 0) and the ``error:``/``more:`` lines of their shown output."""
    commands: list[tuple[str, int, list[str]]] = []
    for block in fenced_blocks(text, "console"):
        lines = iter(block.splitlines())
        for line in lines:
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\"):
                    command = command[:-1] + next(lines).strip()
                expected = re.search(r"#\s*exit (\d+)", command)
                commands.append((command, int(expected.group(1)) if expected else 0, []))
            elif line.startswith(("error: ", "more: ")) and commands:
                commands[-1][2].append(line)
    return commands


#: ``MODELYARD_ACTOR=reviewer modelyard …``: a variable set for one command, as a shell would
ASSIGNMENT = re.compile(r"(MODELYARD_[A-Z_]+)=(.*)")


def run_console_examples(text: str, home: Path) -> list[tuple[str, ...]]:
    """Run the examples with the CLI in-process; returns the command paths they used."""
    runner = CliRunner()
    used = []
    for command, expected, shown in console_commands(text):
        args = shlex.split(command, comments=True)
        env = {"MODELYARD_HOME": str(home)}
        while args and (assignment := ASSIGNMENT.fullmatch(args[0])):
            env[assignment.group(1)] = assignment.group(2)
            args = args[1:]
        assert args[0] == "modelyard", command
        result = runner.invoke(cli, args[1:], env=env, catch_exceptions=False)
        assert result.exit_code == expected, f"{command}\n{result.output}"
        for line in shown:
            assert line in result.output.splitlines(), f"{command}: {line!r} not printed"
        used.append(tuple(args[1:3]))
    return used


#: commands that never return; tests/cli/test_server_cli.py runs them as processes instead
RUNS_UNTIL_STOPPED = {("server",), ("worker",)}


def example_event(text: str) -> str:
    """The event that docs/cli.md says ``event.json`` holds (the ``rule test`` examples)."""
    (block,) = [b for b in fenced_blocks(text, "json") if '"specversion"' in b]
    return block


def pipeline_files(text: str) -> dict[str, str]:
    """The pipeline files the ``pipeline apply`` examples use: ``yaml`` blocks whose first
    line is ``# NAME.yaml``."""
    files = {}
    for block in fenced_blocks(text, "yaml"):
        named = re.match(r"# ([\w.-]+\.yaml)\n", block)
        if named:
            files[named.group(1)] = block
    return files


def test_cli_md_examples_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_modelyard_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model_dir").mkdir()
    # pickles with safe contents, so the scan finds them clean (production needs that)
    (tmp_path / "model_dir" / "model.bin").write_bytes(pickle.dumps({"weights": [1]}))
    (tmp_path / "model_dir_v2").mkdir()
    (tmp_path / "model_dir_v2" / "model.bin").write_bytes(pickle.dumps({"weights": [2]}))
    (tmp_path / "model_dir_v2" / "config.json").write_text('{"max_depth": 8}\n')
    alice_priv, _ = ec_keypair(tmp_path, "alice")  # alice.priv, alice.pub
    cli_sign(tmp_path / "model_dir", alice_priv, tmp_path / "model.sig")  # the real model_signing
    (tmp_path / "card.md").write_text("# fraud-detector\n")
    (tmp_path / "webhook-secret.txt").write_text("whsec-4f9b2c7e1a8d6035b2e9c4a1\n")
    (tmp_path / "event.json").write_text(example_event(read("cli.md")))
    for name, document in pipeline_files(read("cli.md")).items():
        (tmp_path / name).write_text(document)
    used = run_console_examples(read("cli.md"), tmp_path / ".modelyard")
    for path, command in COMMANDS:
        if path in RUNS_UNTIL_STOPPED:
            continue
        if path and not isinstance(command, click.Group):
            assert any(u[: len(path)] == path for u in used), f"no example for {path}"


# ---------------------------------------------------------------- docs/search.md


def build_example_registry(home: Path) -> Registry:
    """The example data described in docs/search.md ("Example data")."""
    registry = Registry.open(home / "store")

    def artifact(name: str) -> Path:
        directory = home / "artifacts" / name
        directory.mkdir(parents=True)
        (directory / "model.bin").write_bytes(pickle.dumps(name))  # scans clean
        return directory

    registry.create_group(
        "fraud-detector", tags={"team": "risk", "tier": "1"}, allow_self_approval=True
    )
    registry.create_group("churn-model", tags={"team": "growth"}, allow_self_approval=True)
    registry.register_version(
        "fraud-detector",
        artifact("f1"),
        metrics={"auc": 0.91, "f1": 0.80},
        params={"lr": "0.01", "max_depth": "6"},
        framework="sklearn==1.5.2",
        tags={"stage": "candidate"},
        metadata={"owner": "alice"},
        description="baseline logistic regression",
        lineage=Lineage(datasets=(Dataset("train", "s3://data/fraud/train.parquet"),)),
    )
    registry.register_version(
        "fraud-detector",
        artifact("f2"),
        metrics={"auc": 0.93, "f1": 0.82},
        params={"lr": "0.005", "max_depth": "8"},
        framework="xgboost==2.1.1",
        tags={"team": "platform"},
        lineage=Lineage(parents=("fraud-detector/1",)),
    )
    registry.register_version(
        "fraud-detector", artifact("f3"), metrics={"recall": 0.70}, framework="xgboost==2.1.1"
    )
    registry.register_version(
        "churn-model",
        artifact("c1"),
        metrics={"auc": 0.88},
        params={"lr": "0.1"},
        framework="lightgbm==4.5.0",
    )
    registry.register_version(
        "churn-model", artifact("c2"), metrics={"auc": 0.93, "f1": 0.61}, metadata={"owner": "bob"}
    )
    registry.approve_version("fraud-detector/2", comment="offline eval passed")
    registry.reject_version("fraud-detector/3", comment="no auc")
    registry.approve_version("churn-model/2")
    registry.set_alias("fraud-detector", "champion", 2)
    registry.set_alias("fraud-detector", "challenger", 3)
    registry.approve_version("churn-model/1")  # production requires Approved
    registry.scan_version("churn-model/1")  # … and a clean scan (a worker's job, normally)
    registry.set_alias("churn-model", "production", 1)
    registry.set_alias("churn-model", "champion", 2)
    return registry


@pytest.fixture(scope="module")
def example_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("search-docs")
    build_example_registry(home).close()
    return home / "store"


@pytest.fixture(scope="module")
def example(example_home: Path) -> Iterator[Registry]:
    registry = Registry.open(example_home)
    yield registry
    registry.close()


def refs(registry: Registry, filter: str | None, order_by: str | None = None) -> list[str]:
    return [v.reference for v in registry.search_versions(filter, order_by=order_by).items]


def parse_refs(cell: str) -> list[str]:
    return [] if cell == "(none)" else [r.strip() for r in cell.split(",")]


def given(cell: str) -> str | None:
    """A table cell holding a filter or an order; ``—`` means none given."""
    return None if cell == "—" else cell


SEARCH = read("search.md")
FILTERS = block_lines(SEARCH, "filter")
ORDERS = block_lines(SEARCH, "order-by")


def test_search_md_has_examples() -> None:
    assert len(FILTERS) >= 20
    assert len(ORDERS) >= 3


@pytest.mark.parametrize("text", FILTERS)
def test_every_filter_example_parses_and_runs(example: Registry, text: str) -> None:
    assert parse_filter(text) is not None
    example.search_versions(text, limit=5)


@pytest.mark.parametrize("text", ORDERS)
def test_every_order_by_example_parses_and_runs(example: Registry, text: str) -> None:
    assert parse_order_by(text)
    example.search_versions(None, order_by=text, limit=5)


def test_documented_matches_are_the_real_ones(example: Registry) -> None:
    rows = table_rows(SEARCH, "| filter | matches |")
    assert len(rows) >= 10
    for filter, expected in rows:
        assert refs(example, filter) == parse_refs(expected), filter


def test_documented_orders_are_the_real_ones(example: Registry) -> None:
    rows = table_rows(SEARCH, "| order by | filter | matches, in order |")
    assert len(rows) >= 3
    for order_by, filter, expected in rows:
        assert refs(example, given(filter), given(order_by)) == parse_refs(expected), order_by


@pytest.mark.parametrize(
    ("header", "argument"),
    [("| filter | error |", "filter"), ("| order by | error |", "order_by")],
)
def test_documented_errors_are_the_real_ones(example: Registry, header: str, argument: str) -> None:
    rows = table_rows(SEARCH, header)
    assert len(rows) >= 4
    for text, message in rows:
        with pytest.raises(ValidationError) as raised:
            if argument == "filter":
                example.search_versions(text)
            else:
                example.search_versions(None, order_by=text)
        assert str(raised.value) == message.replace("\\|", "|")


def test_cursor_example_pages_through_the_same_query(example: Registry) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = example.search_versions(
            "metrics.auc >= 0.8", order_by="metrics.auc desc", limit=2, cursor=cursor
        )
        seen += [v.reference for v in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == refs(example, "metrics.auc >= 0.8", "metrics.auc desc")
    first = example.search_versions("metrics.auc >= 0.8", limit=1).next_cursor
    with pytest.raises(ValidationError, match="belongs to a different query"):
        example.search_versions("metrics.auc >= 0.9", limit=1, cursor=first)
    assert "belongs to a different query" in SEARCH


def test_search_md_console_examples_run(
    example_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_modelyard_env(monkeypatch)
    assert len(run_console_examples(SEARCH, example_home)) >= 3


# ---------------------------------------------------------------- docs/concepts.md

CONCEPTS = read("concepts.md")


def emitted(keyword: str) -> set[str]:
    """``keyword="…"`` literals in the services, plus the pairs of an
    ``event_type = {"action": "event type", …}`` map (``AccessService._record_access``):
    its keys are audit actions, its values event types."""
    # ``event_type="a"`` or ``event_type="a" if … else "b"`` (not the condition's own strings)
    pattern = re.compile(rf'\b{keyword}="([a-z_.]+)"(?: if [^\n]*? else "([a-z_.]+)")?')
    found = {
        literal
        for path in SERVICES.rglob("*.py")
        for pair in pattern.findall(path.read_text())
        for literal in pair
        if literal
    }
    for path in SERVICES.rglob("*.py"):
        for body in re.findall(r"\bevent_type = \{(.*?)\}", path.read_text(), re.S):
            for action, event_type in re.findall(r'"([a-z_.]+)": "([a-z_.]+)"', body):
                found.add(action if keyword == "action" else event_type)
    return found


def test_the_grep_for_emitted_names_reads_conditionals() -> None:
    types = emitted("event_type")
    assert {"version.created", "alias.set", "token.created"} <= types
    assert {"version.tagged", "version.updated"} <= types  # "a" if name == "tags" else "b"
    assert "tags" not in types  # … but not the string the condition compares with


def test_every_audit_action_is_in_concepts_md() -> None:
    actions = emitted("action")
    assert {"version.decide", "access.grant"} <= actions
    missing = [a for a in sorted(actions) if f"`{a}`" not in CONCEPTS]
    assert not missing, f"undocumented audit actions: {missing}"


def test_every_setting_and_its_env_twin_is_in_concepts_md() -> None:
    rows = {row[0]: row for row in table_rows(CONCEPTS, "| setting | environment |")}
    for name in Settings.__dataclass_fields__:
        assert name in rows, f"setting {name} is undocumented"
        assert rows[name][1] == f"MODELYARD_{name.upper()}"


def test_every_registry_method_is_in_concepts_md() -> None:
    methods = [n for n in dir(Registry) if not n.startswith("_") and callable(getattr(Registry, n))]
    missing = [m for m in methods if f"`{m}" not in CONCEPTS and f"{m}(" not in CONCEPTS]
    assert not missing, f"Registry methods missing from concepts.md: {missing}"


def test_exit_code_table_matches_the_cli() -> None:
    rows = table_rows(CONCEPTS, "| exit | errors |")
    documented: dict[str, int] = {}
    for row in rows:
        for name in re.findall(r"\b\w+Error\b", row[1]):
            documented[name] = int(row[0])
    classes = [
        c
        for c in vars(modelyard.errors).values()
        if isinstance(c, type) and issubclass(c, ModelyardError)
    ]
    assert len(classes) >= 9
    for error_class in classes:
        name = error_class.__name__
        assert name in documented, f"{name} is not in the exit code table"
        assert documented[name] == exit_code_for(error_class("x")), name


def test_concepts_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    no_modelyard_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    examples = [b for b in fenced_blocks(CONCEPTS, "python") if "Registry.open" in b]
    assert len(examples) == 1
    exec(compile(examples[0], "concepts.md", "exec"), {})
    with Registry.open(tmp_path / ".modelyard") as registry:
        assert registry.get_version("fraud-detector@champion").number == 1


def test_concepts_manifest_digest_recipe_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = {"model.bin": b"w", "a/b.txt": b"b", "a.txt": b"a", "a-b/c": b"c", "Z": b"z"}
    for name, content in files.items():
        (tmp_path / "model_dir" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "model_dir" / name).write_bytes(content)
    recipe = next(b for b in fenced_blocks(CONCEPTS, "python") if "hashlib" in b)
    printed: list[str] = []
    exec(compile(recipe, "concepts.md", "exec"), {"print": printed.append})
    with Registry.open(tmp_path / "store") as registry:
        registry.create_group("g")
        assert printed == [registry.register_version("g", tmp_path / "model_dir").manifest_digest]


# ---------------------------------------------------------------- docs/events.md

EVENTS = read("events.md")
CATALOGUE = table_rows(EVENTS, "| type | subject |")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    found = re.search(
        rf"^{re.escape(heading)}\n(.*?)(?=^#{{1,{len(level)}}} |\Z)", text, re.M | re.S
    )
    assert found, f"no section {heading!r}"
    return found.group(1)


def code_spans(cell: str) -> list[str]:
    """The code spans of a table cell (``table_rows`` already unwrapped a lone one)."""
    spans = re.findall(r"`([^`]+)`", cell)
    return spans if spans or cell == "(none)" else [cell]


def example_payloads() -> dict[str, dict[str, Any]]:
    """The events under "Example payloads", by type (one each)."""
    examples = section(EVENTS, "### Example payloads")
    payloads = [json.loads(block) for block in fenced_blocks(examples, "json")]
    by_type = {payload["type"]: payload for payload in payloads}
    assert len(by_type) == len(payloads), "one example payload per event type"
    return by_type


def test_every_event_type_is_in_events_md() -> None:
    types = emitted("event_type")
    assert {"version.created", "alias.set", "token.created", "rule.created"} <= types
    documented = {row[0] for row in CATALOGUE}
    assert types <= documented, f"undocumented event types: {sorted(types - documented)}"
    assert documented <= types, f"documented but never emitted: {sorted(documented - types)}"
    # events.md is the one catalogue; concepts.md points at it
    assert "(events.md#event-catalogue)" in CONCEPTS
    assert "| type | subject |" not in CONCEPTS


def test_every_event_type_has_an_example_payload() -> None:
    examples = example_payloads()
    assert set(examples) == {row[0] for row in CATALOGUE}
    envelope = {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}

    def shape(subject: str) -> str:  # fraud-detector/1 → x/x, rule:* → x:*
        return re.sub(r"[A-Za-z0-9_-]+", "x", subject)

    for kind, subject_cell, *_ in CATALOGUE:
        event = examples[kind]
        assert set(event) == envelope, kind
        assert (event["specversion"], event["source"]) == ("1.0", "modelyard"), kind
        assert "group" in event["data"], kind
        shown = {shape(s) for s in code_spans(subject_cell)}
        assert shape(event["subject"]) in shown, (kind, event["subject"])
    # the envelope section shows the approval of the catalogue
    (envelope_example,) = fenced_blocks(section(EVENTS, "## The event envelope"), "json")
    assert json.loads(envelope_example) == examples["version.approval_changed"]


def test_events_md_patterns_select_the_examples_they_say() -> None:
    examples = example_payloads()
    rows = table_rows(EVENTS, "| pattern | selects |")
    assert len(rows) >= 8
    for pattern, _, expected in rows:
        compiled = compile_pattern(pattern)
        matched = {kind for kind, event in examples.items() if compiled.matches(event)}
        assert matched == set(code_spans(expected)), pattern
    for row in table_rows(EVENTS, "| matcher | matches |"):
        for matcher in code_spans(row[0]):
            compile_pattern({"field": [json.loads(matcher)]})


def test_events_md_sagemaker_example_is_the_mapping() -> None:
    shaped = section(EVENTS, "## SageMaker-shaped events")
    (rendered,) = [json.loads(b) for b in fenced_blocks(shaped, "json")]
    approval = example_payloads()["version.approval_changed"]
    defaults = Settings()
    expected = to_sagemaker(
        approval, account=defaults.sagemaker_account, region=defaults.sagemaker_region
    )
    assert rendered == expected
    (command,) = fenced_blocks(shaped, "sh")
    found = re.search(r"--pattern '(.*?)'", command, re.S)
    assert found
    canonical = compile_pattern(json.loads(found.group(1)))
    assert canonical.matches(rendered)


def test_events_md_rule_spec_and_defaults_are_real() -> None:
    (spec,) = [
        json.loads(b) for b in fenced_blocks(section(EVENTS, "## Rules"), "json") if "targets" in b
    ]
    rule = parse_rule(**spec)
    assert rule.name == spec["name"]
    log_target = parse_target({"type": "log"})
    defaults = {row[0]: row[1] for row in table_rows(EVENTS, "| field | default | allowed |")}
    assert float(defaults["timeout"]) == log_target.timeout
    assert int(defaults["max_attempts"]) == log_target.max_attempts
    assert parse_duration(defaults["max_age"], field="max_age") == log_target.max_age
    settings = {row[0]: row for row in table_rows(EVENTS, "| setting | environment | default |")}
    for name in ("embedded_worker", "delivery_threads", "event_retention"):
        assert settings[name][1] == f"MODELYARD_{name.upper()}"
        assert settings[name][2] == str(getattr(Settings(), name)).lower()
    for name in ("sagemaker_account", "sagemaker_region"):
        assert settings[name][2] == getattr(Settings(), name)


def test_events_md_backoff_table_is_the_schedule() -> None:
    (waits,) = table_rows(EVENTS, "| after failed attempt |")
    assert waits[0] == "wait (seconds)"
    for attempt, cell in enumerate(waits[1:], start=1):
        low, high = (float(x) for x in cell.split("\u2013"))
        assert backoff(attempt, 0.0).total_seconds() == low, attempt
        assert backoff(attempt, 1.0).total_seconds() == high, attempt


class _Receiver(BaseHTTPRequestHandler):
    """Records the webhook requests it gets (headers and raw body) and answers 204."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def signed_request(secret: str, body: bytes, at: float) -> tuple[dict[str, str], bytes]:
    """What the worker's webhook sender sends, as the receiver sees it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sender = WebhookSender(now=lambda: at)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/modelyard"
        target = parse_target({"type": "webhook", "url": url, "secret": secret})
        message = Message(
            event_id="d7c7950c-0492-445a-8030-c05a716397d7",
            event_type="version.approval_changed",
            group="fraud-detector",
            body=body,
        )
        _Receiver.received.clear()
        assert sender.send(target, message).ok
    finally:
        sender.close()
        server.shutdown()
        server.server_close()
    (request,) = _Receiver.received
    return request


def test_signature_snippet_in_events_md_verifies() -> None:
    (snippet,) = [b for b in fenced_blocks(EVENTS, "python") if "def verify(" in b]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "events.md", "exec"), namespace)
    verify = namespace["verify"]

    secret = "whsec-4f9b2c7e1a8d6035b2e9c4a1"
    body = b'{"specversion":"1.0","id":"d7c7950c-0492-445a-8030-c05a716397d7"}'
    now = time.time()
    headers, received = signed_request(secret, body, now)
    assert received == body
    assert headers[HEADER_SIGNATURE] == sign(
        secret, headers[HEADER_ID], int(headers[HEADER_TIMESTAMP]), body
    )
    assert headers[HEADER_TYPE] == "version.approval_changed"

    assert verify(secret, headers, body, now=now) is True
    assert verify(secret, headers, body) is True  # the real clock
    assert verify(secret, {k.upper(): v for k, v in headers.items()}, body, now=now) is True
    assert verify(secret, headers, body + b" ", now=now) is False  # tampered body
    assert verify(secret, headers, body.replace(b"d7c7", b"d7c8"), now=now) is False
    assert verify("not-the-right-secret", headers, body, now=now) is False
    assert verify(secret, headers, body, now=now + 301) is False  # stale
    assert verify(secret, headers, body, now=now - 301) is False  # from the future
    assert verify(secret, headers, body, now=now + 299) is True  # within 5 minutes
    assert verify(secret, {**headers, HEADER_ID: "another-event"}, body, now=now) is False
    unsigned = {k: v for k, v in headers.items() if k.lower() != HEADER_SIGNATURE.lower()}
    assert verify(secret, unsigned, body, now=now) is False


def test_events_md_examples_that_run_live_in_cli_md() -> None:
    """events.md is prose and reference; its shell lines are ``sh`` (not run), so that every
    ``console`` example is one tests run (in docs/cli.md)."""
    assert not fenced_blocks(EVENTS, "console")
    assert "(events.md)" in read("cli.md")


# ---------------------------------------------------------------- docs/pipelines.md

PIPELINES = read("pipelines.md")
#: the environments every store has (what ``parse_pipeline`` gets on a fresh store)
ENVIRONMENTS = frozenset(DEFAULT_PROTECTED_ALIASES)


def test_pipelines_md_examples_run_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quickstart: what ``modelyard init`` prints, run as it says."""
    no_modelyard_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model_dir").mkdir()
    # what the quickstart's python line writes
    (tmp_path / "model_dir" / "model.pkl").write_bytes(pickle.dumps({"weights": [0.12, -0.4]}))
    used = run_console_examples(PIPELINES, tmp_path / ".modelyard")
    assert {("init",), ("pipeline", "run"), ("worker", "--once"), ("approvals", "approve")} <= {
        u[:2] if len(u) > 1 else u for u in used
    }
    with Registry.open(tmp_path / ".modelyard") as registry:
        assert registry.get_run(1)["status"] == "succeeded"
        assert registry.get_version("fraud-detector@production").approval_status.value == (
            "Approved"
        )


def test_the_quickstart_init_prints_is_the_one_pipelines_md_runs() -> None:
    printed = [
        line.split("  #")[0].strip()
        for line in QUICKSTART.splitlines()
        if line.startswith(("  modelyard ", "  MODELYARD_ACTOR="))
    ]
    assert len(printed) >= 8
    documented = [command for command, _, _ in console_commands(PIPELINES)]
    for command in printed:
        for part in command.split(" && "):
            assert any(part in shown for shown in documented), part


def yaml_examples(text: str) -> list[Any]:
    return [yaml.safe_load(block) for block in fenced_blocks(text, "yaml")]


def test_pipelines_md_yaml_examples_are_valid() -> None:
    """Whole pipelines parse; ``when:`` and ``trigger:`` fragments compile."""
    blocks = fenced_blocks(PIPELINES, "yaml")
    assert len(blocks) >= 4
    kinds = set()
    for block in blocks:
        document = yaml.safe_load(block)
        if "stages" in document:
            parse_pipeline(block, environments=ENVIRONMENTS)
            kinds.add("pipeline")
        elif set(document) == {"when"}:
            for source in document["when"]:
                compile_condition(source, roots={*GATE_ROOTS, *ENVIRONMENTS})
            kinds.add("when")
        else:
            assert set(document) == {"trigger"}, block
            compile_pattern(document["trigger"])
            kinds.add("trigger")
    assert kinds == {"pipeline", "when", "trigger"}


def test_the_default_pipeline_in_pipelines_md_is_the_real_one() -> None:
    (shown,) = [b for b in fenced_blocks(PIPELINES, "yaml") if "created by `modelyard init`" in b]
    assert shown == DEFAULT_RELEASE_PIPELINE
    assert parse_pipeline(shown, environments=ENVIRONMENTS).name == DEFAULT_PIPELINE_NAME


def test_pipelines_md_invalid_examples_fail_as_shown() -> None:
    pairs = re.findall(
        r"^```yaml invalid\n(.*?)^```\s*?\n\s*^```text\n(.*?)^```", PIPELINES, re.M | re.S
    )
    assert len(pairs) >= 5
    assert len(pairs) == PIPELINES.count("```yaml invalid")
    for document, message in pairs:
        with pytest.raises(PipelineError) as raised:
            parse_pipeline(document, environments=ENVIRONMENTS)
        assert str(raised.value) == message.strip()


def test_pipelines_md_documents_every_action_placeholder_and_route() -> None:
    assert set(ACTIONS) == set(WORKER_ACTIONS)
    for action in ACTIONS:
        assert f"### `{action}`\n" in PIPELINES, f"action {action} has no section"
    for name in PLACEHOLDERS:
        assert f"`{{{name}}}`" in PIPELINES, f"placeholder {name} is undocumented"
    for route in pipeline_router.routes:
        assert isinstance(route, APIRoute)
        path = route.path.removeprefix("/api/v1")
        for method in route.methods:
            assert f"`{method} {path}" in PIPELINES, f"{method} {path} is undocumented"


def test_pipelines_md_retry_semantics_are_the_actions_own() -> None:
    rows = table_rows(PIPELINES, "| action | idempotent | on resume |")
    assert [row[0] for row in rows] == list(ACTIONS)
    for action, idempotent, _ in rows:
        module = WORKER_ACTIONS[action]
        if idempotent.startswith("yes"):
            assert module.idempotent({}) is True, action
        else:
            assert idempotent.startswith("per `idempotent:`"), action
            assert module.idempotent({"idempotent": True}) is True
            assert module.idempotent({"idempotent": False}) is False


#: the least each action needs; everything else takes its default
MINIMAL_STAGES = {
    "validate": {},
    "scan": {},
    "command": {"run": "true"},
    "gate": {"when": "true"},
    "approval": {},
    "deploy": {"environment": "staging"},
    "notify": {"type": "custom.done"},
}


def documented_default(cell: str) -> tuple[bool, Any]:
    """A default cell as a value (False when it names no single value: none, —)."""
    if not cell or cell.startswith(("none", "—")):
        return False, None
    if re.fullmatch(r"\d+[smhdw]", cell):
        return True, parse_duration(cell, field="default").total_seconds()
    return True, yaml.safe_load(cell)


def test_pipelines_md_defaults_are_the_real_ones() -> None:
    rows = table_rows(PIPELINES, "| action | key | default | allowed |")
    checked = 0
    action = ""
    for first, key, default, _ in rows:
        action = first.strip("`") or action
        assert action in ACTIONS, first
        known, value = documented_default(default)
        if not known:
            continue
        stage = {"name": "s", "uses": action, **MINIMAL_STAGES[action]}
        (parsed,) = parse_pipeline(
            json.dumps({"name": "p", "stages": [stage]}), environments=ENVIRONMENTS
        ).stages
        found: Any = parsed.config
        for step in key.strip("`").split("."):
            found = found[step]
        assert found == value, (action, key)
        checked += 1
    assert checked >= 10


def test_pipelines_md_lists_every_pipeline_event_and_audit_action() -> None:
    prefixes = ("pipeline.", "approval.")
    events = {t for t in emitted("event_type") if t.startswith(prefixes)}
    actions = {a for a in emitted("action") if a.startswith(prefixes)}
    assert len(events) >= 6 and len(actions) >= 9
    for name in sorted(events | actions):
        assert f"`{name}`" in PIPELINES, f"{name} is not in pipelines.md"
