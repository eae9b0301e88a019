"""retrieval/npz.py: .npz archives read as np.load reads them, without building an AST."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import numpy as np
import pytest

from retrieval.npz import NpzArchive, read_array

ARRAYS = {
    "half": np.arange(12, dtype=np.float16).reshape(3, 4),
    "float": np.linspace(-1, 1, 7, dtype=np.float32),
    "counts": np.array([0, 65535, 7], dtype=np.uint16),
    "big": np.array([2**40, -3], dtype=np.int64),
    "words": np.array(["a", "captured", "Kyiv’s"]),
    "flags": np.array([True, False]),
    "scalar": np.array(0.5),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
    "big_endian": np.array([1, 2], dtype=">i4"),
}


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_arrays_read_back_as_numpy_reads_them(tmp_path: Path, save, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.npz"
    save(path, **ARRAYS)
    expected = np.load(path)

    built: list[object] = []
    real_parse = ast.parse
    monkeypatch.setattr(ast, "parse", lambda *a, **k: built.append(a) or real_parse(*a, **k))
    with NpzArchive(path) as z:
        got = {name: z[name] for name in ARRAYS}
        files = list(z.files)
        assert "words" in z and "nope" not in z
        with pytest.raises(KeyError):
            z["nope"]
    monkeypatch.undo()
    assert built == []
    assert sorted(files) == sorted(ARRAYS)
    for name in ARRAYS:
        assert got[name].dtype == expected[name].dtype and got[name].shape == expected[name].shape, name
        assert np.array_equal(got[name], expected[name]), name
        assert got[name].flags.writeable


def test_what_numpy_did_not_write_is_refused() -> None:
    with pytest.raises(ValueError):
        read_array(io.BytesIO(b"not an array at all"))
    buf = io.BytesIO()
    np.save(buf, np.arange(10))
    raw = buf.getvalue()
    with pytest.raises(ValueError, match="truncated"):
        read_array(io.BytesIO(raw[:-8]))
    with pytest.raises(ValueError, match="dtype"):
        read_array(io.BytesIO(raw.replace(b"'<i8'", b"'<zz'")))
    header = raw.replace(b"'fortran_order'", b"'fortran_ordex'")
    with pytest.raises(ValueError, match="header"):
        read_array(io.BytesIO(header))
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        read_array(io.BytesIO(buf.getvalue()))
