"""Real model files through the scanner: what scikit-learn, joblib and numpy write is clean,
what an attacker writes is not, and joblib's raw array bytes do not hide anything."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelyard.errors import ConfigError
from modelyard.scanning.scanner import scan_directory, scan_file, scan_stream
from modelyard.scanning.trust import Trust, parse_trusted_globals
from modelyard.transfer.blob_reader import open_blob


class _Reduce:
    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


class CustomModel:
    """A team's own model class: not on any allowlist."""

    def __init__(self) -> None:
        self.weights = np.arange(4.0)


def _fitted() -> list[Any]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = (x[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of tiny fits
        return [
            LogisticRegression().fit(x, y),
            RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y),
            HistGradientBoostingClassifier(max_iter=3).fit(x, y),
            make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
            KNeighborsClassifier(algorithm="kd_tree").fit(x, y),
            OneHotEncoder().fit([["a"], ["b"]]),  # object arrays: nested pickles in joblib
        ]


MODELS = _fitted()


@pytest.mark.parametrize("model", MODELS, ids=[type(m).__name__ for m in MODELS])
@pytest.mark.parametrize("how", ["joblib", "pickle"])
def test_a_scikit_learn_model_is_clean(tmp_path: Path, model: Any, how: str) -> None:
    path = tmp_path / f"model.{how}"
    if how == "joblib":
        joblib.dump(model, path)
    else:
        path.write_bytes(pickle.dumps(model))
    scan = scan_file(path, path.name)
    assert (scan.kind, scan.status, scan.findings) == ("pickle", "clean", ()), scan.detail


def test_joblib_arrays_of_every_layout_are_followed(tmp_path: Path) -> None:
    arrays = {
        "floats": np.arange(1000.0).reshape(100, 10),
        "fortran": np.asfortranarray(np.ones((3, 4))),
        "empty": np.zeros((0, 3)),
        "scalar": np.float32(3),
        "strings": np.array(["ab", "c"]),
        "dates": np.array(["2020-01-01"], dtype="M8[ns]"),
        "structured": np.zeros(3, dtype=[("a", "f4"), ("b", "i8")]),
        "objects": np.array([1, "a", None], dtype=object),
        "mixed": np.zeros(2, dtype=[("a", "f4"), ("b", "O")]),
    }
    path = tmp_path / "arrays.joblib"
    joblib.dump(arrays, path)
    scan = scan_file(path, "arrays.joblib")
    assert scan.status == "clean", scan.detail
    assert "joblib: 6 numpy array(s) as raw data, 2 object array(s)" in scan.detail


def test_a_dangerous_call_after_joblib_arrays_is_found(tmp_path: Path) -> None:
    # the call sits after raw array bytes, where a plain pickle parser has already given up
    payload = {"weights": np.random.default_rng(1).random(5000), "hook": _Reduce(os.system, "x")}
    path = tmp_path / "model.joblib"
    joblib.dump(payload, path)
    scan = scan_file(path, "model.joblib")
    assert scan.status == "unsafe"
    assert "posix.system (dangerous)" in scan.findings


def test_a_dangerous_call_inside_an_object_array_is_found(tmp_path: Path) -> None:
    hidden = np.array([_Reduce(eval, "1+1"), 2], dtype=object)
    path = tmp_path / "model.joblib"
    joblib.dump({"a": np.arange(3.0), "b": hidden}, path)
    scan = scan_file(path, "model.joblib")
    assert scan.status == "unsafe"
    assert "builtins.eval (dangerous)" in scan.findings


def test_a_truncated_joblib_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"weights": np.arange(10_000.0)}, path)
    path.write_bytes(path.read_bytes()[:5000])  # cut inside the array
    scan = scan_file(path, "model.joblib")
    assert scan.status == "error"
    assert "joblib layout not followed" in scan.detail


def test_a_compressed_joblib_file_is_not_scanned_never_clean(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(MODELS[0], path, compress=3)
    assert scan_file(path, "model.joblib").status == "not_scanned"


def test_a_models_own_class_is_suspicious_until_trusted(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(CustomModel(), path)
    scan = scan_file(path, "model.joblib")
    assert scan.status == "suspicious"
    assert scan.findings == (f"{__name__}.CustomModel (suspicious)",)
    trusted = scan_file(path, "model.joblib", trusted_globals=[f"{__name__}.CustomModel"])
    assert trusted.status == "clean"
    by_module = scan_file(path, "model.joblib", trusted_globals=[f"{__name__.split('.')[0]}.*"])
    assert by_module.status == "clean"


@pytest.mark.parametrize(
    ("module", "name", "trusted"),
    [
        ("sklearn.linear_model._logistic", "LogisticRegression", True),
        ("sklearn.tree._tree", "Tree", True),
        ("sklearn.neighbors._kd_tree", "newObj", True),  # Cython's pickling helper
        ("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper", True),
        ("sklearn.utils._testing", "TempMemmap", False),  # testing modules are not trusted
        ("sklearn.utils._testing", "assert_run_python_script_without_output", False),
        ("sklearn.datasets._base", "load_files", False),  # functions are not trusted
        ("scipy.sparse._csr", "csr_matrix", True),
        ("scipy.sparse._csr", "whatever", False),
        ("numpy", "memmap", False),
        ("numpy._core.multiarray", "_reconstruct", True),
        ("joblib.numpy_pickle", "NumpyArrayWrapper", True),
        ("collections", "OrderedDict", True),
        ("torch._utils", "_rebuild_tensor_v2", True),
    ],
)
def test_the_allowlist_trusts_library_classes_not_functions(
    module: str, name: str, trusted: bool
) -> None:
    assert Trust().trusts(module, name) is trusted


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("builtins", "__import__"),
        ("importlib", "import_module"),
        ("numpy", "load"),
        ("numpy", "memmap"),
        ("torch", "load"),
        ("marshal", "loads"),
    ],
)
def test_imports_that_run_code_are_dangerous_even_when_trusted(module: str, name: str) -> None:
    trust = Trust(extra=(f"{module}.*", f"{module}.{name}"))
    assert trust.is_dangerous(module, name)


def test_a_safetensors_file_and_an_unknown_file_in_one_directory(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(
        struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0)
    )
    assert scan_directory(tmp_path).verdict == "clean"
    (tmp_path / "weights.dat").write_bytes(os.urandom(256))  # no scanner understands it
    report = scan_directory(tmp_path)
    assert report.verdict == "partial"
    assert [(f.path, f.status) for f in report.files] == [
        ("model.safetensors", "data_only"),
        ("weights.dat", "not_scanned"),
    ]


def test_scanning_a_stream_matches_scanning_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(MODELS[3], path)
    data = path.read_bytes()
    assert scan_stream(io.BytesIO(data), "model.joblib", len(data)) == scan_file(
        path, "model.joblib"
    )


class _Blobs:
    """A blob store serving ranges of in-memory blobs, counting the bytes it serves."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs, self.served = blobs, 0

    def read(self, sha256: str, *, start: int = 0, end: int | None = None) -> Any:
        data = self.blobs[sha256][start:end]
        self.served += len(data)
        for i in range(0, len(data), 1 << 16):
            yield data[i : i + (1 << 16)]


def test_a_blob_is_scanned_by_ranges_reading_only_what_the_scanner_needs() -> None:
    header = json.dumps({"w": {"dtype": "U8", "shape": [8 << 20], "data_offsets": [0, 8 << 20]}})
    tensors = struct.pack("<Q", len(header)) + header.encode() + bytes(8 << 20)
    store = _Blobs({"t": tensors})
    stream, raw = open_blob(store, "t", len(tensors))  # type: ignore[arg-type]
    with stream:
        scan = scan_stream(stream, "model.safetensors", len(tensors))
    assert (scan.status, raw.error) == ("data_only", None)
    assert store.served < 2 << 20  # the header and a probe, not 8 MiB


def test_parse_trusted_globals_names_the_setting_and_the_bad_entry() -> None:
    assert parse_trusted_globals(" acme.models.Net, acme_features.* ,") == (
        "acme.models.Net",
        "acme_features.*",
    )
    with pytest.raises(ConfigError, match=r"scan_trusted_globals: 'os' is not") as raised:
        parse_trusted_globals("acme.Net, os")
    assert raised.value.field == "scan_trusted_globals"
