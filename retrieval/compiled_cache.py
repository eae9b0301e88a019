"""Compiled OpenVINO models kept in the data dir, so a new process imports one instead of building and
compiling the graph again.

Why: every `factdesk ask` runs in a new process, and building the question encoder's graph from the
bundled weights and compiling it was the largest part of its cold start after the imports (the reader
compiles a second one); importing the exported model skips the weight transposes and the graph
(BENCHMARKS.md section 5).

Only a cache: a file that is missing, unreadable, damaged (its CRC-32 is checked before OpenVINO sees
a byte), written for another key, or refused by OpenVINO is ignored and the model is compiled as
before; one that cannot be written (a read-only or full data dir) is simply not kept. The key, in
the file name and in the file, covers everything the compiled model depends on (`cache_key`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("factdesk.embed")

MAGIC = b"factdesk-openvino-compiled\n"
_HEADER = struct.Struct("<32sIQ")  # key (sha256), CRC-32 and length of the exported model


def cache_key(parts: Iterable[object], files: Iterable[Path]) -> bytes:
    """sha256 of `parts` (versions, device, compile settings) and of each file's path, size and
    modification time (the weights; a replaced file is a new key) and content (the source that builds
    the graph: small)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode() + b"\0")
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        if f.suffix == ".py":
            h.update(f.read_bytes())
    return h.digest()


def source_files(cls: type) -> list[Path]:
    """The modules that define `cls` and its bases: the code that builds the graph."""
    out = []
    for c in cls.__mro__:
        path = getattr(sys.modules.get(c.__module__), "__file__", None)
        if path and Path(path).suffix == ".py" and Path(path) not in out:
            out.append(Path(path))
    return out


def blob_path(cache_dir: Path, name: str, key: bytes) -> Path:
    return cache_dir / f"{name}-{key.hex()[:16]}.blob"


def load_compiled(core: Any, path: Path, key: bytes, device: str, config: dict) -> Any | None:
    """The compiled model kept at `path`, or None when there is none fit to use."""
    try:
        with path.open("rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise ValueError("not a compiled-model file")
            stored_key, crc, length = _HEADER.unpack(f.read(_HEADER.size))
            if stored_key != key:
                raise ValueError("written for another model or settings")
            data = f.read(length + 1)
        if len(data) != length or zlib.crc32(data) != crc:
            raise ValueError("damaged (length or CRC-32 differs)")
        return core.import_model(data, device, config)
    except FileNotFoundError:
        return None
    except Exception as e:  # unreadable, damaged, or refused by OpenVINO: compile instead
        log.warning("compiled-model cache %s not used (%s); compiling", path.name, e)
        return None


def save_compiled(compiled: Any, path: Path, key: bytes) -> None:
    """Keep `compiled` at `path` (atomically: written aside, then renamed), and drop the files of
    the same model under older keys. A data dir that cannot take it just goes without."""
    tmp = None
    try:
        data = compiled.export_model()
        data = data.getvalue() if hasattr(data, "getvalue") else bytes(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".blob")
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + _HEADER.pack(key, zlib.crc32(data), len(data)) + data)
        os.replace(tmp, path)
        tmp = None
        stem = path.name.rsplit("-", 1)[0]
        for old in path.parent.glob(f"{stem}-*.blob"):
            if old != path:
                old.unlink(missing_ok=True)
    except Exception as e:  # read-only or full data dir, or an export OpenVINO refuses: no cache
        log.info("compiled model not cached at %s: %s", path.parent, e)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
