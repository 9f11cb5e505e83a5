"""The import-linter contracts in pyproject.toml hold, and each one fails on a deliberately
wrong import: a copy of the package gets one bad import and ``lint-imports`` must name the
broken contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")


def lint(
    tmp_path: Path, module: str | None = None, line: str = ""
) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on a copy of src/modelyard, with ``line`` added to ``module``."""
    shutil.copytree(ROOT / "src" / "modelyard", tmp_path / "src" / "modelyard")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if module is not None:
        path = tmp_path / "src" / "modelyard" / module
        path.write_text(path.read_text() + f"\n{line}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_contracts_hold(tmp_path: Path) -> None:
    done = lint(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("api/app.py", "import modelyard.worker.process", "Layers"),
        ("cli/main.py", "import modelyard.api.app", "Layers"),
        ("client/client.py", "import sqlalchemy", "light"),
        ("transfer/files.py", "import modelyard.store.sql.versions", "light"),
        ("services/catalog/groups.py", "import modelyard.store.blobs.content", "Services reach"),
        ("domain/names.py", "import modelyard.store.sql.schema", "The domain"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    done = lint(tmp_path, module, line)
    assert done.returncode != 0
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout[-3000:]
