"""A destination that cannot be written (a missing parent directory, a path under a file)
is exit 2 naming it, locally and in remote mode, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from modelyard import Registry
from modelyard.cli.main import cli
from tests.cli.conftest import Run
from tests.server import running_server


@pytest.fixture
def version(run: Run, tmp_path: Path) -> str:
    artifact = tmp_path / "model"
    artifact.mkdir()
    (artifact / "model.bin").write_bytes(b"weights")
    run("group", "create", "fraud")
    run("version", "register", "fraud", str(artifact))
    return "fraud/1"


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file: nothing can be created under it, whoever runs the test (root too)."""
    path = tmp_path / "a-file"
    path.write_text("not a directory\n")
    return path


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "internal error" not in lines[0]
    assert "Traceback" not in stderr
    return lines[0]


# ---------------------------------------------------------------- unwritable destinations


def test_an_unwritable_download_destination_is_exit_2_naming_it(
    run: Run, version: str, a_file: Path, tmp_path: Path
) -> None:
    for destination in (a_file / "out", a_file / "deep" / "er", a_file):
        result = run("version", "download", version, str(destination), code=2)
        line = one_error_line(result.stderr)
        assert str(destination) in line, line
    assert a_file.read_text() == "not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "home", "model"]


def test_an_unwritable_export_or_output_file_is_exit_2_naming_it(
    run: Run, version: str, a_file: Path, tmp_path: Path
) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "audit.jsonl"
    cases = [
        ("audit", "export", str(missing_dir)),
        ("audit", "export", str(a_file / "audit.jsonl")),
        ("audit", "public-key", "--output", str(a_file / "k.pem")),
        ("signing", "public-key", "--output", str(a_file / "k.pem")),
        ("version", "signature", version, "--output", str(a_file / "sig.json")),
        ("audit", "proof", "1", "--output", str(missing_dir)),
    ]
    run("audit", "checkpoint")  # a proof needs a checkpoint
    for args in cases:
        line = one_error_line(run(*args, code=2).stderr)
        assert args[-1] in line, line
        assert "cannot write" in line, line
    assert not (tmp_path / "no").exists()
    downloaded = tmp_path / "downloaded"
    result = run(
        "version",
        "download",
        version,
        str(downloaded),
        "--save-signature",
        str(a_file / "sig.json"),
        code=2,
    )
    assert one_error_line(result.stderr).startswith("error: save_signature: cannot write")
    assert (downloaded / "model.bin").read_bytes() == b"weights"  # the download itself worked


def test_remote_mode_names_an_unwritable_destination_too(
    local_registry: Registry, a_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.bin").write_bytes(b"w")
    local_registry.create_group("fraud")
    local_registry.register_version("fraud", tmp_path / "m")
    token = local_registry.create_token("local", expires="1d").secret
    with running_server(local_registry) as url:
        env = {"MODELYARD_URL": url, "MODELYARD_TOKEN": token}
        for args in (
            ["version", "download", "fraud/1", str(a_file / "out")],
            ["audit", "export", str(a_file / "audit.jsonl")],
        ):
            result = CliRunner().invoke(cli, args, env=env)
            assert result.exit_code == 2, result.output
            assert str(a_file) in one_error_line(result.stderr)
