"""The command line as a user types it: output, --json, exit codes, nothing written on errors."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from modelyard import Registry

SHA = "ab" * 32
METADATA_51 = [arg for i in range(51) for arg in ("--metadata", f"k{i}=v")]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model_dir"
    (root / "sub").mkdir(parents=True)
    (root / "model.pkl").write_bytes(b"pickled" * 100)
    (root / "sub" / "config.json").write_bytes(b"{}")
    return root


def test_issue_walkthrough(run, model_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "modelyard is ready" in run("init").output
    run(
        "group",
        "create",
        "fraud-detector",
        "--description",
        "card fraud scorer",
        "--tag",
        "team=risk",
        "--allow-self-approval",  # one user registers and approves
    )
    for i in range(3):
        run("version", "register", "fraud-detector", str(model_dir), "--metric", f"auc=0.8{i}")
    out = run(
        "version",
        "register",
        "fraud-detector",
        str(model_dir),
        "--metric",
        "auc=0.912",
        "--metric",
        "f1=0.81",
        "--param",
        "max_depth=6",
        "--dataset",
        f"train=s3://bucket/train.parquet@sha256:{SHA}",
        "--code-repo",
        "https://git.example/fraud",
        "--code-commit",
        "3f2c1e9",
        "--parent",
        "fraud-detector/3",
        "--framework",
        "sklearn==1.5.2",
        "--description",
        "weekly retrain",
    ).output
    assert out.startswith("fraud-detector/4  (manifest sha256:")
    assert "2 files" in out and "0 new blobs uploaded" in out

    listed = json.loads(run("version", "list", "fraud-detector", "--json").output)
    assert [v["version"] for v in listed["items"]] == [4, 3, 2, 1]
    shown = json.loads(run("version", "show", "fraud-detector/4", "--json").output)
    assert shown["lineage"]["datasets"][0]["digest"] == f"sha256:{SHA}"
    assert shown["lineage"]["parents"] == ["fraud-detector/3"]
    assert "weekly retrain" in run("version", "show", "fraud-detector/4").output

    run("version", "approve", "fraud-detector/4", "--comment", "good")
    run("version", "reject", "fraud-detector/2", "--comment", "worse")
    run("alias", "set", "fraud-detector", "champion", "4")
    history = json.loads(run("alias", "history", "fraud-detector", "champion", "--json").output)
    assert history["items"][0]["version"] == 4

    run("version", "download", "fraud-detector@champion", str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "config.json").read_bytes() == b"{}"

    found = json.loads(
        run(
            "version",
            "search",
            "--filter",
            "metrics.auc >= 0.9 and tags.team = 'risk' and approval_status = 'Approved'",
            "--order-by",
            "metrics.auc desc",
            "--limit",
            "20",
            "--json",
        ).output
    )
    assert [v["reference"] for v in found["items"]] == ["fraud-detector/4"]

    up = json.loads(run("lineage", "fraud-detector/4", "--upstream", "--json").output)
    assert [n["reference"] for n in up["versions"]] == ["fraud-detector/3"]
    down = run("lineage", "fraud-detector/3", "--downstream").output
    assert "fraud-detector/4" in down


def test_group_and_version_neighbours(run, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("group", "update", "g", "--description", "new", "--tag", "a=1")
    assert json.loads(run("group", "show", "g", "--json").output)["tags"] == {"a": "1"}
    run("version", "register", "g", str(model_dir))
    run("version", "tag", "g/1", "k=v", "x=y")
    run("version", "untag", "g/1", "x")
    run("version", "metadata", "g/1", "owner=risk")
    run("version", "update-description", "g/1", "hello")
    shown = json.loads(run("version", "show", "g/1", "--json").output)
    assert (shown["tags"], shown["metadata"], shown["description"]) == (
        {"k": "v"},
        {"owner": "risk"},
        "hello",
    )
    run("alias", "set", "g", "staging", "1")
    assert json.loads(run("alias", "list", "g", "--json").output) == {"staging": 1}
    run("alias", "delete", "g", "staging")
    run("group", "archive", "g")
    assert json.loads(run("group", "list", "--json").output)["items"] == []
    assert (
        len(json.loads(run("group", "list", "--include-archived", "--json").output)["items"]) == 1
    )
    assert json.loads(run("status", "--json").output)["versions"] == 1
    assert json.loads(run("events", "list", "--json").output)[0]["type"] == "group.archived"
    assert json.loads(run("audit", "log", "--json").output)[0]["action"] == "group.archive"


def _state(home: Path) -> tuple[int, int]:
    with Registry.open(home) as registry:
        return registry.summary()["versions"], registry.summary()["events"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["group", "create", "bad name"], 2, "not a valid group name"),
        (["version", "register", "nope", "{dir}"], 3, "group 'nope' does not exist"),
        (["version", "register", "g", "{missing}"], 3, "does not exist"),
        (
            ["version", "register", "g", "{dir}", "--metric", "auc=1", "--metric", "auc=2"],
            2,
            "'auc' is given more than once",
        ),
        (["version", "register", "g", "{dir}", "--metric", "auc=high"], 2, "is not a number"),
        (["version", "register", "g", "{dir}", "--parent", "g/9"], 3, "g/9 does not exist"),
        (
            [
                "version",
                "register",
                "g",
                "{dir}",
                *METADATA_51,
            ],
            2,
            "at most 50",
        ),
        (["version", "register", "g", "{dir}", "--dataset", "train"], 2, "ROLE=URI"),
        (["version", "show", "g/7"], 3, "g/7 does not exist"),
        (["version", "show", "g@champion"], 3, "alias g@champion does not exist"),
        (["version", "show", "nope/1"], 3, "does not exist"),
        (["version", "show", "g"], 2, "is not a reference"),
        (["version", "search", "--filter", "metrics.auc >="], 2, "filter:"),
        (["version", "search", "--filter", "colour = 'red'"], 2, "unknown field"),
        (["version", "reject", "g/1", "--comment", ""], 2, "needs a comment"),
        (["version", "approve", "g/1"], 0, ""),
        (["alias", "set", "g", "Champion", "1"], 2, "not a valid alias name"),
        (["alias", "history", "g", "champion"], 3, "never been set"),
        (["group", "create", "g"], 5, "already exists"),
    ],
)
def test_bad_input_exit_codes_and_nothing_written(  # type: ignore[no-untyped-def]
    run, home: Path, model_dir: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    run("group", "create", "g", "--allow-self-approval")
    run("version", "register", "g", str(model_dir))
    before = _state(home)
    args = [a.format(dir=model_dir, missing=tmp_path / "missing") for a in args]
    result = run(*args, code=code)
    if code:
        assert message in result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert _state(home) == before


def test_symlink_escaping_the_artifact_exits_2(
    run,
    home: Path,
    model_dir: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    run("group", "create", "g")
    (tmp_path / "secret").write_text("x")
    (model_dir / "escape").symlink_to(tmp_path / "secret")
    result = run("version", "register", "g", str(model_dir), code=2)
    assert "outside the artifact directory" in result.stderr
    assert _state(home) == (0, 1)


def test_absolute_symlink_inside_is_followed_but_outside_refused(  # type: ignore[no-untyped-def]
    run, model_dir: Path
) -> None:
    run("group", "create", "g")
    (model_dir / "abs-link").symlink_to(model_dir / "model.pkl")
    out = run("version", "register", "g", str(model_dir), "--json").output
    assert {f["path"] for f in json.loads(out)["files"]} == {
        "abs-link",
        "model.pkl",
        "sub/config.json",
    }


def test_corrupted_blob_is_an_integrity_error(
    run,
    home: Path,
    model_dir: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    digest = hashlib.sha256((model_dir / "model.pkl").read_bytes()).hexdigest()
    blob = home / "blobs" / "enc" / digest[:2] / digest[2:]  # new stores encrypt
    os.chmod(blob, 0o644)
    data = blob.read_bytes()
    blob.write_bytes(data[:40] + b"evil" + data[44:])  # inside the first sealed chunk
    result = run("version", "download", "g/1", str(tmp_path / "out"), code=1)
    assert "'model.pkl' is corrupted" in result.stderr
    assert not (tmp_path / "out" / "model.pkl").exists()


def test_verify_directory(run, model_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    assert "matches g/1" in run("version", "verify", "g/1", str(model_dir)).output
    (model_dir / "model.pkl").write_bytes(b"changed")
    assert "content differs" in run("version", "verify", "g/1", str(model_dir), code=1).stderr


def test_fetch_prints_a_cached_directory(run, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    path = Path(run("version", "fetch", "g@latest").output.strip())
    assert (path / "model.pkl").read_bytes() == (model_dir / "model.pkl").read_bytes()
    assert run("version", "fetch", "g/1").output.strip() == str(path)


def test_usage_errors_exit_2(run) -> None:  # type: ignore[no-untyped-def]
    assert run("version", "register", code=2).exit_code == 2
    assert run("nonsense", code=2).exit_code == 2
