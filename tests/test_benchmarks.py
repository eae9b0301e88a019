"""The benchmark harness: `python -m benchmarks.run --quick --out DIR` runs every section and writes
results.json + BENCHMARKS.md there; plus its pure parts (synthetic corpus, query wordings, report).

No timing assertions: the machine is shared, figures vary run to run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.common import query_stream
from benchmarks.corpus import SyntheticCorpus, fixed_chunk_set
from retrieval import dedup
from retrieval.clean import clean_article

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("meta", "model", "ingest", "naive", "cold_start", "scale", "load")


def test_synthetic_articles_are_deterministic_distinct_and_not_near_duplicates() -> None:
    a = list(SyntheticCorpus(seed=5).articles(0, 40))
    b = list(SyntheticCorpus(seed=5).articles(0, 40))
    assert [d.text for d in a] == [d.text for d in b]
    texts = [clean_article(d.text).text for d in a]
    assert len({dedup.content_hash(t) for t in texts}) == len(texts)
    shingles = [dedup.shingles(t) for t in texts]
    worst = max(dedup.overlap(shingles[i], shingles[j]) for i in range(len(texts)) for j in range(i))
    assert worst < 0.8  # the ingest's near-duplicate threshold


def test_fixed_chunk_set_is_the_chunks_of_its_articles() -> None:
    docs, chunks = fixed_chunk_set(20)
    assert len(chunks) >= 20
    joined = "\n".join(clean_article(d.text).text for d in docs)
    assert all(c in joined for c in chunks)


def test_query_wordings_are_distinct() -> None:
    qs = query_stream(3000)
    assert len(set(qs)) == len(qs)
    assert query_stream(5, offset=100) == qs[100:105]


def test_report_renders_errors_and_missing_sections() -> None:
    results = {
        "meta": {
            "quick": True,
            "started": "now",
            "cpu": "x",
            "cores": 2,
            "memory_gib": 1.0,
            "versions": {"python": "3"},
            "cpu_flags": [],
        },
        "model": {"error": "boom"},
        "scale": {"sizes": []},
    }
    md = report.render(results)
    assert "## Targets" in md and "error: boom" in md


@pytest.mark.timeout(900)
def test_quick_run_writes_every_section(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    for section in SECTIONS:
        assert section in results, section
        assert "error" not in results[section], (section, results[section].get("error"))
    assert results["meta"]["quick"] is True
    assert {"options", "sentence_options", "best_at_cosine_0999"} <= set(results["model"])
    assert {"ingest", "reingest", "profile_stub_embedder"} <= set(results["ingest"])
    assert results["ingest"]["reingest"]["statuses"] == ["unchanged"]
    size = results["scale"]["sizes"][0]
    assert {"search", "ask", "raw_chroma_query"} <= set(size["threads_0"])
    assert {"search", "ask"} <= set(results["load"]["threads_0"])
    assert {"cli_ask", "serve_first_answer_s", "phases_torch"} <= set(results["cold_start"])
    assert {"naive", "factdesk"} <= set(results["naive"])
    md = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Targets" in md and "--quick" in md
    # --out keeps the committed report untouched
    assert not (tmp_path / "benchmarks").exists()


def test_word_swaps_keep_each_word_length() -> None:
    import numpy as np

    from benchmarks.corpus import seed_vocabulary
    from benchmarks.scale import swap_words

    swaps = swap_words(np.random.default_rng(3), seed_vocabulary())
    assert swaps and all(len(a) == len(b) for a, b in swaps.items())
    assert swaps == swap_words(np.random.default_rng(3), seed_vocabulary())


@pytest.mark.timeout(600)
def test_scale_fill_writes_a_store_doctor_accepts(tmp_path: Path) -> None:
    """A tiny build, then `fill` to about twice its chunks: catalog, keyword rows and Chroma agree."""
    data = tmp_path / "data"

    def scale(mode: str, chunks: int) -> dict:
        js = tmp_path / f"{mode}.json"
        args = ["--work", str(tmp_path), "--json", str(js), "--param", f"mode={mode}"]
        args += ["--param", f"data={data}", "--param", f"chunks={chunks}", "--param", "batch_docs=20"]
        r = subprocess.run(
            [sys.executable, "-m", "benchmarks.scale", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=580,
            check=False,
        )
        assert r.returncode == 0, r.stderr[-3000:]
        out = json.loads(js.read_text())
        assert "error" not in out, out["error"]
        return out

    built = scale("build", 200)
    filled = scale("fill", 2 * built["chunks"])
    assert filled["chunks"] >= 2 * built["chunks"] == 2 * filled["chunks"] - 2 * filled["added"]["chunks"]
    assert filled["chroma_count"] == filled["chunks"]
    from benchmarks.common import make_settings
    from factdesk.service import Factdesk

    svc = Factdesk(make_settings(data))
    try:
        report = svc.ingestor.doctor()
        assert report["consistent"], report
        assert svc.search("North Korean soldiers captured", top_k=3)
    finally:
        svc.close()


def test_sentence_side_cost_reports_each_size() -> None:
    from benchmarks.sentences import matrix_cost

    rows = matrix_cost([16, 1024], queries=3, dim=64)
    assert [r["chunks"] for r in rows] == [16, 1024]
    assert [r["sentences"] for r in rows] == [16 * 7, 1024 * 7]
    assert rows[1]["float32_mib"] == round(1024 * 7 * 64 * 4 / 2**20, 1)
    # 7,168 rows, past the rescore budget: the sign-bit pass runs, and the held arrays are small
    assert 0 < rows[1]["held_mib"] < rows[1]["float32_mib"] / 2
    assert all(0 <= r["search_p50_ms"] <= r["search_p95_ms"] for r in rows)


def test_focused_summary_timing_reports_both_ways(tmp_path: Path, warm_model: None) -> None:
    from benchmarks import summaries

    out = tmp_path / "summaries.json"
    assert summaries.main(["--files", "h6", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result) == {"before", "shipped"}
    for way in result.values():
        assert way["requests"] == 5 and 0 < way["p50_s"] <= way["p95_s"] <= way["max_s"]


def test_long_summary_benchmark_builds_documents_of_the_size_asked(tmp_path: Path, warm_model: None) -> None:
    from benchmarks import long_summaries

    for one_paragraph in (False, True):
        text = long_summaries.long_text(20_000, one_paragraph)
        assert len(text) == 20_000
        # the headline's two line ends, then one paragraph, or a line a paragraph
        assert text.count("\n") == 2 if one_paragraph else text.count("\n") > 20
    out = tmp_path / "long.json"
    assert long_summaries.main(["--sizes", "20000", "--one-paragraph", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["chars"] == 20_000 and row["chunks"] > 10 and row["seconds"] > 0 and row["citations"] > 0


def test_followup_benchmark_sorts_questions_by_how_they_are_read() -> None:
    from benchmarks.followups import kind

    assert kind("Who leads the council?", []) == "standalone"
    assert kind("How old is she?", ["Who leads the council?"]) == "follow-up, answer named"
    assert kind("When was it built?", ["Who built the bridge?"]) == "follow-up"
    assert kind("How old is he?", ["When did Tom Hale join the council?"]) == "follow-up"


def test_question_shapes_sort_questions_by_what_they_read() -> None:
    from benchmarks.shapes import shape, summary

    assert shape("What did the interior minister say about the rescue?") == "statement of a role"
    assert shape("What did Lidia Varga say?") == "statement of a name"
    assert shape("What did Lidia Varga deny?") == "statement of a name, by verb"
    assert shape("How old is Julia Navarro?") == "age"
    assert shape("Who chairs the Northvale Transport Authority?") == "holder of a role"
    assert shape("What does MAIU stand for?") == "acronym"
    assert shape("Who said the deal was close?") == "who said"
    assert shape("How many people died?") == "other"
    rows = [
        {"question": "What does MAIU stand for?", "ms": 10.0, "word_pieces": 100, "reader_batches": 1},
        {"question": "What does NIS stand for?", "ms": 30.0, "word_pieces": 300, "reader_batches": 2},
    ]
    acronyms = summary(rows)["acronym"]
    assert acronyms["questions"] == 2 and acronyms["word_pieces_mean"] == 200
    assert acronyms["reader_batches_mean"] == 1.5


def test_long_article_statements_benchmark_builds_both_layouts() -> None:
    from answers.compose import statements_in_articles
    from benchmarks.pathological import STATEMENTS

    text = "\n\n".join([STATEMENTS] * 3)
    found = statements_in_articles("What did Tom Marsh say?", {"x": text})
    # his two statements in each paragraph, not Ann Lee's
    assert [text[a:b] for _, a, b in found] == [
        "Mayor Tom Marsh said the harbour would reopen on Monday.",
        '"We are ready for it," he said.',
    ] * 3
