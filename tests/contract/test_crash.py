"""Invariant 3: SIGKILL during a large upload leaves no visible blob and no version;
re-running the register command completes and uploads only what is missing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelyard import Registry

BIG = 384 * 1024 * 1024


def _cli(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MODELYARD_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "modelyard", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_upload_then_rerun(tmp_path: Path) -> None:
    home = tmp_path / "home"
    small = tmp_path / "small"
    small.mkdir()
    (small / "config.json").write_bytes(b'{"layers": 3}')
    with Registry.open(home) as registry:
        registry.create_group("g")
        registry.register_version("g", small)  # config.json's blob is already stored
    art = tmp_path / "art"
    art.mkdir()
    (art / "config.json").write_bytes(b'{"layers": 3}')
    chunk = os.urandom(1024 * 1024)
    with (art / "weights.bin").open("wb") as handle:
        for _ in range(BIG // len(chunk)):
            handle.write(chunk)
    digest = hashlib.sha256((art / "weights.bin").read_bytes()).hexdigest()

    process = _cli(home, "version", "register", "g", str(art))
    tmp_dir = home / "blobs" / "tmp"
    deadline = time.monotonic() + 60
    while not any(tmp_dir.glob("upload-*")) and process.poll() is None:
        assert time.monotonic() < deadline, "the upload never started"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    _, err = process.communicate()
    assert process.returncode == -signal.SIGKILL, err

    with Registry.open(home) as registry:
        assert registry.get_group("g").latest_version == 1, "no half-registered version"
        assert [v.number for v in registry.list_versions("g").items] == [1]
    blob = home / "blobs" / "enc" / digest[:2] / digest[2:]  # new stores encrypt
    assert not blob.exists(), "no visible partial blob"

    rerun = _cli(home, "version", "register", "g", str(art))
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert out.startswith("g/2 ")
    assert "1 new blobs uploaded" in out  # only weights.bin; config.json was there already
    assert blob.exists()
    with Registry.open(home) as registry:
        assert registry.get_version("g/2").manifest.files[1].sha256 == digest
