"""The ranker's features (pure), the shipped model, and its training script on a tiny slice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from answers.features import FEATURE_NAMES, Unit, features, holds_type, question_terms, question_type
from answers.ranker import WEIGHTS_PATH, Ranker
from factdesk.settings import PROJECT_ROOT


def _unit(sentences: list[str], vectors: list[list[float]]) -> Unit:
    v = np.asarray(vectors, dtype=np.float32)
    return Unit(sentences, v / np.linalg.norm(v, axis=1, keepdims=True))


def col(name: str) -> int:
    return FEATURE_NAMES.index(name)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the council vote?", "time"),
        ("In what year was the bridge built?", "time"),
        ("Which bridge was built first?", "other"),
        ("What year was the bridge built?", "time"),
        ("How many people were hurt?", "number"),
        ("How much did the repairs cost?", "number"),
        ("Who chairs the committee?", "person"),
        ("Where was the ship found?", "place"),
        ("Why did the talks collapse?", "reason"),
        ("How did the minister respond?", "manner"),
        ("What did the report conclude?", "other"),
    ],
)
def test_question_types(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_rare_words_weigh_more_and_stopwords_nothing() -> None:
    w = question_terms("Which hospital treated the wounded miners?").weights
    assert "which" not in w and "the" not in w
    assert w["hospit"] > 0.2 and w["miner"] > w["hospit"]
    assert question_terms("Where did Zbigniewska live?").weights["zbigniewska"] == 1.0  # unknown: rarest


def test_holds_type() -> None:
    q = frozenset({"when", "did", "the", "vote"})
    assert holds_type("time", "The council voted on 3 March 2021.", q)
    assert not holds_type("time", "The council voted against the plan.", q)
    assert holds_type("number", "Twelve people were hurt.", q)
    assert holds_type("person", "The committee is chaired by Ana Ruiz.", frozenset({"who", "committee"}))
    assert not holds_type("person", "The committee meets weekly.", frozenset({"who", "committee"}))


def test_features_measure_each_sentence_against_its_pool() -> None:
    q_vec = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    units = [
        _unit(
            ["The harbour bridge opened in 1932 after years of work.", "Traffic was light."],
            [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]],
        ),
        _unit(["Ferries still run every hour."], [[0.2, 0.0, 0.9]]),
    ]
    x, index = features("When did the harbour bridge open?", q_vec, units)
    assert x.shape == (3, len(FEATURE_NAMES)) and index == [(0, 0), (0, 1), (1, 0)]
    assert x[0, col("cover")] == pytest.approx(1.0) and x[1, col("cover")] == 0.0
    assert x[0, col("dense_rank")] == 1.0 and x[0, col("dense_gap")] == 0.0 > x[1, col("dense_gap")]
    assert x[0, col("type_found")] == 1.0 and x[1, col("type_found")] == 0.0
    assert x[1, col("cover_window")] == pytest.approx(1.0)  # its neighbour holds the words
    assert (x[:, col("unit_rank")] == [1.0, 1.0, 0.5]).all()
    assert (x[:, col("missing_pool")] == 0.0).all()
    # a question word the pool never mentions: every row says so
    x2, _ = features("When did the harbour bridge close to lorries?", q_vec, units)
    assert (x2[:, col("missing_pool")] > 0.3).all()
    assert features("Anything?", q_vec, [])[0].shape == (0, len(FEATURE_NAMES))


def test_shipped_ranker_prefers_the_answering_sentence() -> None:
    ranker = Ranker.load()
    report = json.loads(WEIGHTS_PATH.read_text())["report"]
    assert "CC BY-SA 4.0" in report["training_data"] and 0.0 < ranker.threshold < 1.0
    # on held-out SQuAD titles it ranks better than the embedder's cosine alone
    assert report["test"]["top_sentence"] > report["test"]["top_sentence_by_cosine"]
    q_vec = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    units = [
        _unit(
            ["The new harbour bridge opened to traffic in May 1932.", "The bridge is painted grey."],
            [[0.8, 0.6, 0.0], [0.85, 0.5, 0.1]],
        )
    ]
    x, _ = features("When did the harbour bridge open?", q_vec, units)
    p = ranker.probabilities(x)
    assert p.shape == (2,) and ((0 <= p) & (p <= 1)).all() and p[0] > p[1]
    assert ranker.probabilities(np.zeros((0, len(FEATURE_NAMES)), np.float32)).shape == (0,)


def test_weights_for_other_features_are_refused() -> None:
    d = json.loads(WEIGHTS_PATH.read_text())
    with pytest.raises(ValueError):
        Ranker.from_dict({**d, "features": d["features"][:-1]})


@pytest.mark.usefixtures("squad")
def test_training_script_smoke(tmp_path: Path) -> None:
    out = tmp_path / "ranker.json"
    subprocess.run(
        [sys.executable, "-m", "training.train_ranker", "--max-articles", "3", "--val-titles", "1"]
        + ["--test-titles", "1", "--epochs", "1", "--out", str(out)],
        check=True,
        cwd=PROJECT_ROOT,
        timeout=600,
        capture_output=True,
    )
    d = json.loads(out.read_text())
    assert d["features"] == list(FEATURE_NAMES) and d["report"]["pools"]["train"] > 0
    ranker = Ranker.from_dict(d)
    assert 0.0 < ranker.threshold < 1.0
