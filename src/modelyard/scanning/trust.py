"""Which imports of a pickle make it unsafe, suspicious or acceptable.

picklescan sorts every global a pickle imports into *innocuous* (its short safe list),
*dangerous* (``os.system``, ``eval``, ``exec``, ``subprocess.*`` …) and *suspicious*
(everything else). modelyard adds two lists on top:

- ``EXTRA_DANGEROUS``: imports picklescan only calls suspicious that hand an attacker code
  execution all the same (``__import__``, ``importlib``, ``marshal`` …). Dangerous wins over
  every trust.
- the **allowlist** of globals that well-known ML libraries write into ordinary model files,
  so that a plain scikit-learn, joblib, numpy, scipy or PyTorch model is ``clean`` rather than
  ``suspicious``: the exact names in ``TRUSTED_GLOBALS``, the sparse matrix classes of
  ``scipy.sparse``, and *classes* (CapWords names, plus Cython's pickling helpers) of
  ``sklearn`` outside its testing and vendored modules. Functions of those libraries are not
  trusted wholesale: some of them read files or run code (``sklearn.utils._testing`` runs
  Python scripts, ``numpy.memmap`` writes files), which is also why numpy is trusted name
  by name.

A deployment trusts more with ``MODELYARD_SCAN_TRUSTED_GLOBALS`` ("module.name" or "module.*",
comma-separated), e.g. its own model classes; trust never overrides a dangerous import.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from modelyard.errors import ConfigError

#: imports picklescan rates suspicious that amount to running arbitrary code
EXTRA_DANGEROUS = frozenset(
    {
        *(
            f"{builtins}.{name}"
            for builtins in ("builtins", "__builtin__")
            for name in ("__import__", "globals", "locals", "vars", "setattr", "delattr", "input")
        ),
        "importlib.*",
        "_imp.*",
        "marshal.*",
        "code.*",
        "codeop.*",
        "multiprocessing.*",
        "_posixsubprocess.*",
        "ctypes.*",
        "types.FunctionType",
        "types.MethodType",
        "numpy.load",
        "numpy.memmap",
        "numpy.fromfile",
        "numpy.lib.npyio.*",
        "joblib.load",
        "torch.load",
        "torch.storage._load_from_bytes",  # torch.load of embedded bytes: a pickle in a pickle
    }
)

_NUMPY_SCALARS = [
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "intc",
    "uintc",
    "intp",
    "uintp",
    "float16",
    "float32",
    "float64",
    "longdouble",
    "complex64",
    "complex128",
    "clongdouble",
    "str_",
    "bytes_",
    "void",
    "datetime64",
    "timedelta64",
    "object_",
]
_TORCH_DTYPES = [
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "complex64",
    "complex128",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool",
    "half",
    "float",
    "double",
    "long",
    "int",
    "short",
]

#: exact "module.name" globals that ordinary model files of well-known libraries import
TRUSTED_GLOBALS = frozenset(
    {
        # the standard library: containers and pickle's own reconstruction helpers
        *(f"builtins.{n}" for n in ("set", "frozenset", "slice", "complex", "bytearray", "range")),
        *(f"__builtin__.{n}" for n in ("set", "frozenset", "slice", "complex", "bytearray")),
        "collections.OrderedDict",
        "collections.defaultdict",
        "collections.Counter",
        "collections.deque",
        "copyreg._reconstructor",
        "copy_reg._reconstructor",
        "_codecs.encode",  # how protocol 0-2 pickles spell bytes
        "datetime.datetime",
        "datetime.date",
        "datetime.timedelta",
        "datetime.timezone",
        # numpy arrays, dtypes, scalars, masked arrays and random generators
        *(
            f"{m}.{n}"
            for m in ("numpy.core.multiarray", "numpy._core.multiarray")
            for n in ("_reconstruct", "scalar")
        ),
        *(f"{m}._frombuffer" for m in ("numpy.core.numeric", "numpy._core.numeric")),
        "numpy.dtype",
        "numpy.ndarray",
        *(f"numpy.{n}" for n in _NUMPY_SCALARS),
        *(
            f"numpy.dtypes.{n}"
            for n in (
                "Float64DType",
                "Float32DType",
                "Int64DType",
                "Int32DType",
                "BoolDType",
                "ObjectDType",
                "StrDType",
            )
        ),
        "numpy.ma.core._mareconstruct",
        "numpy.ma.core.MaskedArray",
        "numpy.ma.MaskedArray",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        "numpy.random.bit_generator.SeedSequence",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        # joblib's placeholders for the arrays it writes beside the pickle
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "joblib.numpy_pickle_compat.ZNDArrayWrapper",
        # PyTorch tensors and their storages (torch.save)
        *(
            f"torch._utils.{n}"
            for n in (
                "_rebuild_tensor",
                "_rebuild_tensor_v2",
                "_rebuild_parameter",
                "_rebuild_parameter_with_state",
                "_rebuild_qtensor",
                "_rebuild_sparse_tensor",
                "_rebuild_device_tensor_from_numpy",
            )
        ),
        "torch._tensor._rebuild_from_type_v2",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.Size",
        "torch.device",
        "torch.Tensor",
        "torch.nn.parameter.Parameter",
        *(f"torch.{n}" for n in _TORCH_DTYPES),
    }
)
#: packages whose *classes* are trusted (outside the modules in _UNTRUSTED_PARTS)
TRUSTED_CLASS_PACKAGES = ("sklearn",)
_UNTRUSTED_PARTS = frozenset({"tests", "testing", "_testing", "externals", "conftest", "__main__"})
_CYTHON_HELPERS = re.compile(r"__pyx_unpickle_\w+|newObj")
_SPARSE = re.compile(r"(bsr|coo|csc|csr|dia|dok|lil)_(matrix|array)")
_PATTERN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\.(\*|[A-Za-z_]\w*)")


@dataclass(frozen=True, slots=True)
class Trust:
    """The allowlist plus a deployment's own trusted globals ("module.name", "module.*")."""

    extra: Collection[str] = ()

    def is_dangerous(self, module: str, name: str) -> bool:
        return _listed(EXTRA_DANGEROUS, module, name)

    def trusts(self, module: str, name: str) -> bool:
        return (
            f"{module}.{name}" in TRUSTED_GLOBALS
            or _trusted_class(module, name)
            or _listed(self.extra, module, name)
        )


def parse_trusted_globals(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"pkg.Model, other.*"`` → ``("pkg.Model", "other.*")``; ConfigError on a bad entry."""
    entries = text.split(",") if isinstance(text, str) else list(text)
    found = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if not _PATTERN.fullmatch(entry):
            raise ConfigError(
                f"scan_trusted_globals: {entry!r} is not 'module.name' or 'module.*' "
                "(dotted Python identifiers, comma-separated)",
                field="scan_trusted_globals",
            )
        found.append(entry)
    return tuple(found)


def _listed(patterns: Collection[str], module: str, name: str) -> bool:
    """``module.name`` matches an exact entry, or ``pkg.*`` covers its module (or a submodule)."""
    if f"{module}.{name}" in patterns:
        return True
    return any(
        p.endswith(".*") and (module == p[:-2] or module.startswith(p[:-1])) for p in patterns
    )


def _trusted_class(module: str, name: str) -> bool:
    parts = module.split(".")
    if parts[0] == "scipy" and parts[1:2] == ["sparse"]:
        return _SPARSE.fullmatch(name) is not None and _UNTRUSTED_PARTS.isdisjoint(parts)
    if parts[0] not in TRUSTED_CLASS_PACKAGES or not _UNTRUSTED_PARTS.isdisjoint(parts):
        return False
    is_class = name.lstrip("_")[:1].isupper() and name.isidentifier()
    return is_class or _CYTHON_HELPERS.fullmatch(name) is not None
