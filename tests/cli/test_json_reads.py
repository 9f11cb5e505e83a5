"""--json on every read command: the commands that lacked it, and a walk over the whole CLI
so that a new read command without it fails here."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from modelyard.cli.main import cli
from tests.cli.conftest import Run

#: commands without --json, each with why: they change state and print one confirmation
#: line, or their output is a document already (a JSON bundle)
NOT_READS = {
    "alias delete": "write",
    "alias set": "write",
    "access grant": "write",
    "access revoke": "write",
    "approvals approve": "write",
    "approvals reject": "write",
    "audit consistency": "prints a JSON proof bundle",
    "audit export": "writes a file",
    "audit proof": "prints a JSON proof bundle",
    "audit verify-proof": "offline check of a file, not a read of the registry",
    "events redrive": "write",
    "events replay": "write",
    "group archive": "write",
    "group update": "write",
    "init": "write",
    "rule delete": "write",
    "rule disable": "write",
    "rule enable": "write",
    "run cancel": "write",
    "run retry": "write",
    "server": "runs the server",
    "signing trust": "write",
    "signing untrust": "write",
    "token revoke": "write",
    "version approve": "write",
    "version download": "writes files",
    "version metadata": "write",
    "version model-card": "write",
    "version reject": "write",
    "version sign": "write",
    "version tag": "write",
    "version untag": "write",
    "version update-description": "write",
    "worker": "runs the worker",
}


def leaf_commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> list[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        return [
            found
            for name, sub in sorted(command.commands.items())
            for found in leaf_commands(sub, (*path, name))
        ]
    return [(" ".join(path), command)]


def test_every_read_command_has_json() -> None:
    missing = [
        name
        for name, command in leaf_commands(cli)
        if name not in NOT_READS and not any("--json" in p.opts for p in command.params)
    ]
    assert not missing, f"read commands without --json: {missing}"
    stale = sorted(set(NOT_READS) - {name for name, _ in leaf_commands(cli)})
    assert not stale, f"NOT_READS names commands that do not exist: {stale}"


@pytest.fixture
def version(run: Run, tmp_path: Path) -> str:
    artifact = tmp_path / "model"
    artifact.mkdir()
    (artifact / "model.bin").write_bytes(b"weights")
    run("group", "create", "fraud")
    run("version", "register", "fraud", str(artifact))
    return "fraud/1"


def test_run_logs_json(run: Run, version: str, tmp_path: Path) -> None:
    spec = tmp_path / "check.yaml"
    spec.write_text(
        "name: check\nstages:\n  - {name: validate, uses: validate, require: [metrics.auc]}\n"
    )
    run("pipeline", "apply", str(spec))
    run("pipeline", "run", "check", version)
    run("worker", "--once")
    lines = json.loads(run("run", "logs", "1", "--json").output)
    assert lines, "the validate stage logs what is missing"
    assert {line["stage_name"] for line in lines} == {"validate"}
    assert all({"id", "stage", "at", "line"} <= set(line) for line in lines)
    followed = run("run", "logs", "1", "--follow", "--json").output.splitlines()
    assert [json.loads(line) for line in followed] == lines  # JSON Lines while following


def test_pipeline_diff_json(run: Run, tmp_path: Path) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text("name: p\nstages:\n  - {name: validate, uses: validate}\n")
    run("pipeline", "apply", str(spec))
    spec.write_text(
        "name: p\nstages:\n  - {name: validate, uses: validate, require: [metrics.auc]}\n"
    )
    run("pipeline", "apply", str(spec))
    diff = json.loads(run("pipeline", "diff", "p", "--from", "1", "--json").output)
    assert (diff["pipeline"], diff["from_revision"], diff["to_revision"]) == ("p", 1, 2)
    assert "+  - {name: validate, uses: validate, require: [metrics.auc]}" in diff["diff"]
    same = json.loads(run("pipeline", "diff", "p", "--from", "2", "--to", "2", "--json").output)
    assert same["diff"] == ""


def test_signature_and_public_key_json(run: Run, version: str, tmp_path: Path) -> None:
    record = json.loads(run("version", "signature", version, "--json").output)
    assert (record["kind"], record["reference"], record["valid"]) == ("registry", version, True)
    bundle = json.loads(run("version", "signature", version).output)
    assert record["bundle"] == bundle  # the bundle, as `version verify --signature` takes it
    key = json.loads(run("signing", "public-key", "--json").output)
    assert key["public_key"] == run("signing", "public-key").output
    assert key["key_id"] == record["key_id"]
    audit_key = json.loads(run("audit", "public-key", "--json").output)
    assert audit_key["public_key"] == run("audit", "public-key").output
    checkpoint = json.loads(run("audit", "checkpoint", "--json").output)
    assert audit_key["key_id"] == checkpoint["key_id"]
    run("version", "signature", version, "--json", "--output", str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text()) == record


def test_fetch_and_verify_json(run: Run, version: str, tmp_path: Path) -> None:
    fetched = json.loads(run("version", "fetch", version, "--json").output)
    assert fetched["reference"] == version
    assert (Path(fetched["path"]) / "model.bin").read_bytes() == b"weights"
    out = tmp_path / "out"
    run("version", "download", version, str(out))
    verdict = json.loads(run("version", "verify", version, str(out), "--json").output)
    assert (verdict["ok"], verdict["problems"], verdict["offline"]) == (True, [], False)
    (out / "model.bin").write_bytes(b"changed")
    failed = run("version", "verify", version, str(out), "--json", code=1)
    verdict = json.loads(failed.stdout)  # stderr has the error line
    assert verdict["ok"] is False
    assert verdict["problems"] == ["model.bin: content differs from the registered sha256"]
