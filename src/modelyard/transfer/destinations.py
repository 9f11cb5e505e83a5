"""Writing where the user asked: errors that name the destination, and files and
directories whose mode follows the umask (like any file a user's tool writes)."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.errors import ModelyardError, StorageError, ValidationError

#: errnos that mean "this path cannot be written" (bad input, exit 2); others, such as a
#: full disk, are failures of the storage (exit 1). Both name the path.
_BAD_PATH = {
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EROFS,
    errno.EEXIST,
    errno.ENAMETOOLONG,
    errno.ELOOP,
    errno.EINVAL,
}


def destination_error(error: OSError, path: str | Path, *, field: str) -> ModelyardError:
    """The error to raise for an OSError met while writing ``path``."""
    reason = error.strerror or str(error)
    message = f"{field}: cannot write {str(path)!r}: {reason}"
    if error.errno in _BAD_PATH:
        return ValidationError(message, field=field)
    return StorageError(message, field=field)


@contextmanager
def writing(path: str | Path, *, field: str = "destination") -> Iterator[None]:
    """Turn an OSError in the block into :func:`destination_error` for ``path``. Wrap only
    the writes: an OSError from reading a source is not the destination's fault."""
    try:
        yield
    except OSError as e:
        raise destination_error(e, path, field=field) from e


def create_temp_file(directory: Path, *, prefix: str) -> tuple[int, Path]:
    """A new file in ``directory`` (open for writing), mode 0666 less the umask: the
    kernel applies the umask, so no thread-unsafe ``os.umask`` round trip is needed
    (``tempfile.mkstemp`` would make it 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = directory / f"{prefix}{secrets.token_hex(8)}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue


def create_temp_directory(parent: Path, *, prefix: str) -> Path:
    """A new directory in ``parent``, mode 0777 less the umask (``mkdtemp`` makes 0700)."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(8)}"
        try:
            path.mkdir(0o777)
            return path
        except FileExistsError:
            continue


def write_text(path: Path, text: str, *, field: str = "output") -> None:
    """Write ``text`` to ``path`` (a user's ``--output FILE``), naming it on failure."""
    with writing(path, field=field):
        path.write_text(text, encoding="utf-8")


def write_lines(path: Path, lines: Iterable[str], *, field: str = "destination") -> None:
    """Write ``lines`` to ``path``. Errors of the writes name ``path``; errors of
    producing the lines (a database, a server) pass through unchanged."""
    with writing(path, field=field):
        out = path.open("w", encoding="utf-8")
    with out:
        for line in lines:
            with writing(path, field=field):
                out.write(line)
        with writing(path, field=field):
            out.flush()
