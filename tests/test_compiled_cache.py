"""retrieval/compiled_cache.py: a compiled model kept in the data dir answers exactly as a fresh
compile does, and a missing, damaged or unwritable cache only costs a compile."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from faultkit import run_cli
from factdesk.service import Factdesk
from retrieval.minilm import OpenVinoMiniLM

TEXTS = ["When were the two soldiers captured?", "Troops were sent to the Kursk region in the autumn."]


def encoder(cache_dir: Path | None) -> OpenVinoMiniLM:
    model = OpenVinoMiniLM(threads=1, cache_dir=cache_dir)
    model.load()
    return model


@pytest.fixture(scope="module")
def fresh() -> np.ndarray:
    return encoder(None).encode(TEXTS)


def test_a_cached_model_encodes_exactly_as_a_compiled_one(tmp_path: Path, fresh: np.ndarray) -> None:
    first = encoder(tmp_path)
    assert not first.from_cache and len(list(tmp_path.glob("*.blob"))) == 1
    second = encoder(tmp_path)
    assert second.from_cache
    assert np.array_equal(first.encode(TEXTS), fresh) and np.array_equal(second.encode(TEXTS), fresh)


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "other key", "empty"])
def test_a_damaged_cache_file_is_compiled_again_and_replaced(
    tmp_path: Path, fresh: np.ndarray, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    encoder(tmp_path)
    (blob,) = tmp_path.glob("*.blob")
    data = bytearray(blob.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncated":
        data = data[: len(data) - 1000]
    elif damage == "other key":
        data[40] ^= 0x01  # inside the stored key
    else:
        data = bytearray()
    blob.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="factdesk.embed"):
        model = encoder(tmp_path)
    assert not model.from_cache and "not used" in caplog.text
    assert np.array_equal(model.encode(TEXTS), fresh)
    assert encoder(tmp_path).from_cache  # the compile wrote a good file again


def test_an_unwritable_cache_dir_only_costs_the_compile(tmp_path: Path, fresh: np.ndarray) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    model = encoder(blocked / "model-cache")  # mkdir fails: nothing is kept, nothing is raised
    assert not model.from_cache and np.array_equal(model.encode(TEXTS), fresh)


def test_ask_with_the_reader_answers_the_same_from_a_damaged_cache(seeded: Factdesk, tmp_path: Path) -> None:
    """The CLI's case, in new processes: the first ask compiles and keeps both graphs (question encoder
    and reader), the next imports them, and one after the files were damaged compiles again; all three
    print the same answer."""
    data = Path(seeded.settings.data_dir)
    question = "When were the two soldiers captured?"
    outputs = []
    for damage in (False, False, True):
        if damage:
            for blob in (data / "model-cache").glob("*.blob"):
                raw = bytearray(blob.read_bytes())
                raw[len(raw) // 3] ^= 0xFF
                blob.write_bytes(bytes(raw))
        r = run_cli(["ask", question, "--json"], data, ROOT, FACTDESK_ANSWERER="reader")
        assert r.returncode == 0, r.stderr
        outputs.append(json.loads(r.stdout))
        assert {p.name.split("-")[0] for p in (data / "model-cache").glob("*.blob")} == {
            "OpenVinoMiniLM",
            "Reader",
        }
    assert outputs[0] == outputs[1] == outputs[2]
