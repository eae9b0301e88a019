"""A fine-tuned embedder (FACTDESK_EMBEDDER_WEIGHTS): its tensors replace the base model's in every
encoder, it is a vector space of its own, a store written without it is re-embedded by a repair, and
the training script writes weights the service reproduces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES, SQUAD

from factdesk.settings import PROJECT_ROOT
from retrieval.embed import LocalEmbedder
from retrieval.minilm import NumpyMiniLM
from training import base_weights
from training.train_embedder import nearest_foreign

TEXTS = ["Who opened the bridge?", "The mayor opened the bridge on Monday.", "It cost 12 million euros."]
TUNED = "encoder.layer.5.output.LayerNorm.bias"  # added straight to what is pooled


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights that differ from the base in one tensor: enough to move every vector a little."""
    bias = base_weights.load(base_weights.default_base())[TUNED]
    path = tmp_path_factory.mktemp("tuned") / "embedder.npz"
    shift = np.random.default_rng(0).normal(0.0, 0.05, bias.shape)
    np.savez(path, **{TUNED: (bias + shift).astype(np.float16)})
    return path


def test_tuned_weights_move_the_vectors_in_every_encoder(warm_model: None, tuned: Path) -> None:
    base = LocalEmbedder().embed_bulk(TEXTS)
    served = LocalEmbedder(tuned=tuned, precision="fp32")
    bulk, one = served.embed_bulk(TEXTS), served.embed(TEXTS[:1])
    exact = NumpyMiniLM(tuned=tuned).encode(TEXTS)
    exact /= np.linalg.norm(exact, axis=1, keepdims=True)
    assert float(np.min(np.sum(bulk * exact, axis=1))) > 0.9999  # the OpenVINO graph has the tensor too
    assert float(one[0] @ exact[0]) > 0.9999  # and so does the question path
    moved = np.sum(base * exact, axis=1)
    assert float(np.max(moved)) < 0.9999 and float(np.min(moved)) > 0.9


def test_tuned_weights_are_a_vector_space_of_their_own(tuned: Path, tmp_path: Path) -> None:
    base, mine = LocalEmbedder(), LocalEmbedder(tuned=tuned)
    assert base.name == "local:all-MiniLM-L6-v2" and mine.name.startswith(base.name + "+")
    copy = tmp_path / "copy.npz"
    copy.write_bytes(tuned.read_bytes())
    assert LocalEmbedder(tuned=copy).name == mine.name  # named by what the file holds, not where
    with pytest.raises(Exception, match="cannot read the embedder's weights"):
        LocalEmbedder(tuned=tmp_path / "missing.npz")


def test_a_store_written_with_the_base_is_reembedded_by_a_repair(make_service, tuned: Path) -> None:  # type: ignore[no-untyped-def]
    svc = make_service("data")
    svc.ingest_paths([ARTICLES])
    chunks = svc.catalog.count()[1]
    svc.close()
    svc = make_service("data", embedder_weights=tuned)
    report = svc.ingestor.doctor()
    assert not report["consistent"] and report["missing_vectors"] == chunks and report["vectors"] == 0
    assert svc.ingestor.doctor(repair=True)["recovered"]["vectors_reembedded"] == chunks
    assert svc.ingestor.doctor()["consistent"]
    hits = svc.searcher.search("suicide orders", 3)
    assert hits and all(h.text for h in hits)


def test_foreign_negatives_are_the_nearest_sentences_of_other_articles() -> None:
    q = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    s = np.array([[1.0, 0.0], [0.9, 0.1], [0.1, 0.9], [0.0, 1.0]], dtype=np.float32)
    # question 0 was asked in article A (sentence 0), question 1 in article B (sentence 3)
    assert nearest_foreign(q, ["A", "B"], s, ["A", "C", "C", "B"]) == [1, 2]


def test_embedder_training_script_smoke(tmp_path: Path) -> None:
    """A tiny, seeded run writes weights whose vectors the served embedder reproduces."""
    out = tmp_path / "embedder.npz"
    cmd = [sys.executable, "-m", "training.train_embedder", "--squad", str(SQUAD), "--out", str(out)]
    cmd += ["--max-questions", "16", "--batch", "8", "--keep", "10", "--lr", "1e-3", "--max-eval", "20"]
    subprocess.run(cmd, check=True, cwd=PROJECT_ROOT, timeout=600, capture_output=True)
    config = json.loads(out.with_suffix(".json").read_text())
    assert config["train_questions"] == 16 and config["steps"] == 2
    assert config["validation"]["questions"] == config["validation_before"]["questions"] > 0
    assert "CC BY-SA 4.0" in config["training_data"]
    served = LocalEmbedder(tuned=out, precision="fp32")
    ref = config["reference"]
    got = served.embed_bulk([r["text"] for r in ref])
    want = np.array([r["vector"] for r in ref], dtype=np.float32)
    assert float(np.min(np.sum(got * want, axis=1))) > 0.999
    assert float(np.min(np.sum(LocalEmbedder().embed_bulk([r["text"] for r in ref]) * want, axis=1))) < 0.999


def test_a_weights_file_that_is_not_there_is_refused_at_start(tmp_path: Path, tuned: Path) -> None:
    from pydantic import ValidationError

    from factdesk.settings import Settings

    def settings(**env: str) -> Settings:
        return Settings(_env_file=None, **env)  # type: ignore[call-arg]

    with pytest.raises(ValidationError, match="FACTDESK_EMBEDDER_WEIGHTS: no file"):
        settings(FACTDESK_EMBEDDER_WEIGHTS=str(tmp_path / "missing.npz"))
    assert settings(FACTDESK_EMBEDDER_WEIGHTS=str(tuned)).embedder_weights == tuned
    assert settings(FACTDESK_EMBEDDER_WEIGHTS=" ").embedder_weights is None  # set but blank: the base
