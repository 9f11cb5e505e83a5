"""Unsafe-model scanning: classify every file of a model version by its content and scan the
formats that can run code when loaded (pickles, PyTorch archives, numpy object arrays).

The rule this module keeps: a file is reported ``clean`` only when a scanner actually parsed it,
and ``data_only`` only when its format was positively recognised as one that cannot run code.
Everything else is ``not_scanned`` (with the reason) or ``error``. picklescan reports a file as
scanned even when it is not a pickle at all, so the classification here never relies on it.
"""

from __future__ import annotations

import ast
import codecs
import io
import json
import logging
import os
import pickletools
import re
import stat
import struct
import zipfile
from collections import Counter
from collections.abc import Collection
from importlib import metadata
from pathlib import Path
from typing import IO

from picklescan.relaxed_zipfile import RelaxedZipFile
from picklescan.scanner import SafetyLevel, ScanResult, scan_pickle_bytes, scan_pytorch
from picklescan.torch import MAGIC_NUMBER

from modelyard.domain.scans import (
    CLEAN,
    DATA_ONLY,
    ERROR,
    NOT_SCANNED,
    SUSPICIOUS,
    UNSAFE,
    FileScan,
    ScanReport,
    verdict_of,
)
from modelyard.scanning import joblib_arrays
from modelyard.scanning.trust import Trust

__all__ = [
    "FileScan",
    "ScanReport",
    "Trust",
    "scan_directory",
    "scan_file",
    "scan_stream",
    "scanner_name",
    "verdict_of",
]

# Kinds
PICKLE, ZIP, NUMPY, SAFETENSORS, GGUF, ONNX, TEXT, UNKNOWN = (
    "pickle",
    "zip",
    "numpy",
    "safetensors",
    "gguf",
    "onnx",
    "text",
    "unknown",
)
PICKLE_EXTENSIONS = frozenset(
    {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".dat"}
)
TEXT_EXTENSIONS = frozenset(
    {".json", ".jsonl", ".txt", ".md", ".yaml", ".yml", ".csv", ".tsv", ".cfg", ".toml", ".ini"}
)
SOURCE_EXTENSIONS = frozenset({".py", ".pyc", ".pyx", ".ipynb", ".sh", ".js"})

# What picklescan finds is reported here, in the scan's own words; its log lines (an ERROR
# for every joblib file it cannot parse past the first array) would only be noise in a
# server's log.
logging.getLogger("picklescan").setLevel(logging.CRITICAL)

_HEAD = 64
_PICKLE_PROBE = (
    1 << 20
)  # bytes of a file examined when deciding whether it is a protocol 0/1 pickle
_SAFETENSORS_MAX_HEADER = 100 << 20
_TEXT_CHUNK = 1 << 20
_MAX_ZIP_DEPTH = 3
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_GLOBAL_OPS = frozenset({"GLOBAL", "INST"})
_IMPORT_OPS = _GLOBAL_OPS | {"STACK_GLOBAL", "EXT1", "EXT2", "EXT4"}
# Formats recognised by their magic bytes that no scanner here reads: say what they are.
_UNSCANNED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89HDF\r\n\x1a\n", "HDF5 file (Keras .h5 can embed Lambda-layer code); not scanned"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive; not scanned"),
    (b"\x1f\x8b", "gzip-compressed data; not decompressed or scanned"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data; not decompressed or scanned"),
    (b"BZh", "bzip2-compressed data; not decompressed or scanned"),
)


def scanner_name() -> str:
    """``"picklescan <version>"``: what produced the findings."""
    try:
        return f"picklescan {metadata.version('picklescan')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "picklescan"


def scan_directory(root: Path, *, trusted_globals: Collection[str] = ()) -> ScanReport:
    """Scan every file under ``root``, sorted by relative path; symlinks are listed, not followed.

    ``trusted_globals`` ("module.name" or "module.*") are trusted on top of the allowlist of
    ``scanning/trust.py``: imports neither dangerous nor trusted make a file
    ``suspicious``; trust never overrides a *dangerous* import.
    """
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        # A symlink to a directory appears in dirnames and is not descended into: report it.
        names = list(filenames) + [d for d in dirnames if (base / d).is_symlink()]
        for name in names:
            full = base / name
            found.append((full.relative_to(root).as_posix(), full))
    files = tuple(
        scan_file(full, relative, trusted_globals=trusted_globals)
        for relative, full in sorted(found)
    )
    return ScanReport(verdict=verdict_of(files), files=files, scanner=scanner_name())


def scan_file(path: Path, relative: str, *, trusted_globals: Collection[str] = ()) -> FileScan:
    """Classify one file by its content (then its name) and scan it if it can carry code."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            return FileScan(relative, UNKNOWN, NOT_SCANNED, detail="symbolic link; not followed")
        if not stat.S_ISREG(mode):
            return FileScan(relative, UNKNOWN, NOT_SCANNED, detail="not a regular file")
        with path.open("rb") as f:
            return _scan_stream(f, relative, path.stat().st_size, Trust(tuple(trusted_globals)))
    except OSError as e:
        return FileScan(relative, UNKNOWN, ERROR, detail=f"could not read: {e}")


def scan_stream(
    stream: IO[bytes], relative: str, size: int, *, trusted_globals: Collection[str] = ()
) -> FileScan:
    """:func:`scan_file` for a seekable binary stream of ``size`` bytes (a stored blob)."""
    try:
        return _scan_stream(stream, relative, size, Trust(tuple(trusted_globals)))
    except OSError as e:
        return FileScan(relative, UNKNOWN, ERROR, detail=f"could not read: {e}")


# -- classification -------------------------------------------------------------------------


def _scan_stream(f: IO[bytes], relative: str, size: int, trust: Trust, depth: int = 0) -> FileScan:
    head = f.read(_HEAD)
    f.seek(0)
    suffix = os.path.splitext(relative)[1].lower()
    if not head:
        return FileScan(relative, UNKNOWN, NOT_SCANNED, detail="empty file")
    by_magic = _by_magic(f, relative, head, trust, depth)
    if by_magic is not None:
        return by_magic
    safetensors = _safetensors_header(f, size)
    if safetensors is not None:
        return FileScan(relative, SAFETENSORS, DATA_ONLY, detail=safetensors)
    if _looks_like_pickle(f, size, lenient=suffix in PICKLE_EXTENSIONS):
        return _scan_pickle(f, relative, head, trust, detail="protocol 0/1 pickle")
    for magic, why in _UNSCANNED_MAGIC:
        if head.startswith(magic):
            return FileScan(relative, UNKNOWN, NOT_SCANNED, detail=why)
    return _by_extension(f, relative, suffix)


def _by_magic(
    f: IO[bytes], relative: str, head: bytes, trust: Trust, depth: int
) -> FileScan | None:
    if _has_pickle_header(head):
        return _scan_pickle(f, relative, head, trust)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _scan_zip(f, relative, trust, depth)
    if head.startswith(b"\x93NUMPY"):
        return _scan_npy(f, relative, trust)
    if head.startswith(b"GGUF"):
        return FileScan(
            relative,
            GGUF,
            DATA_ONLY,
            detail="GGUF magic: tensors and metadata, no code execution on load "
            "(embedded chat templates are not checked)",
        )
    return None


def _by_extension(f: IO[bytes], relative: str, suffix: str) -> FileScan:
    if suffix == ".onnx":
        return FileScan(
            relative,
            ONNX,
            DATA_ONLY,
            detail="recognised by its .onnx extension (content not parsed); "
            "ONNX protobuf: no code execution on load",
        )
    if suffix in SOURCE_EXTENSIONS:
        return FileScan(relative, UNKNOWN, NOT_SCANNED, detail="source code is not a model format")
    if suffix in TEXT_EXTENSIONS:
        problem = _text_problem(f)
        if problem is None:
            return FileScan(relative, TEXT, DATA_ONLY, detail="UTF-8 text")
        return FileScan(relative, UNKNOWN, NOT_SCANNED, detail=f"{suffix} file but {problem}")
    if suffix in PICKLE_EXTENSIONS:
        return FileScan(relative, UNKNOWN, NOT_SCANNED, detail=f"{suffix} file but not a pickle")
    return FileScan(relative, UNKNOWN, NOT_SCANNED, detail="unrecognised format")


def _has_pickle_header(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _looks_like_pickle(f: IO[bytes], size: int, *, lenient: bool) -> bool:
    """Whether the start of ``f`` disassembles as a (protocol 0/1) pickle worth scanning.

    Any file: a whole pickle up to STOP that imports something (a pickle without imports cannot
    call anything, and short text such as "N. Smith" is such a "pickle"), or at least two
    opcodes running cleanly to the end of the probe window (a padded pickle). Pickle-family
    names also count a whole pickle without imports, or one that breaks after importing a
    well-formed global, since an unpickler executes everything before the break.
    """
    probe = io.BytesIO(f.read(_PICKLE_PROBE))
    f.seek(0)
    truncated = size > _PICKLE_PROBE
    count, imports, saw_global = 0, False, False
    try:
        for op, arg, _pos in pickletools.genops(probe):
            count += 1
            imports = imports or op.name in _IMPORT_OPS
            if op.name in _GLOBAL_OPS and isinstance(arg, str):
                saw_global = saw_global or all(_IDENTIFIER.fullmatch(p) for p in arg.split(" ", 1))
    except Exception:  # genops raises ValueError, but also others on garbage
        ran_off_probe = truncated and probe.tell() >= len(probe.getvalue())
        return (ran_off_probe and count >= 2) or (lenient and saw_global)
    return count >= 2 and (imports or lenient)  # reached STOP


def _safetensors_header(f: IO[bytes], size: int) -> str | None:
    """A description if ``f`` is a safetensors file (length-prefixed JSON header), else None."""
    prefix = f.read(9)
    try:
        if len(prefix) < 9 or prefix[8:9] != b"{":
            return None
        (length,) = struct.unpack("<Q", prefix[:8])
        if length < 2 or length > _SAFETENSORS_MAX_HEADER or length > size - 8:
            return None
        f.seek(8)
        header = json.loads(f.read(length))
    except ValueError:
        return None
    finally:
        f.seek(0)
    if not isinstance(header, dict):
        return None
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if not all(
        isinstance(v, dict) and {"dtype", "shape", "data_offsets"} <= v.keys()
        for v in tensors.values()
    ):
        return None
    return f"safetensors: {len(tensors)} tensor(s), JSON header verified; no code on load"


def _text_problem(f: IO[bytes]) -> str | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := f.read(_TEXT_CHUNK):
            if b"\x00" in chunk:
                return "contains NUL bytes"
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "not valid UTF-8"
    finally:
        f.seek(0)
    return None


# -- pickles ---------------------------------------------------------------------------------


def _scan_pickle(
    f: IO[bytes], relative: str, head: bytes, trust: Trust, detail: str = ""
) -> FileScan:
    try:
        if _is_legacy_torch(head):
            result = scan_pytorch(f, relative)
            detail = "legacy PyTorch serialization: leading pickles scanned"
            parsed = True
        else:
            result = scan_pickle_bytes(f, relative)
            f.seek(0)
            rescanned, joblib_detail = _joblib_rescan(f, relative, result)
            detail = _join(detail, joblib_detail)
            if rescanned is not None:
                result, parsed = rescanned, True
            else:
                # picklescan says "scanned, nothing found" for bytes it could not parse at all.
                parsed = bool(result.globals) or _parses_fully(f)
    except Exception as e:
        return FileScan(relative, PICKLE, ERROR, detail=f"picklescan failed: {e}")
    status, findings = _judge(result, trust)
    if not parsed and status in (CLEAN, SUSPICIOUS):
        status, detail = ERROR, _join("could not be parsed as a pickle", detail)
    elif result.scan_err and status in (CLEAN, SUSPICIOUS):
        status = ERROR
        detail = _join("pickle parse error part-way (findings are up to the error)", detail)
    return FileScan(relative, PICKLE, status, findings, _join("picklescan", detail))


def _joblib_rescan(
    f: IO[bytes], relative: str, result: ScanResult
) -> tuple[ScanResult | None, str]:
    """picklescan again over a joblib file with its raw array bytes cut out (None: the file
    does not import joblib's array wrapper, or does not follow joblib's layout)."""
    if not any((g.module, g.name) == joblib_arrays.WRAPPER for g in result.globals):
        return None, ""
    if not f.seekable():
        return None, "joblib arrays inside an archive are not followed"
    size = f.seek(0, io.SEEK_END)
    try:
        layout = joblib_arrays.read_layout(f, size)
    except joblib_arrays.NotJoblib as e:
        return None, f"joblib layout not followed: {e}"
    rescanned = ScanResult([])
    for view in joblib_arrays.pickle_views(f, layout):
        rescanned.merge(scan_pickle_bytes(view, relative))
    f.seek(0)
    arrays, nested = len(layout.arrays), len(layout.nested)
    return rescanned, f"joblib: {arrays} numpy array(s) as raw data, {nested} object array(s)"


def _is_legacy_torch(head: bytes) -> bool:
    """torch.save's pre-zip format: a pickled LONG1 magic number, then more pickles + raw data."""
    if not head.startswith(b"\x80\x02\x8a") or len(head) < 4:
        return False
    width = head[3]
    return bool(int.from_bytes(head[4 : 4 + width], "little", signed=True) == MAGIC_NUMBER)


def _parses_fully(f: IO[bytes]) -> bool:
    """Whether ``f`` is a sequence of complete pickles to its end (as picklescan reads it)."""
    try:
        while True:
            ops = 0
            for _ in pickletools.genops(f):
                ops += 1
            if ops == 0:
                return False
            if f.read(1) == b"":
                return True
            f.seek(-1, 1)
    except Exception:
        return False


def _judge(result: ScanResult, trust: Trust) -> tuple[str, tuple[str, ...]]:
    """``unsafe`` for a dangerous import, else ``suspicious`` for an untrusted one, else
    ``clean``; with every dangerous and suspicious import named."""
    findings: list[str] = []
    status = CLEAN
    for g in result.globals:
        level = g.safety
        if trust.is_dangerous(g.module, g.name):
            level = SafetyLevel.Dangerous
        elif level is SafetyLevel.Suspicious and trust.trusts(g.module, g.name):
            level = SafetyLevel.Innocuous
        if level is SafetyLevel.Dangerous:
            status = UNSAFE
        elif level is SafetyLevel.Suspicious and status == CLEAN:
            status = SUSPICIOUS
        if level is not SafetyLevel.Innocuous:
            findings.append(f"{g.module}.{g.name} ({level.value})")
    return status, tuple(sorted(set(findings)))


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# -- numpy -----------------------------------------------------------------------------------


def _npy_has_objects(f: IO[bytes]) -> bool:
    """Read a .npy header (leaving ``f`` just after it); True if the dtype holds Python objects."""
    magic = f.read(8)
    major = magic[6]
    if major == 1:
        (length,) = struct.unpack("<H", f.read(2))
    elif major in (2, 3):
        (length,) = struct.unpack("<I", f.read(4))
    else:
        raise ValueError(f"unsupported .npy format version {major}")
    text = f.read(length).decode("utf-8" if major == 3 else "latin-1")
    header = ast.literal_eval(text)
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= header.keys():
        raise ValueError("malformed .npy header")
    return _descr_has_objects(header["descr"])


def _descr_has_objects(descr: object) -> bool:
    if isinstance(descr, str):
        return "O" in descr
    if isinstance(descr, list | tuple):
        return any(_descr_has_objects(part) for part in descr)
    return False


def _scan_npy(f: IO[bytes], relative: str, trust: Trust) -> FileScan:
    try:
        objects = _npy_has_objects(f)
    except (ValueError, SyntaxError, IndexError, struct.error, UnicodeDecodeError) as e:
        return FileScan(relative, NUMPY, ERROR, detail=f"unreadable .npy header: {e}")
    if not objects:
        return FileScan(relative, NUMPY, DATA_ONLY, detail="numeric .npy array: no pickle inside")
    start = f.tell()
    try:
        result = scan_pickle_bytes(f, relative)
        f.seek(start)
        parsed = bool(result.globals) or _parses_fully(f)
    except Exception as e:
        return FileScan(relative, NUMPY, ERROR, detail=f"picklescan failed: {e}")
    status, findings = _judge(result, trust)
    detail = "picklescan: object array pickle"
    if status in (CLEAN, SUSPICIOUS) and (result.scan_err or not parsed):
        status, detail = ERROR, "object array pickle could not be parsed"
    return FileScan(relative, NUMPY, status, findings, detail)


# -- zip archives (PyTorch, .npz) ------------------------------------------------------------


def _scan_zip(f: IO[bytes], relative: str, trust: Trust, depth: int) -> FileScan:
    try:
        with RelaxedZipFile(f, "r") as archive:
            entries = [
                _scan_zip_entry(archive, info, trust, depth)
                for info in archive.infolist()
                if not info.is_dir()
            ]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        return FileScan(relative, ZIP, ERROR, detail=f"unreadable zip archive: {e}")
    findings = tuple(sorted(f"{e.path}: {x}" for e in entries for x in e.findings))
    statuses = Counter(e.status for e in entries)
    errors = [f"{e.path}: {e.detail}" for e in entries if e.status == ERROR]
    scanned = statuses[CLEAN] + statuses[UNSAFE] + statuses[SUSPICIOUS] + statuses[ERROR]
    others = len(entries) - scanned - statuses[DATA_ONLY]
    summary = f"{scanned} pickle(s) scanned, {statuses[DATA_ONLY]} data-only, {others} other"
    for worst in (UNSAFE, ERROR, SUSPICIOUS):
        if statuses[worst]:
            return FileScan(
                relative, ZIP, worst, findings, _join(f"picklescan: {summary}", *errors)
            )
    if scanned:
        return FileScan(relative, ZIP, CLEAN, (), f"picklescan: {summary} entries")
    if entries and statuses[DATA_ONLY] == len(entries):
        return FileScan(relative, ZIP, DATA_ONLY, (), f"archive of data-only entries: {summary}")
    return FileScan(relative, ZIP, NOT_SCANNED, (), "zip archive without pickles")


def _scan_zip_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, trust: Trust, depth: int
) -> FileScan:
    name = info.filename  # findings are reported as "<entry>: <global> (<level>)"
    try:
        with archive.open(info, "r") as entry:
            head = entry.read(_HEAD)
        with archive.open(info, "r") as entry:
            suffix = os.path.splitext(info.filename)[1].lower()
            if _has_pickle_header(head) or suffix in {".pkl", ".pickle"}:
                scan = _scan_pickle(entry, name, head, trust)
            elif head.startswith(b"\x93NUMPY"):
                scan = _scan_npy(entry, name, trust)
            elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")) and depth < _MAX_ZIP_DEPTH:
                scan = _scan_zip(entry, name, trust, depth + 1)
            elif _looks_like_pickle(entry, info.file_size, lenient=suffix in PICKLE_EXTENSIONS):
                scan = _scan_pickle(entry, name, head, trust, detail="protocol 0/1 pickle")
            else:
                scan = FileScan(name, UNKNOWN, NOT_SCANNED, detail="not a pickle")
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError) as e:
        return FileScan(name, UNKNOWN, ERROR, detail=f"unreadable entry: {e}")
    return scan
