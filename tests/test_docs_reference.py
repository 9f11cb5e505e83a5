"""The reference tables of the docs are the code's. In docs/concepts.md: every HTTP operation
is in the route table (and nothing else is), the roles grant what ``ROLE_ACTIONS`` grants,
every action is explained, every public name of ``modelyard`` is named, and so is every
method that only ``Registry`` has. In docs/cli.md: the environment table names every
setting's variable; in docs/events.md, which events have a SageMaker shape. Every source
path the user docs name exists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard import Registry
from modelyard.api import create_app
from modelyard.config import Settings
from modelyard.domain.access import GLOBAL_ACTIONS, ROLE_ACTIONS, Action
from modelyard.domain.sagemaker_events import VERSION_EVENT_TYPES

DOCS = Path(__file__).resolve().parents[1] / "docs"
CONCEPTS = (DOCS / "concepts.md").read_text("utf-8")
METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD"
#: the abbreviations the route table uses
ABBREVIATIONS = {
    "…/{selector}": "/groups/{group}/versions/{selector}",
    "…/{alias}": "/groups/{group}/aliases/{alias}",
    "…/{env}": "/groups/{group}/environments/{env}",
}


def table_cells(heading: str, header: str) -> list[list[str]]:
    """The rows (as cells) of the table with ``header`` under section ``heading``."""
    body = CONCEPTS[CONCEPTS.index(heading) :]
    lines = body[body.index(header) :].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def operations_in(cell: str) -> set[tuple[str, str]]:
    """``(method, path)`` pairs of a cell: ``GET/PATCH /groups/{group}`` is two, and a bare
    ``/path`` after them has the same methods; query strings are dropped."""
    found: set[tuple[str, str]] = set()
    methods: list[str] = []
    for span in re.findall(r"`([^`]+)`", cell):
        named = re.match(rf"^((?:{METHODS})(?:/(?:{METHODS}))*) (\S+)", span)
        if named:
            methods, path = named.group(1).split("/"), named.group(2)
        elif span.startswith("/") and methods:
            path = span
        else:
            continue
        path = path.split("?")[0]
        for short, long in ABBREVIATIONS.items():
            if path.startswith(short):
                path = long + path[len(short) :]
        found |= {(method, path) for method in methods}
    return found


def test_operations_in_reads_the_table_notation() -> None:
    assert operations_in('`GET/PATCH …/{selector}`, `/x?y=`, `POST /a` with `{"b"}`') == {
        ("GET", "/groups/{group}/versions/{selector}"),
        ("PATCH", "/groups/{group}/versions/{selector}"),
        ("GET", "/x"),
        ("PATCH", "/x"),
        ("POST", "/a"),
    }


@pytest.fixture(scope="module")
def api_operations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[tuple[str, str]]]:
    with Registry.open(tmp_path_factory.mktemp("routes")) as registry:
        spec = create_app(registry).openapi()
    yield {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    }


def test_the_route_table_lists_every_operation_of_the_api(
    api_operations: set[tuple[str, str]],
) -> None:
    documented: set[tuple[str, str]] = set()
    for route, _ in table_cells("### The HTTP API", "| route | does |"):
        documented |= operations_in(route)
    assert len(api_operations) >= 80
    assert not api_operations - documented, f"undocumented: {sorted(api_operations - documented)}"
    assert not documented - api_operations, f"no such route: {sorted(documented - api_operations)}"


def test_the_roles_table_is_what_each_role_grants() -> None:
    rows = {
        role.strip("`"): grants
        for role, grants in table_cells("### Roles and actions", "| role | actions it grants")
    }
    reads = ROLE_ACTIONS["viewer"]
    assert set(rows) == set(ROLE_ACTIONS)
    for role, grants in rows.items():
        named = {Action(span) for span in re.findall(r"`([a-z_.]+)`", grants)}
        if grants.startswith("the reads"):
            named |= reads
        if grants.startswith("every action"):
            named = set(Action)
        assert named == set(ROLE_ACTIONS[role]), role


def test_every_action_is_explained_and_the_global_ones_named() -> None:
    explained = {
        Action(span)
        for actions, _ in table_cells("### Roles and actions", "| action | needed to |")
        for span in re.findall(r"`([a-z_.]+)`", actions)
    }
    assert explained == set(Action)
    sentence = re.search(r"^- (`audit\.read`.*?) concern no single group", CONCEPTS, re.M | re.S)
    assert sentence
    assert {Action(span) for span in re.findall(r"`([a-z_.]+)`", sentence.group(1))} == set(
        GLOBAL_ACTIONS
    )


def test_the_cli_environment_table_names_every_setting() -> None:
    text = (DOCS / "cli.md").read_text("utf-8")
    table = text[text.index("## Environment variables") :]
    table = table[: table.index("\n\n", table.index("| variable |"))]
    named = set(re.findall(r"`(MODELYARD_[A-Z0-9_]+)`", table))
    expected = {f"MODELYARD_{name.upper()}" for name in Settings.__dataclass_fields__}
    assert expected - named == set(), f"not in docs/cli.md: {sorted(expected - named)}"
    # Two variables are not settings: the config file's own path, and the debug switch.
    assert named - expected == {"MODELYARD_CONFIG", "MODELYARD_DEBUG"}, sorted(named - expected)


def test_every_public_name_is_in_concepts_md() -> None:
    missing = [
        name
        for name in modelyard.__all__
        if not re.search(rf"`(?:modelyard\.)?{name}[`(.]", CONCEPTS)
    ]
    assert not missing, f"modelyard exports these, concepts.md does not name them: {missing}"


def test_the_methods_only_a_registry_has_are_the_ones_concepts_md_lists() -> None:
    def methods(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}

    sentence = re.search(
        r"except those that only\s+make sense next to the store: (.*?)\.\n", CONCEPTS, re.S
    )
    assert sentence
    listed = set(re.findall(r"`([a-z_]+)`", sentence.group(1)))
    assert listed == methods(Registry) - methods(modelyard.Client)


def test_events_md_names_the_events_that_have_a_sagemaker_shape() -> None:
    events = (DOCS / "events.md").read_text("utf-8")
    found = re.search(
        r"^- Only \*\*version events\*\* have this shape: (.*?) \(not", events, re.M | re.S
    )
    assert found
    assert set(re.findall(r"`([a-z_.]+)`", found.group(1))) == VERSION_EVENT_TYPES


#: files the docs tell you to create
TO_BE_WRITTEN = {"src/modelyard/worker/actions/canary.py"}
#: the project's own top-level packages, as the docs abbreviate paths in them
PACKAGES = ("api", "cli", "client", "domain", "scanning", "services", "store", "transfer", "worker")


def in_the_repository(named: str) -> str | None:
    """The repository path a doc's ``named`` path means, or None when it is not ours."""
    if named.startswith("modelyard/"):
        return f"src/{named}"
    if named.split("/", maxsplit=1)[0] in PACKAGES:
        return f"src/modelyard/{named}"
    return named if named.startswith(("src/", "tests/")) else None  # not: model_signing/…


def test_every_source_path_the_user_docs_name_exists() -> None:
    """A file that moves (the layout by capability moved most) leaves no stale path behind."""
    root = DOCS.parent
    pages = [root / "README.md"] + [
        p for p in sorted(DOCS.glob("*.md")) if p.name not in {"design.md", "performance.md"}
    ]
    checked = 0
    for page in pages:
        for named in re.findall(r"`((?:src|tests|[a-z]+)/[\w./-]*)`", page.read_text()):
            path = in_the_repository(named)
            if path is None or path in TO_BE_WRITTEN:
                continue
            assert (root / path).exists(), f"{page.name} names {named}, which does not exist"
            checked += 1
    assert checked >= 10
