"""joblib's file layout: numpy arrays written as raw bytes in the middle of the pickle stream.

``joblib.dump`` pickles each numpy array as a ``NumpyArrayWrapper`` (shape, dtype, order) and
writes the array's bytes straight after that object's ``BUILD`` opcode — after a padding
byte and padding when the wrapper has ``numpy_array_alignment_bytes`` (joblib >= 1.2);
arrays holding Python objects are written as a nested pickle instead. ``joblib.load`` reads
the wrapper, then the bytes. A plain pickle parser (picklescan's) stops at the first array.

:func:`read_layout` walks the opcodes the way joblib's unpickler does, without running
anything: a small symbolic machine keeps just enough of the stack and memo to read each
wrapper's shape and dtype, skips the array bytes by seeking, and notes where they were and
where the nested pickles of object arrays are. :func:`pickle_views` then shows a scanner each
pickle on its own — the main one with the arrays and nested pickles cut out, and every nested
one — each a well-formed pickle with its own memo, whose every opcode joblib would execute.
"""

from __future__ import annotations

import bisect
import io
import math
import pickletools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_TYPESTR = re.compile(r"[A-Za-z](\d+)")
#: opcodes that push their argument
_LITERALS = frozenset(
    (
        *("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT"),
        *("STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE"),
        *("BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"),
    )
)
_IGNORED = frozenset({"PROTO", "FRAME", "READONLY_BUFFER"})
_MAX_HOLES = 1_000_000


class NotJoblib(Exception):
    """The stream is not a joblib pickle this module can follow."""


class _Global:
    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class _Obj:
    """A call the unpickler would make (never made here) and the state it would set."""

    __slots__ = ("args", "func", "state")

    def __init__(self, func: object, args: object = ()) -> None:
        self.func, self.args, self.state = func, args, None


_MARK = object()


@dataclass
class Layout:
    """Where a joblib file keeps raw array bytes and nested pickles (``[start, end)``)."""

    size: int
    arrays: list[tuple[int, int]] = field(default_factory=list)
    nested: list[tuple[int, int]] = field(default_factory=list)


def read_layout(f: IO[bytes], size: int) -> Layout:
    """Follow a joblib file to its end; NotJoblib when it does not follow joblib's layout."""
    f.seek(0)
    layout = Layout(size)
    try:
        while True:
            _Machine(f, layout).run()
            if f.read(1) == b"":
                return layout
            f.seek(-1, 1)
    except NotJoblib:
        raise
    except Exception as e:  # pickletools raises ValueError, but garbage can raise others
        raise NotJoblib(f"{type(e).__name__}: {e}") from e
    finally:
        f.seek(0)


class _Machine:
    """Just enough of pickle's virtual machine to follow joblib's layout; calls nothing."""

    def __init__(self, f: IO[bytes], layout: Layout | None) -> None:
        self.f, self.layout = f, layout  # layout None: a nested pickle (no wrappers expected)
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}

    def run(self) -> None:
        ops = 0
        for opcode, arg, _pos in pickletools.genops(self.f):
            ops += 1
            name = opcode.name
            if name == "STOP":
                return
            if name in _LITERALS:
                self.stack.append(arg)
            elif name not in _IGNORED:
                handler = _HANDLERS.get(name)
                if handler is None:
                    raise NotJoblib(f"opcode {name} is not followed")
                handler(self, arg)
        raise NotJoblib("no pickle" if ops == 0 else "the pickle has no STOP")

    # -- stack helpers

    def pop(self) -> Any:
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        items, self.stack = self.stack, self.marks.pop()
        return items

    def push(self, value: Any) -> None:
        self.stack.append(value)

    # -- the wrapper

    def build(self, _arg: object) -> None:
        state = self.pop()
        target = self.stack[-1]
        if isinstance(target, _Obj):
            target.state = state
            func = target.func
            if isinstance(func, _Global) and (func.module, func.name) == WRAPPER:
                if self.layout is None:
                    raise NotJoblib("a NumpyArrayWrapper inside an object array")
                self.skip_array(state, self.layout)

    def skip_array(self, state: object, layout: Layout) -> None:
        if not isinstance(state, dict):
            raise NotJoblib("a NumpyArrayWrapper without a state dict")
        shape, dtype = state.get("shape"), state.get("dtype")
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise NotJoblib("a NumpyArrayWrapper without a shape")
        itemsize, has_objects = _dtype_layout(dtype)
        start = self.f.tell()
        if has_objects:  # a nested pickle of the array: scanned as a pickle of its own
            _Machine(self.f, None).run()
            layout.nested.append((start, self.f.tell()))
            return
        length = math.prod(shape) * itemsize
        if "numpy_array_alignment_bytes" in state:
            padding = self.f.read(1)
            if not padding:
                raise NotJoblib("the file ends before an array")
            length += 1 + padding[0]
        if start + length > layout.size or len(layout.arrays) >= _MAX_HOLES:
            raise NotJoblib("an array runs past the end of the file")
        layout.arrays.append((start, start + length))
        self.f.seek(start + length)


def _dtype_layout(dtype: object) -> tuple[int, bool]:
    """(item size, holds Python objects) of a pickled ``numpy.dtype``."""
    if not isinstance(dtype, _Obj) or not isinstance(dtype.args, tuple) or not dtype.args:
        raise NotJoblib("an array without a readable dtype")
    typestr, state = dtype.args[0], dtype.state
    if not isinstance(typestr, str) or not isinstance(state, tuple) or len(state) < 8:
        raise NotJoblib("an array without a readable dtype")
    elsize, flags = state[5], state[7]
    has_objects = typestr.startswith("O") or (isinstance(flags, int) and bool(flags & 1))
    if isinstance(elsize, int) and elsize > 0:
        return elsize, has_objects
    digits = _TYPESTR.fullmatch(typestr)
    if digits is None:
        raise NotJoblib(f"dtype {typestr!r} has no item size")
    return int(digits.group(1)), has_objects


def _constant(value: Callable[[], Any]) -> Callable[[_Machine, object], None]:
    return lambda m, _arg: m.push(value())


def _mark(m: _Machine, _arg: object) -> None:
    m.marks.append(m.stack)
    m.stack = []


def _pop(m: _Machine, _arg: object) -> None:
    if m.stack:
        m.pop()
    else:
        m.pop_mark()


def _drop_mark(m: _Machine, _arg: object) -> None:
    m.pop_mark()


def _frozenset(m: _Machine, _arg: object) -> None:
    m.pop_mark()
    m.push(_Obj(None))


def _append(m: _Machine, _arg: object) -> None:
    value = m.pop()
    if isinstance(m.stack[-1], list):
        m.stack[-1].append(value)


def _appends(m: _Machine, _arg: object) -> None:
    items = m.pop_mark()
    if isinstance(m.stack[-1], list):
        m.stack[-1].extend(items)


def _setitems(m: _Machine, items: list[Any]) -> None:
    target = m.stack[-1]
    if isinstance(target, dict):
        for key, value in zip(items[::2], items[1::2], strict=True):
            if key.__hash__ is not None and not isinstance(key, _Obj | _Global):
                target[key] = value


def _dict(m: _Machine, _arg: object) -> None:
    items = m.pop_mark()
    m.push({})
    _setitems(m, items)


def _global(m: _Machine, arg: object) -> None:
    module, _, name = str(arg).partition(" ")
    m.push(_Global(module, name))


def _stack_global(m: _Machine, _arg: object) -> None:
    name, module = m.pop(), m.pop()
    m.push(_Global(str(module), str(name)))


def _inst(m: _Machine, arg: object) -> None:
    module, _, name = str(arg).partition(" ")
    m.push(_Obj(_Global(module, name), tuple(m.pop_mark())))


def _obj(m: _Machine, _arg: object) -> None:
    items = m.pop_mark()
    m.push(_Obj(items[0], tuple(items[1:])))


def _reduce(m: _Machine, _arg: object) -> None:
    args, func = m.pop(), m.pop()
    m.push(_Obj(func, args))


def _newobj_ex(m: _Machine, _arg: object) -> None:
    _kwargs, args, cls = m.pop(), m.pop(), m.pop()
    m.push(_Obj(cls, args))


def _put(m: _Machine, arg: object) -> None:
    m.memo[int(arg)] = m.stack[-1]  # type: ignore[call-overload]


def _memoize(m: _Machine, _arg: object) -> None:
    m.memo[len(m.memo)] = m.stack[-1]


def _get(m: _Machine, arg: object) -> None:
    m.push(m.memo[int(arg)])  # type: ignore[call-overload]


def _replace_top(m: _Machine, _arg: object) -> None:
    m.pop()
    m.push(_Obj(None))


_HANDLERS: dict[str, Callable[[_Machine, Any], None]] = {
    "MARK": _mark,
    "POP": _pop,
    "POP_MARK": _drop_mark,
    "DUP": lambda m, _a: m.push(m.stack[-1]),
    "NONE": _constant(lambda: None),
    "NEWTRUE": _constant(lambda: True),
    "NEWFALSE": _constant(lambda: False),
    "EMPTY_TUPLE": _constant(tuple),
    "TUPLE": lambda m, _a: m.push(tuple(m.pop_mark())),
    "TUPLE1": lambda m, _a: m.push((m.pop(),)),
    "TUPLE2": lambda m, _a: m.push(tuple(reversed([m.pop(), m.pop()]))),
    "TUPLE3": lambda m, _a: m.push(tuple(reversed([m.pop(), m.pop(), m.pop()]))),
    "EMPTY_LIST": _constant(list),
    "LIST": lambda m, _a: m.push(m.pop_mark()),
    "APPEND": _append,
    "APPENDS": _appends,
    "EMPTY_DICT": _constant(dict),
    "DICT": _dict,
    "SETITEM": lambda m, _a: _setitems(m, list(reversed([m.pop(), m.pop()]))),
    "SETITEMS": lambda m, _a: _setitems(m, m.pop_mark()),
    "EMPTY_SET": _constant(lambda: _Obj(None)),
    "ADDITEMS": _drop_mark,
    "FROZENSET": _frozenset,
    "GLOBAL": _global,
    "STACK_GLOBAL": _stack_global,
    "INST": _inst,
    "OBJ": _obj,
    "REDUCE": _reduce,
    "NEWOBJ": _reduce,
    "NEWOBJ_EX": _newobj_ex,
    "BUILD": _Machine.build,
    "PUT": _put,
    "BINPUT": _put,
    "LONG_BINPUT": _put,
    "MEMOIZE": _memoize,
    "GET": _get,
    "BINGET": _get,
    "LONG_BINGET": _get,
    "EXT1": _constant(lambda: _Obj(None)),
    "EXT2": _constant(lambda: _Obj(None)),
    "EXT4": _constant(lambda: _Obj(None)),
    "PERSID": _constant(lambda: _Obj(None)),
    "BINPERSID": _replace_top,
    "NEXT_BUFFER": _constant(lambda: _Obj(None)),
}


def pickle_views(f: IO[bytes], layout: Layout, buffer_size: int = 1 << 16) -> list[IO[bytes]]:
    """Each pickle of the file as a stream of its own: the main one first."""
    cut = sorted(layout.arrays + layout.nested)
    views: list[io.RawIOBase] = [WithoutHoles(f, layout.size, cut)]
    for start, end in layout.nested:
        views.append(WithoutHoles(f, layout.size, [(0, start), (end, layout.size)]))
    return [io.BufferedReader(view, buffer_size) for view in views]


class WithoutHoles(io.RawIOBase):
    """A read-only view of a seekable stream with some byte ranges cut out."""

    def __init__(self, raw: IO[bytes], size: int, holes: Sequence[tuple[int, int]]) -> None:
        super().__init__()
        self._raw = raw
        # kept segments as (virtual start, real start, length)
        self._segments: list[tuple[int, int, int]] = []
        virtual = real = 0
        for start, end in [*holes, (size, size)]:
            if start > real:
                self._segments.append((virtual, real, start - real))
                virtual += start - real
            real = end
        self._starts = [s[0] for s in self._segments]
        self._size = virtual
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size:
            return 0
        index = bisect.bisect_right(self._starts, self._pos) - 1
        virtual, real, length = self._segments[index]
        into = self._pos - virtual
        count = min(len(buffer), length - into)
        self._raw.seek(real + into)
        data = self._raw.read(count)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
