"""Downloaded files and directories get the mode the user's umask gives (they came out 0600
and 0700): `version download` and the `version fetch` cache, each in a process of its own
(the umask is per process)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Run


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[path.relative_to(root).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)]
)
def test_downloads_follow_the_umask(
    run: Run, home: Path, tmp_path: Path, umask: int, file_mode: int, dir_mode: int
) -> None:
    artifact = tmp_path / "model"
    (artifact / "sub").mkdir(parents=True)
    (artifact / "model.bin").write_bytes(b"weights")
    (artifact / "sub" / "config.json").write_bytes(b"{}")
    run("group", "create", "fraud")
    run("version", "register", "fraud", str(artifact))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["MODELYARD_HOME"] = str(home)

    def modelyard(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "modelyard", *args],
            env=env,
            capture_output=True,
            text=True,
            umask=umask,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    out = tmp_path / "out" / "fraud-1"
    modelyard("version", "download", "fraud/1", str(out))
    expected = {
        ".": dir_mode,
        "sub": dir_mode,
        "model.bin": file_mode,
        "sub/config.json": file_mode,
    }
    assert modes(out) == expected  # no temp file left behind either
    assert modes(tmp_path / "out")["."] == dir_mode
    cached = Path(modelyard("version", "fetch", "fraud/1"))
    assert modes(cached) == expected | {".modelyard-complete": file_mode}
