"""Unsafe-model scanning on real files: content decides the kind, and nothing unscanned is clean."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from modelyard.scanning.scanner import (
    FileScan,
    ScanReport,
    scan_directory,
    scan_file,
    scanner_name,
)


class _Reduce:
    """Pickles as a call to ``func(*args)``: what a malicious model file does."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


EVIL = pickle.dumps(_Reduce(os.system, "echo pwned"))
EVAL = pickle.dumps(_Reduce(eval, "1+1"))
EXEC = pickle.dumps(_Reduce(exec, "x = 1"))
IMPORT = pickle.dumps(_Reduce(__import__, "os"))
CLEAN_DICT = {"weights": [0.5, 1.5], "name": "fraud", "layers": (1, 2, 3), "ok": True}


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _scan(tmp_path: Path, name: str, data: bytes) -> FileScan:
    return scan_file(_write(tmp_path / name, data), name)


def _npy(descr: object, payload: bytes, shape: str = "(2,)") -> bytes:
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape}, }}"
    pad = 64 - (10 + len(header) + 1) % 64
    encoded = (header + " " * pad + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(encoded)) + encoded + payload


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0)


# -- pickles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 1, 2, 4, 5])
def test_os_system_pickle_is_unsafe_with_the_global_named(tmp_path: Path, protocol: int) -> None:
    data = pickle.dumps(_Reduce(os.system, "echo pwned"), protocol=protocol)
    scan = _scan(tmp_path, "model.pkl", data)
    assert (scan.kind, scan.status) == ("pickle", "unsafe")
    assert f"{os.system.__module__}.system (dangerous)" in scan.findings
    assert "picklescan" in scan.detail


@pytest.mark.parametrize("name", ["weights.txt", "config.json", "model.onnx", "x.py", "noext"])
@pytest.mark.parametrize("protocol", [0, 4])
def test_a_renamed_pickle_is_still_caught(tmp_path: Path, name: str, protocol: int) -> None:
    data = pickle.dumps(_Reduce(os.system, "echo pwned"), protocol=protocol)
    scan = _scan(tmp_path, name, data)
    assert (scan.kind, scan.status) == ("pickle", "unsafe")
    assert "posix.system (dangerous)" in scan.findings


@pytest.mark.parametrize(
    ("data", "finding"),
    [
        (EVAL, "builtins.eval (dangerous)"),
        (EXEC, "builtins.exec (dangerous)"),
        (IMPORT, "builtins.__import__ (dangerous)"),  # picklescan: suspicious; modelyard: no
    ],
)
def test_builtins_variants_are_unsafe(tmp_path: Path, data: bytes, finding: str) -> None:
    scan = _scan(tmp_path, "model.joblib", data)
    assert scan.status == "unsafe"
    assert finding in scan.findings


def test_a_padded_protocol_0_pickle_under_a_text_name_is_caught(tmp_path: Path) -> None:
    payload = "echo " + "x" * (2 << 20)  # a 2 MiB argument: the call comes after the probe
    scan = _scan(tmp_path, "notes.txt", pickle.dumps(_Reduce(os.system, payload), 0))
    assert (scan.kind, scan.status) == ("pickle", "unsafe")


def test_a_clean_pickle_of_plain_data_is_clean(tmp_path: Path) -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        scan = _scan(tmp_path, f"model{protocol}.pkl", pickle.dumps(CLEAN_DICT, protocol))
        assert (scan.kind, scan.status, scan.findings) == ("pickle", "clean", ()), protocol


def test_joblib_style_stream_of_several_pickles_is_clean(tmp_path: Path) -> None:
    # joblib.dump of plain containers is an ordinary pickle; a stream of several is scanned whole.
    data = pickle.dumps([1, 2, 3], 4) + pickle.dumps({"a": "b"}, 4)
    assert _scan(tmp_path, "model.joblib", data).status == "clean"
    evil_second = pickle.dumps([1, 2, 3], 4) + EVIL
    assert _scan(tmp_path, "model2.joblib", evil_second).status == "unsafe"


def test_untrusted_globals_are_suspicious_unless_trusted(tmp_path: Path) -> None:
    data = pickle.dumps(_Reduce(FileScan, "p", "pickle", "clean"))  # an unknown class
    path = _write(tmp_path / "model.pkl", data)
    scan = scan_file(path, "model.pkl")
    assert scan.status == "suspicious"
    assert scan.findings == ("modelyard.domain.scans.FileScan (suspicious)",)
    assert scan_file(path, "model.pkl", trusted_globals=["modelyard.*"]).status == "clean"
    exact = ["modelyard.domain.scans.FileScan"]
    assert scan_file(path, "model.pkl", trusted_globals=exact).status == "clean"
    # trust never overrides a dangerous import
    evil = _write(tmp_path / "evil.pkl", EVIL)
    assert scan_file(evil, "evil.pkl", trusted_globals=["posix.*"]).status == "unsafe"


def test_a_broken_pickle_is_an_error_never_clean(tmp_path: Path) -> None:
    truncated = pickle.dumps(CLEAN_DICT, 4)[:-7]
    scan = _scan(tmp_path, "model.pkl", truncated)
    assert (scan.kind, scan.status) == ("pickle", "error")
    garbage = b"\x80\x04" + os.urandom(64).replace(b"\x80", b"\x00")
    assert _scan(tmp_path, "garbage.pkl", b"\x80\x04\xff" + garbage).status == "error"


def test_a_pickle_broken_after_a_dangerous_call_is_unsafe(tmp_path: Path) -> None:
    # An unpickler runs everything before the break, so the findings still count.
    data = pickle.dumps(_Reduce(os.system, "echo pwned"), 0)[:-1] + b"\xff\xff"
    scan = _scan(tmp_path, "model.pkl", data)
    assert scan.status == "unsafe"
    assert "posix.system (dangerous)" in scan.findings


def test_legacy_torch_format_scans_its_leading_pickles(tmp_path: Path) -> None:
    magic = 0x1950A86A20F9469CFC6C
    legacy = b"".join(pickle.dumps(x, 2) for x in (magic, 1001, {"protocol_version": 1001}))
    clean = legacy + pickle.dumps(CLEAN_DICT, 2) + pickle.dumps(["0"], 2) + os.urandom(32)
    assert _scan(tmp_path, "old.pt", clean).status == "clean"
    evil = legacy + pickle.dumps(_Reduce(os.system, "echo"), 2) + os.urandom(32)
    scan = _scan(tmp_path, "evil.pt", evil)
    assert scan.status == "unsafe"
    assert "legacy PyTorch" in scan.detail


# -- archives ----------------------------------------------------------------------------------


def test_torch_style_zip_with_evil_data_pkl_is_unsafe(tmp_path: Path) -> None:
    data = _zip({"archive/data.pkl": EVIL, "archive/version": b"3\n", "archive/data/0": b"\0" * 8})
    for name in ("model.pt", "model.bin", "weights.safetensors"):
        scan = _scan(tmp_path, name, data)
        assert (scan.kind, scan.status) == ("zip", "unsafe")
        assert scan.findings == ("archive/data.pkl: posix.system (dangerous)",)


def test_torch_style_zip_with_clean_data_pkl_is_clean(tmp_path: Path) -> None:
    data = _zip(
        {
            "archive/data.pkl": pickle.dumps(CLEAN_DICT, 2),
            "archive/byteorder": b"little",
            "archive/data/0": struct.pack("<4f", 1, 2, 3, 4),
        }
    )
    scan = _scan(tmp_path, "model.pt", data)
    assert (scan.kind, scan.status) == ("zip", "clean")
    assert "1 pickle(s) scanned" in scan.detail


def test_an_entry_hidden_under_another_name_or_nested_zip_is_found(tmp_path: Path) -> None:
    assert _scan(tmp_path, "a.zip", _zip({"readme.txt": EVIL})).status == "unsafe"
    nested = _zip({"inner.zip": _zip({"archive/data.pkl": EVAL})})
    scan = _scan(tmp_path, "b.zip", nested)
    assert scan.status == "unsafe"
    assert scan.findings == ("inner.zip: archive/data.pkl: builtins.eval (dangerous)",)


def test_zip_without_pickles_is_not_scanned(tmp_path: Path) -> None:
    scan = _scan(tmp_path, "bundle.zip", _zip({"a.txt": b"hello", "b.bin": os.urandom(64)}))
    assert (scan.kind, scan.status, scan.detail) == (
        "zip",
        "not_scanned",
        "zip archive without pickles",
    )
    assert _scan(tmp_path, "empty.zip", _zip({})).status == "not_scanned"


def test_a_corrupt_zip_is_an_error(tmp_path: Path) -> None:
    assert _scan(tmp_path, "model.pt", b"PK\x03\x04" + os.urandom(100)).status == "error"


# -- numpy -------------------------------------------------------------------------------------


def test_numeric_npy_is_data_only(tmp_path: Path) -> None:
    scan = _scan(tmp_path, "w.npy", _npy("<f8", struct.pack("<2d", 1.0, 2.0)))
    assert (scan.kind, scan.status) == ("numpy", "data_only")


def test_object_npy_pickles_are_scanned(tmp_path: Path) -> None:
    evil = _scan(tmp_path, "evil.npy", _npy("|O", EVIL))
    assert (evil.kind, evil.status) == ("numpy", "unsafe")
    assert "posix.system (dangerous)" in evil.findings
    clean = _scan(tmp_path, "ok.npy", _npy("|O", pickle.dumps(["a", "b"], 3)))
    assert clean.status == "clean"
    structured = _npy([("a", "<f4"), ("b", "|O")], EVAL)
    assert _scan(tmp_path, "s.npy", structured).status == "unsafe"
    assert _scan(tmp_path, "bad.npy", b"\x93NUMPY\x01\x00\x04\x00{{{{").status == "error"


def test_npz_is_scanned_as_a_zip_of_npy(tmp_path: Path) -> None:
    numeric = _zip({"a.npy": _npy("<f4", b"\0" * 8), "b.npy": _npy("<i8", b"\0" * 16)})
    scan = _scan(tmp_path, "arrays.npz", numeric)
    assert (scan.kind, scan.status) == ("zip", "data_only")
    evil = _zip({"a.npy": _npy("<f4", b"\0" * 8), "b.npy": _npy("|O", EVIL)})
    scan = _scan(tmp_path, "evil.npz", evil)
    assert scan.status == "unsafe"
    assert scan.findings == ("b.npy: posix.system (dangerous)",)


# -- data-only and unknown formats -------------------------------------------------------------


def test_safetensors_is_data_only(tmp_path: Path) -> None:
    scan = _scan(tmp_path, "model.safetensors", _safetensors())
    assert (scan.kind, scan.status) == ("safetensors", "data_only")
    # content decides, not the name
    assert _scan(tmp_path, "model.bin", _safetensors()).kind == "safetensors"
    broken = struct.pack("<Q", 20) + b'{"w": not json     '
    assert _scan(tmp_path, "bad.safetensors", broken).status == "not_scanned"


def test_gguf_and_onnx_are_data_only(tmp_path: Path) -> None:
    gguf = _scan(tmp_path, "m.gguf", b"GGUF" + struct.pack("<I", 3) + os.urandom(32))
    assert (gguf.kind, gguf.status) == ("gguf", "data_only")
    onnx = _scan(tmp_path, "m.onnx", b"\x08\x07\x12\x07pytorch" + os.urandom(16))
    assert (onnx.kind, onnx.status) == ("onnx", "data_only")
    assert "extension" in onnx.detail


def test_text_is_data_only_but_source_code_and_binaries_are_not_scanned(tmp_path: Path) -> None:
    assert _scan(tmp_path, "config.json", b'{"a": 1}').status == "data_only"
    assert _scan(tmp_path, "requirements.txt", b"click\nrich\n").kind == "text"
    assert _scan(tmp_path, "README.md", "# Modèle\n".encode()).status == "data_only"
    # text that happens to disassemble as a harmless pickle ("N" NONE, "." STOP) stays text
    assert _scan(tmp_path, "AUTHORS.md", b"N. Smith\n").kind == "text"
    assert _scan(tmp_path, "dots.txt", b"...\n").kind == "text"
    # a data-only protocol 0 pickle under a text name cannot call anything: it stays text
    assert _scan(tmp_path, "data.json", pickle.dumps(CLEAN_DICT, 0)).kind == "text"
    nul = _scan(tmp_path, "x.txt", b"abc\0def")
    assert (nul.kind, nul.status) == ("unknown", "not_scanned")
    code = _scan(tmp_path, "train.py", b"import os\nos.system('x')\n")
    assert (code.status, code.detail) == ("not_scanned", "source code is not a model format")
    random_bin = _scan(tmp_path, "model.bin", b"\x00\x01" + os.urandom(4096))
    assert (random_bin.kind, random_bin.status) == ("unknown", "not_scanned")
    assert _scan(tmp_path, "empty.pkl", b"").status == "not_scanned"
    h5 = _scan(tmp_path, "m.h5", b"\x89HDF\r\n\x1a\n" + os.urandom(32))
    assert h5.status == "not_scanned"
    assert "HDF5" in h5.detail


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_never_clean(tmp_path: Path, seed: int) -> None:
    data = os.urandom(512 + seed)
    for name in ("model.bin", "model.pkl", "x.txt", "y"):
        assert _scan(tmp_path, name, data).status in {"not_scanned", "error"}


# -- directories -------------------------------------------------------------------------------


def _dir(tmp_path: Path, files: dict[str, bytes]) -> ScanReport:
    root = tmp_path / "artifact"
    root.mkdir()
    for name, data in files.items():
        _write(root / name, data)
    return scan_directory(root)


def test_empty_directory_is_not_scanned(tmp_path: Path) -> None:
    report = _dir(tmp_path, {})
    assert (report.verdict, report.files) == ("not_scanned", ())
    assert report.to_dict() == {
        "verdict": "not_scanned",
        "scanner": scanner_name(),
        "files": [],
        "counts": {},
    }
    assert scanner_name().startswith("picklescan 1.")


@pytest.mark.parametrize(
    ("files", "verdict"),
    [
        ({"model.pkl": pickle.dumps(CLEAN_DICT), "config.json": b"{}"}, "clean"),
        ({"model.safetensors": _safetensors(), "notes.md": b"hi"}, "clean"),
        ({"model.pkl": pickle.dumps(CLEAN_DICT), "train.py": b"print(1)\n"}, "partial"),
        ({"train.py": b"print(1)\n", "blob": os.urandom(64)}, "not_scanned"),
        ({"model.pkl": EVIL, "config.json": b"{}", "train.py": b""}, "unsafe"),
        ({"a.pkl": pickle.dumps(CLEAN_DICT)[:-3], "b.py": b""}, "error"),
        ({"a.pkl": pickle.dumps(CLEAN_DICT)[:-3], "sub/evil.bin": EVIL}, "unsafe"),
    ],
)
def test_directory_verdicts(tmp_path: Path, files: dict[str, bytes], verdict: str) -> None:
    assert _dir(tmp_path, files).verdict == verdict


def test_directory_report_lists_every_file_sorted_and_does_not_follow_symlinks(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    _write(outside / "evil.pkl", EVIL)
    root = tmp_path / "artifact"
    _write(root / "b" / "model.pkl", pickle.dumps(CLEAN_DICT))
    _write(root / "a.json", b"{}")
    (root / "link.pkl").symlink_to(outside / "evil.pkl")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    report = scan_directory(root)
    assert [f.path for f in report.files] == ["a.json", "b/model.pkl", "link.pkl", "linkdir"]
    assert [f.status for f in report.files] == ["data_only", "clean", "not_scanned", "not_scanned"]
    assert report.verdict == "partial"
    as_dict = report.to_dict()
    assert as_dict["counts"] == {"clean": 1, "data_only": 1, "not_scanned": 2}
    assert as_dict["files"][1] == {
        "path": "b/model.pkl",
        "kind": "pickle",
        "status": "clean",
        "findings": [],
        "detail": "picklescan",
    }
    json.dumps(as_dict)
