"""Arrays from .npz archives (np.savez), read without numpy's header parser, and written atomically.

np.load parses each array's header with ast.literal_eval. CPython 3.11 keeps the AST builder's
recursion count in interpreter-wide state, so two threads building an AST at once can fail with
"SystemError: AST constructor recursion depth mismatch" (python/cpython#106905). Here one thread
loads the reader or the keyword index in the background while another formats a traceback
(Python 3.11's tracebacks parse source lines) or imports a module. numpy writes the header as a
fixed-format dict literal, so a regular expression reads it.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

_MAGIC = b"\x93NUMPY"
_HEADER = re.compile(r"\{'descr': '([^']+)', 'fortran_order': (True|False), 'shape': \(([\d, ]*)\), \}\s*")


def read_array(f: IO[bytes]) -> np.ndarray:
    """One .npy array from a binary stream; ValueError when it is not one numpy wrote."""
    prefix = f.read(8)
    if len(prefix) < 8 or prefix[:6] != _MAGIC or prefix[6] not in (1, 2, 3):
        raise ValueError("not a .npy array")
    size = int.from_bytes(f.read(2 if prefix[6] == 1 else 4), "little")
    header = f.read(size).decode("utf-8" if prefix[6] == 3 else "latin-1")
    m = _HEADER.fullmatch(header)
    if m is None:
        raise ValueError(f"unsupported .npy header {header[:100]!r}")
    try:
        dtype = np.dtype(m.group(1))
    except TypeError as e:
        raise ValueError(f"unsupported .npy dtype {m.group(1)!r}") from e
    if dtype.hasobject:
        raise ValueError("object arrays are not read")
    shape = tuple(int(d) for d in m.group(3).split(",") if d.strip())
    fortran = m.group(2) == "True"
    # a Fortran-ordered array is stored as its transpose in C order
    out = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
    buf = out.reshape(-1).view(np.uint8).data
    got = 0
    while got < len(buf):
        n = f.readinto(buf[got:])  # type: ignore[attr-defined]
        if not n:
            raise ValueError("truncated .npy array")
        got += n
    return out.T if fortran else out


class NpzArchive:
    """The arrays of an .npz file by name (np.load's NpzFile for what factdesk writes), each read when
    asked for."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path)
        self.files = [n.removesuffix(".npy") for n in self._zip.namelist() if n.endswith(".npy")]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.files:
            raise KeyError(name)
        with self._zip.open(name + ".npy") as f:
            return read_array(f)

    def __contains__(self, name: object) -> bool:
        return name in self.files

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Write `arrays` to `path` as an .npz archive, atomically: beside it first, then renamed over it,
    so a reader never sees half a file; what was written aside is removed when the write fails (a
    full disk), and the error is the caller's."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # the stub types **kwds as allow_pickle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
