"""``modelyard version scan`` and the scan in ``version show``, as a user runs them locally."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Run


class _Evil:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, ("echo pwned",)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "model_dir"
    directory.mkdir()
    (directory / "model.pkl").write_bytes(pickle.dumps(_Evil()))
    (directory / "config.json").write_text('{"depth": 3}\n')
    return directory


def test_version_scan_prints_the_verdict_and_names_the_call(run: Run, model_dir: Path) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    out = run("version", "scan", "g/1").output
    assert "verdict    unsafe" in out
    assert "model.pkl    pickle  unsafe     posix.system (dangerous)" in out
    assert "config.json  text    data_only  UTF-8 text" in out
    shown = json.loads(run("version", "scan", "g/1", "--json").output)
    assert (shown["reason"], shown["verdict"], shown["counts"]) == (
        "rescan",
        "unsafe",
        {"data_only": 1, "unsafe": 1},
    )


def test_version_show_has_the_scan(run: Run, model_dir: Path) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    assert "scan         pending since" in run("version", "show", "g/1").output
    assert json.loads(run("version", "show", "g/1", "--json").output)["scan"]["status"] == (
        "pending"
    )
    assert "scanned 1 version(s)" in run("worker", "--once").output
    out = run("version", "show", "g@latest").output
    assert "scan         unsafe (1 data_only, 1 unsafe; picklescan " in out
    shown = json.loads(run("version", "show", "g/1", "--json").output)["scan"]
    assert shown["files"][1]["findings"] == ["posix.system (dangerous)"]


def test_no_wait_queues_and_returns(run: Run, model_dir: Path) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    queued = json.loads(run("version", "scan", "g/1", "--no-wait", "--json").output)
    assert (queued["status"], queued["verdict"]) == ("pending", None)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["g/1", "--timeout", "0"], 2, "timeout: 0.0 is not a number of seconds above 0"),
        (["g/1", "--timeout", "soon"], 2, "'soon' is not a valid float"),
        (["g"], 2, "is not a reference"),
        (["g/9"], 3, "g/9 does not exist"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(
    run: Run, model_dir: Path, args: list[str], code: int, message: str
) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    result = run("version", "scan", *args, code=code)
    assert message in result.output + result.stderr


def test_a_viewer_may_read_the_scan_but_not_rerun_it(run: Run, model_dir: Path) -> None:
    run("group", "create", "g")
    run("version", "register", "g", str(model_dir))
    run("principal", "create", "vera")
    run("access", "grant", "vera", "viewer")
    assert "scan         pending since" in run("version", "show", "g/1", actor="vera").output
    denied = run("version", "scan", "g/1", actor="vera", code=4)
    assert "vera may not version.scan on g/1" in denied.stderr


class TeamModel:
    """A team's own model class: suspicious until the deployment trusts it."""


def test_trusted_globals_setting_clears_a_teams_own_class(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "team_model"
    directory.mkdir()
    (directory / "model.pkl").write_bytes(pickle.dumps(TeamModel()))
    run("group", "create", "g")
    run("version", "register", "g", str(directory))
    out = run("version", "scan", "g/1").output
    assert "verdict    suspicious" in out
    assert f"{__name__}.TeamModel (suspicious)" in out
    monkeypatch.setenv("MODELYARD_SCAN_TRUSTED_GLOBALS", f"{__name__}.TeamModel")
    assert "verdict    clean" in run("version", "scan", "g/1").output
    monkeypatch.setenv("MODELYARD_SCAN_TRUSTED_GLOBALS", "tests.cli.*, os")
    bad = run("version", "scan", "g/1", code=2)
    assert "scan_trusted_globals: 'os' is not 'module.name' or 'module.*'" in bad.stderr
