"""The eval suite: pure metrics, the regression gate, the reports, the judge, and `factdesk eval` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ARTICLES, ROOT, make_settings
from hypothesis import given
from hypothesis import strategies as st
from scripted_openai import ScriptedOpenAI, malformed, reply, reply_json, status

from evals import metrics as m
from evals.report import failure_reasons, latency_bins, passed, render_html, write_reports
from evals.run import aggregate, compare, question_problems

# ---------------------------------------------------------------- metrics (pure)

D = "doc"


def test_covers_needs_half_of_the_evidence_in_the_same_document() -> None:
    ev = m.Span(D, 100, 200)
    assert m.covers(m.Span(D, 0, 150), ev)  # exactly half
    assert m.covers(m.Span(D, 90, 300), ev)
    assert not m.covers(m.Span(D, 0, 149), ev)
    assert not m.covers(m.Span("other", 100, 200), ev)
    assert not m.covers(m.Span(D, 300, 400), ev)


def test_retrieval_metrics_rank_mrr_and_evidence_recall() -> None:
    gold = [m.Span(D, 100, 200), None, m.Span(D, 1000, 1100)]  # None: quote not found after cleaning
    hits = [m.Span(D, 500, 600), m.Span(D, 90, 210), m.Span("x", 0, 50)]
    r = m.retrieval_metrics(hits, gold)
    assert r == {"hit@1": 0.0, "hit@3": 1.0, "hit@5": 1.0, "mrr": 0.5, "evidence_recall": 0.5}
    assert m.retrieval_metrics(hits, [None]) == {
        "hit@1": 0.0,
        "hit@3": 0.0,
        "hit@5": 0.0,
        "mrr": 0.0,
        "evidence_recall": 0.0,
    }
    late = [m.Span(D, 0, 10)] * 3 + [m.Span(D, 100, 200)]
    assert m.retrieval_metrics(late, gold)["hit@3"] == 0.0
    assert m.retrieval_metrics(late, gold)["hit@5"] == 1.0
    assert m.retrieval_metrics(late, gold)["mrr"] == 0.25


def test_fact_recall_is_case_insensitive_any_of_each_group() -> None:
    recall, missed = m.fact_recall(
        "About 300 were KILLED and 2,700 wounded.",
        [["300"], ["killed", "died"], ["2700", "2,700"], ["Kursk"]],
    )
    assert recall == 0.75 and missed == [["Kursk"]]
    assert m.fact_recall("anything", []) == (1.0, [])
    assert m.fact_recall("", [["a"], ["b"]]) == (0.0, [["a"], ["b"]])


def test_cited_fact_recall_also_reads_the_quotes_cited() -> None:
    facts = [["185 million kilos"], ["2017"]]
    shown = "Northlight has raised about 185 million pounds since it was founded in 2017. [1][2]"
    copy = "Northlight has raised about 185 million kilos from buyers since it was once based in 2017."
    assert m.fact_recall(shown, facts) == (0.5, [["185 million kilos"]])
    assert m.cited_fact_recall(shown, [shown, copy], facts) == (1.0, [])
    assert m.cited_fact_recall(shown, [shown], facts) == (0.5, [["185 million kilos"]])


def test_citation_checks_count_exact_and_supported_citations() -> None:
    text = "0123456789" * 30
    texts = {D: text}
    gold = [m.Span(D, 100, 140), None]
    cites = [
        {"document_id": D, "start": 100, "end": 130, "quote": text[100:130]},  # valid, supported
        {"document_id": D, "start": 200, "end": 220, "quote": text[200:220]},  # valid, elsewhere
        {"document_id": D, "start": 0, "end": 5, "quote": "nope!"},  # not the slice
        {"document_id": "gone", "start": 0, "end": 5, "quote": "01234"},
    ]  # unknown document
    assert m.citation_checks(cites, texts, gold) == {"citations": 4, "valid": 2, "supported": 1}
    assert m.citation_checks([], texts, gold) == {"citations": 0, "valid": 0, "supported": 0}


def test_percentile_interpolates() -> None:
    assert m.percentile([], 50) == 0.0
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([5, 1, 4, 2, 3], 50) == 3
    assert m.percentile([1, 2, 3, 4, 5], 0) == 1 and m.percentile([1, 2, 3, 4, 5], 100) == 5
    assert m.percentile([10, 20], 95) == pytest.approx(19.5)


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=40), st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_monotone_and_bounded(values: list[float], p: float, q: float) -> None:
    lo, hi = sorted((p, q))
    assert min(values) <= m.percentile(values, lo) <= m.percentile(values, hi) + 1e-6
    assert m.percentile(values, hi) <= max(values)


# ---------------------------------------------------------------- the gate


def test_compare_flags_regressions_beyond_tolerance_only() -> None:
    base = {
        "retrieval_hit@5": 0.90,
        "fact_recall": 0.80,
        "citation_validity": 1.0,
        "summary_boilerplate_leaks": 0.0,
        "latency_p50_ms": 5.0,
    }
    cur = {
        "retrieval_hit@5": 0.885,  # -0.015 within 0.02
        "fact_recall": 0.76,  # -0.04 beyond 0.03
        "citation_validity": 1.0,
        "summary_boilerplate_leaks": 1.0,  # "down" metric went up: regression
        "latency_p50_ms": 500.0,
    }  # not gated
    rows = {c["metric"]: c for c in compare(cur, base)}
    assert set(rows) == {"retrieval_hit@5", "fact_recall", "citation_validity", "summary_boilerplate_leaks"}
    assert not rows["retrieval_hit@5"]["regressed"]
    assert rows["fact_recall"]["regressed"] and rows["fact_recall"]["delta"] == pytest.approx(-0.04)
    assert not rows["citation_validity"]["regressed"]
    assert rows["summary_boilerplate_leaks"]["regressed"]
    better = compare({"fact_recall": 0.99, "citation_validity": 1.0}, base)
    assert not any(c["regressed"] for c in better)
    assert (
        compare({"fact_recall": 0.8 - 0.03}, {"fact_recall": 0.8})[0]["regressed"] is False
    )  # exactly at tolerance


# ---------------------------------------------------------------- synthetic report rows


def row(
    qid: str,
    *,
    answerable: bool = True,
    abstained: bool = False,
    recall: float = 1.0,
    supported: int = 1,
    mrr: float = 1.0,
    tags: tuple[str, ...] = ("single-source",),
    answer: str = "About 300 were killed. [1]",
    latency: float = 12.0,
    judge: dict | None = None,
) -> dict:
    cites = (
        []
        if abstained
        else [
            {
                "marker": 1,
                "document_id": "001_x",
                "chunk_id": "001_x#0",
                "title": "T",
                "quote": "About 300 were killed.",
                "start": 10,
                "end": 32,
            }
        ]
    )
    return {
        "id": qid,
        "question": f"question {qid}?",
        "history": [],
        "tags": list(tags),
        "answerable": answerable,
        "query": "q",
        "answer": answer,
        "abstained": abstained,
        "citations": cites,
        "generator": "extractive",
        "warnings": [],
        "retrieval": {
            "hit@1": float(mrr == 1.0),
            "hit@3": float(mrr >= 1 / 3),
            "hit@5": float(mrr > 0),
            "mrr": mrr,
            "evidence_recall": float(mrr > 0),
        },
        "top_hits": [],
        "fact_recall": 0.0 if abstained or not answerable else recall,
        "missed_facts": [["300"]]
        if abstained and answerable
        else []
        if recall == 1.0 or not answerable
        else [["2,700", "2700"]],
        "citation_checks": {
            "citations": len(cites),
            "valid": len(cites),
            "supported": min(supported, len(cites)),
        },
        "gold_missing": 0,
        "latency_ms": latency,
        "judge": judge,
    }


def synthetic_report(with_baseline: bool = True) -> dict:
    rows = [
        row("q1"),
        row("q2", recall=0.5, mrr=0.5, tags=("multi-source", "number")),
        row("q3", supported=0, answer="<script>alert('x')</script> & [1]", latency=900.0),
        row("q4", abstained=True, answer="The articles do not cover this question."),
        row(
            "u1",
            answerable=False,
            abstained=True,
            tags=("unanswerable",),
            answer="The articles do not cover this question.",
        ),
        row("u2", answerable=False, tags=("unanswerable",), latency=2500.0),
    ]
    metrics = aggregate(rows, [])
    rep = {
        "meta": {
            "prompt_version": "abc123def456",
            "generator": "extractive",
            "llm_model": None,
            "embedder": "local:all-MiniLM-L6-v2",
            "questions_file": "evals/questions.yaml",
            "questions": len(rows),
            "only": [],
            "questions_hash": "0123456789ab",
            "settings": {"chunk_tokens": 160, "search_mode": "hybrid"},
            "created_at": "2025-01-01T00:00:00Z",
        },
        "metrics": metrics,
        "by_tag": {
            t: aggregate([r for r in rows if t in r["tags"]], [])
            for t in sorted({t for r in rows for t in r["tags"]})
        },
        "questions": rows,
        "summaries": [],
    }
    if with_baseline:
        base = {
            **metrics,
            "fact_recall": metrics["fact_recall"] + 0.2,
            "retrieval_hit@5": metrics["retrieval_hit@5"],
        }
        rep["baseline"] = {
            "file": "evals/baseline.json",
            "meta": {"prompt_version": "000000000000"},
            "metrics": base,
            "comparison": compare(metrics, base),
        }
    return rep


def test_pass_rules() -> None:
    assert passed(row("a"))
    assert failure_reasons(row("a", recall=0.5)) == ["missed 1 fact group(s)"]
    assert not passed(row("a", supported=0))
    assert failure_reasons(row("a", abstained=True)) == ["abstained on an answerable question"]
    assert passed(row("u", answerable=False, abstained=True))
    assert failure_reasons(row("u", answerable=False)) == ["answered an unanswerable question"]


def test_write_reports_writes_three_stamped_files_with_charts(tmp_path: Path) -> None:
    rep = synthetic_report()
    write_reports(rep, tmp_path / "r")
    j = json.loads((tmp_path / "r" / "report.json").read_text())
    md = (tmp_path / "r" / "report.md").read_text()
    page = (tmp_path / "r" / "report.html").read_text()
    for text in (md, page, json.dumps(j)):
        assert "abc123def456" in text and "0123456789ab" in text and "2025-01-01" in text
        assert "local:all-MiniLM-L6-v2" in text and "chunk_tokens" in text
    assert [q["passed"] for q in j["questions"]] == [True, False, False, False, True, False]
    # Markdown: regression flagged in the metrics table, failures listed with what was missed
    assert "| fact_recall |" in md and "**REGRESSION**" in md
    assert "## Failures (4)" in md and "### q2 — missed 1 fact group(s)" in md and "2,700 / 2700" in md
    assert "[1] 001_x 10–32: “About 300 were killed.”" in md
    assert "<script>" not in md and "&lt;script>alert" in md
    # HTML: self-contained, escaped, with the three charts
    assert (
        page.count("<svg") == 3
        and f"fact_recall: {rep['metrics']['fact_recall']:.3f} — REGRESSION</title>" in page
    )
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp;" in page
    assert 'src="http' not in page and 'href="http' not in page and "@import" not in page
    assert '<select id="tagfilter">' in page and 'data-tags="multi-source number"' in page


def test_html_without_baseline_and_latency_bins() -> None:
    page = render_html(synthetic_report(with_baseline=False))
    assert "No baseline given" in page and page.count("<svg") == 3
    bins = latency_bins([4.6, 6.0, 250.0, 9000.0])
    assert bins[0][0] <= 4.6 and bins[-1][1] > 9000.0
    assert sum(c for _, _, c in bins) == 4
    assert latency_bins([]) == []


# ---------------------------------------------------------------- the judge (scripted endpoint)


class FakeService:
    def __init__(self) -> None:
        from prompts import load_prompts

        self.prompts = load_prompts()


def test_judge_clamps_caches_and_survives_endpoint_failures(tmp_path: Path) -> None:
    from evals.judge import build_judge

    question = {
        "id": "q1",
        "expected_facts": [["300"]],
        "evidence": [{"document_id": "001_x", "quote": "300"}],
    }
    with ScriptedOpenAI() as srv:
        settings = make_settings(
            tmp_path,
            openai_base_url=srv.base_url,
            openai_api_key="k",
            llm_max_retries=0,
            llm_model="judge-model",
        )
        judge = build_judge(FakeService(), settings)
        srv.script(
            reply(
                "```json\n" + json.dumps({"faithfulness": 1.7, "correctness": -0.5, "reason": "ok"}) + "\n```"
            )
        )
        r1 = row("q1")
        v = judge(r1, question, {})
        assert v is not None and (v["faithfulness"], v["correctness"], v["reason"]) == (1.0, 0.0, "ok")
        prompt = srv.chat_requests[0].prompt_text
        assert "question q1?" in prompt and "300" in prompt and "[1] (001_x) About 300 were killed." in prompt
        assert srv.chat_requests[0].model == "judge-model"

        # unchanged answer: no second call, also from a fresh judge reading the cache file
        assert judge(row("q1"), question, {})["cached"] is True
        assert build_judge(FakeService(), settings)(row("q1"), question, {})["faithfulness"] == 1.0
        assert len(srv.chat_requests) == 1 and (tmp_path / "judge_cache.json").exists()

        # a changed answer is judged again; failures mark the row and return None
        srv.script(
            status(500),
            malformed("{not json"),
            reply("I think it is fine."),
            reply_json({"faithfulness": "high", "correctness": 1}),
        )
        for _ in range(4):
            r = row("q1", answer="Some other answer. [1]")
            assert judge(r, question, {}) is None and r["judge_error"]
        assert len(srv.chat_requests) == 5

    rows = [
        row("a", judge={"faithfulness": 1.0, "correctness": 0.5}),
        row("b", judge=None),
        row("c", judge={"faithfulness": 0.0, "correctness": 1.0}),
    ]
    mets = aggregate(rows, [])
    assert mets["judge_faithfulness"] == 0.5 and mets["judge_correctness"] == 0.75


# ---------------------------------------------------------------- promptfoo config stays in step


def test_promptfoo_config_is_generated_from_questions() -> None:
    from evals.promptfoo import render_config

    committed = (ROOT / "evals" / "promptfooconfig.yaml").read_text(encoding="utf-8")
    assert committed == render_config(), "run: python -m evals.promptfoo > evals/promptfooconfig.yaml"


# ---------------------------------------------------------------- the reader's threshold-free check (pure)


def test_reader_check_ranks_gold_and_ties_count_half() -> None:
    from evals.reader_check import auc, rank_row

    row = rank_row("q", True, [0.2, 0.9, 0.5, 0.9], [False, False, True, False])
    assert (row.best, row.gold_rank, row.gold_probability, row.retrieval_gold_rank) == (0.9, 3, 0.5, 3)
    assert rank_row("q", True, [0.1, 0.8], [False, True]).retrieval_gold_rank == 2
    assert rank_row("q", True, [0.3], [False]).gold_rank is None
    assert rank_row("q", False, [], []).best == 0.0
    assert auc([0.9, 0.4], [0.4, 0.1]) == (1 + 1 + 0.5 + 1) / 4
    assert auc([0.1], [0.9]) == 0.0 and auc([], [0.5]) is None


def test_reader_check_summary_counts_gold_only_where_it_reached_the_pool() -> None:
    from evals.reader_check import Row, summarize

    rows = [
        Row("a", True, 0.9, 1, 0.9, 2),
        Row("b", True, 0.6, 3, 0.2, 1),
        Row("c", True, 0.7, None, None),  # its evidence was never retrieved
        Row("d", False, 0.8, None, None),
    ]
    s = summarize(rows)
    assert (s["answerable"], s["unanswerable"], s["gold_in_pool"], s["gold@1"], s["gold@3"]) == (
        3,
        1,
        2,
        1,
        2,
    )
    assert s["auc_best"] == round(1 / 3, 3) and s["median_best_answerable"] == 0.7
    assert s["median_gold_probability"] == 0.55
    assert (s["retrieval_gold@1"], s["retrieval_gold@3"]) == (1, 2)


# ---------------------------------------------------------------- `factdesk eval` end to end: the gate works


def factdesk_eval(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FACTDESK_"))}
    clean.update({"FACTDESK_DATA_DIR": str(tmp / "data"), "FACTDESK_ARTICLES_DIR": str(ARTICLES), **env})
    # cwd=tmp: no developer .env is read
    return subprocess.run(
        [sys.executable, "-m", "factdesk.cli", "eval", *args],
        cwd=tmp,
        env=clean,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("eval-gate")
    p = factdesk_eval(
        tmp, "--only", "multi-source", "--report", str(tmp / "r1"), "--write-baseline", str(tmp / "base.json")
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return tmp


@pytest.mark.timeout(400)
def test_eval_writes_reports_and_a_baseline(baseline_run: Path) -> None:
    for name in ("report.json", "report.md", "report.html"):
        assert (baseline_run / "r1" / name).stat().st_size > 1000
    base = json.loads((baseline_run / "base.json").read_text())
    rep = json.loads((baseline_run / "r1" / "report.json").read_text())
    assert base["metrics"] == rep["metrics"] and base["meta"]["only"] == ["multi-source"]
    assert rep["meta"]["prompt_version"] in (baseline_run / "r1" / "report.html").read_text()
    assert all("multi-source" in q["tags"] for q in rep["questions"])


@pytest.mark.timeout(400)
def test_eval_against_its_own_baseline_passes(baseline_run: Path) -> None:
    p = factdesk_eval(
        baseline_run,
        "--only",
        "multi-source",
        "--report",
        str(baseline_run / "r2"),
        "--baseline",
        str(baseline_run / "base.json"),
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    rep = json.loads((baseline_run / "r2" / "report.json").read_text())
    assert rep["baseline"]["comparison"] and not any(c["regressed"] for c in rep["baseline"]["comparison"])


@pytest.mark.timeout(400)
def test_eval_fails_on_a_retrieval_regression(baseline_run: Path) -> None:
    # 32-token chunks without overlap split most evidence sentences: measured on multi-source questions,
    # hit@1 -0.31, MRR -0.20, evidence recall -0.24, fact recall -0.11, against tolerances of 0.03. (A milder
    # knob such as FACTDESK_SEARCH_MODE=dense moves with the engine's tuning; this one breaks by construction.)
    p = factdesk_eval(
        baseline_run,
        "--only",
        "multi-source",
        "--report",
        str(baseline_run / "r3"),
        "--baseline",
        str(baseline_run / "base.json"),
        FACTDESK_CHUNK_TOKENS="32",
        FACTDESK_CHUNK_OVERLAP_TOKENS="0",
    )
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    assert "REGRESSION" in p.stderr and "retrieval_hit@1" in p.stderr
    rep = json.loads((baseline_run / "r3" / "report.json").read_text())
    assert rep["meta"]["settings"]["chunk_tokens"] == 32
    assert "REGRESSION" in (baseline_run / "r3" / "report.html").read_text()
    assert "**REGRESSION**" in (baseline_run / "r3" / "report.md").read_text()


@pytest.mark.timeout(400)
def test_eval_compare_exit_codes(baseline_run: Path) -> None:
    base = str(baseline_run / "base.json")
    same = factdesk_eval(baseline_run, "--compare", base, str(baseline_run / "r1" / "report.json"))
    assert same.returncode == 0, same.stdout + same.stderr
    worse = {**json.loads(Path(base).read_text())}
    worse["metrics"] = {**worse["metrics"], "fact_recall": worse["metrics"]["fact_recall"] - 0.1}
    (baseline_run / "worse.json").write_text(json.dumps(worse))
    bad = factdesk_eval(baseline_run, "--compare", base, str(baseline_run / "worse.json"))
    assert bad.returncode == 1 and "REGRESSION" in bad.stdout
    # the other way round, B is better than A: no regression
    assert factdesk_eval(baseline_run, "--compare", str(baseline_run / "worse.json"), base).returncode == 0


def test_a_question_without_evidence_is_scored_on_its_facts_only() -> None:
    """Evidence is optional: a question without it passes on its facts, and stays out of the
    retrieval and evidence metrics instead of counting as a miss."""
    located, free = row("a"), {**row("b", supported=0, mrr=0.0), "has_evidence": False}
    assert passed(free) and not passed({**free, "has_evidence": True})
    metrics = aggregate([located, free], [])
    assert metrics["retrieval_mrr"] == 1.0 and metrics["evidence_cited_rate"] == 1.0
    assert metrics["citation_support"] == 1.0 and metrics["all_facts_rate"] == 1.0


def test_question_files_name_their_problems() -> None:
    base = {"question": "Who?", "expected_facts": [["x"]]}
    assert question_problems([{"id": "a", **base}, {"id": "b", **base}]) == []
    assert question_problems([{"id": "d1", **base}, {"id": "d1", **base}]) == ["the id 'd1' is used twice"]
    assert question_problems([{**base}]) == ["question 1 has no `id`"]
    (problem,) = question_problems([{"id": "a", **base, "expected_fact": [["x"]]}])
    assert problem.startswith("question 'a' has unknown field(s) expected_fact (the fields: id, question")
    # a field of the wrong shape would be scored as something else: refused, the question named
    for field, value, said in [
        (
            "expected_facts",
            ["qqqq", "xxxx"],
            "`expected_facts` must be a list of groups",
        ),  # one-letter groups
        ("expected_facts", "zzzz", "`expected_facts` must be a list of groups"),
        ("expected_facts", [[300]], "`expected_facts` must be a list of groups"),
        ("answerable", "no", "`answerable` must be true or false"),  # a true value
        ("question", 42, "`question` must be a non-empty string"),
        ("tags", "number", "`tags` must be a list of strings"),
        ("history", [{"role": "user"}], "`history` must be a list of strings"),
        ("evidence", ["a quote"], "`evidence` must be a list of {document_id: str, quote: str}"),
    ]:
        (problem,) = question_problems([{"id": "s1", **base, field: value}])
        assert problem.startswith(f"question 's1': {said}"), (field, problem)
    assert (
        question_problems([{"id": "s2", **base, "answerable": False, "expected_facts": [], "history": []}])
        == []
    )


def test_eval_refuses_files_it_cannot_use_with_a_message(tmp_path: Path) -> None:
    """A missing or malformed questions file, a report or baseline that is not one: exit 2 and a line
    naming the file, before any question is asked; never a traceback."""
    (tmp_path / "bad.yaml").write_text("questions: [unclosed\n")
    (tmp_path / "shape.yaml").write_text("questions:\n  - tags: [x]\n")
    (tmp_path / "twice.yaml").write_text(
        "questions:\n  - {id: d1, question: 'A?'}\n  - {id: d1, question: 'B?'}\n"
    )
    (tmp_path / "flat.yaml").write_text(
        "questions:\n  - {id: f1, question: 'A?', expected_facts: [qqqq, xxxx]}\n"
    )
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "oops.json").write_text(json.dumps({"metrics": "oops"}))
    cases = [
        (["--questions", str(tmp_path / "missing.yaml")], "cannot read the questions file"),
        (["--questions", str(tmp_path / "bad.yaml")], "is not valid YAML"),
        (["--questions", str(tmp_path / "shape.yaml")], "question 1: `question` must be a non-empty string"),
        (
            ["--questions", str(tmp_path / "flat.yaml")],
            "question 'f1': `expected_facts` must be a list of groups",
        ),
        (["--report", str(tmp_path / "bad.json")], "cannot write the report to"),
        (["--questions", str(tmp_path / "twice.yaml")], "the id 'd1' is used twice"),
        (["--baseline", str(tmp_path / "oops.json")], "is not a factdesk eval report"),
        (["--compare", str(tmp_path / "bad.json"), str(tmp_path / "oops.json")], "is not JSON"),
    ]
    for args, message in cases:
        p = factdesk_eval(tmp_path, *args)
        assert p.returncode == 2 and message in p.stderr, (args, p.stderr[-2000:])
        assert "Traceback" not in p.stderr
    assert not (tmp_path / "data").exists()  # refused before a store was opened or a question asked


@pytest.mark.timeout(400)
def test_eval_of_ones_own_articles_and_questions(tmp_path: Path) -> None:
    """A questions file about other articles than the bundled ones is scored without the bundled summary
    requests (which name the bundled articles); evidence or a summary naming what the articles do not
    hold is refused (exit 2, the question and the reference named) before anything is asked."""
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "fire.txt").write_text(
        "Twelve fire engines attended the blaze at the Calder plant on Monday."
    )
    (articles / "vote.txt").write_text("The council passed the budget by 48 votes to 31 on Tuesday evening.")
    question = {
        "id": "v1",
        "question": "By how many votes did the budget pass?",
        "expected_facts": [["48"]],
        "evidence": [{"document_id": "vote", "quote": "passed the budget by 48 votes to 31"}],
    }
    good, typo, wrong_quote = (tmp_path / n for n in ("good.yaml", "typo.yaml", "quote.yaml"))
    good.write_text(yaml.safe_dump({"questions": [question]}))
    typo.write_text(
        yaml.safe_dump(
            {"questions": [{**question, "evidence": [{**question["evidence"][0], "document_id": "vot"}]}]}
        )
    )
    wrong_quote.write_text(
        yaml.safe_dump(
            {"questions": [{**question, "evidence": [{"document_id": "vote", "quote": "by 49 votes"}]}]}
        )
    )
    summaries = tmp_path / "summaries.yaml"
    summaries.write_text(
        yaml.safe_dump({"summaries": [{"id": "s1", "document_ids": ["fires"], "key_facts": [["12"]]}]})
    )
    env = {"FACTDESK_ARTICLES_DIR": str(articles)}
    p = factdesk_eval(tmp_path, "--questions", str(good), "--report", str(tmp_path / "r"), **env)
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["meta"]["questions"] == 1 and not report.get("summaries")
    cases = [
        (["--questions", str(typo)], "v1: no article 'vot' for its evidence"),
        (["--questions", str(wrong_quote)], "v1: evidence quote not found in 'vote'"),
        (["--questions", str(good), "--summaries", str(summaries)], "summary s1: no article 'fires'"),
    ]
    for args, message in cases:
        p = factdesk_eval(tmp_path, *args, "--report", str(tmp_path / "refused"), **env)
        assert p.returncode == 2 and message in p.stderr, (args, p.stderr[-2000:])
        assert "Traceback" not in p.stderr and not (tmp_path / "refused").exists()


@pytest.mark.parametrize(
    "name", ["questions.yaml", "heldout.yaml", "heldout2.yaml", "blind3.yaml", "blind4.yaml"]
)
def test_question_sets_are_well_formed(seeded, name: str) -> None:  # type: ignore[no-untyped-def]
    """Every evidence quote is found in the cleaned seed text it names; unanswerable questions have none."""
    from evals.run import load_questions

    qs = load_questions(ROOT / "evals" / name)
    texts = {d.id: d.text for d in seeded.list_documents()}
    assert len({q["id"] for q in qs}) == len(qs)
    unanswerable = [q for q in qs if not q.get("answerable", True)]
    assert len(unanswerable) >= 8
    assert all(not q["evidence"] and not q["expected_facts"] for q in unanswerable)
    for q in qs:
        if q.get("answerable", True):
            assert q["evidence"] and q["expected_facts"], q["id"]
            spans = m.evidence_spans(q["evidence"], texts)
            assert all(s is not None for s in spans), (q["id"], q["evidence"])


def _set_of(make_service, corpus: str, questions: str) -> tuple[dict[str, str], list[dict]]:  # type: ignore[no-untyped-def]
    """(the cleaned texts of evals/<corpus>/articles, the questions of evals/<questions>), every
    answerable question's evidence quotes checked to be in the article each names, and the
    unanswerable ones holding none."""
    from evals.run import load_questions

    svc = make_service(questions.replace("/", "-"))
    svc.ingest_paths([ROOT / "evals" / corpus / "articles"])
    texts = {d.id: d.text for d in svc.list_documents()}
    qs = load_questions(ROOT / "evals" / questions)
    assert qs and len({q["id"] for q in qs}) == len(qs)
    for q in qs:
        if q["answerable"]:
            spans = m.evidence_spans(q["evidence"], texts)
            assert q["expected_facts"] and spans and all(s is not None for s in spans), q["id"]
        else:
            assert not q.get("evidence") and not q.get("expected_facts"), q["id"]
    return texts, qs


def test_the_follow_up_set_is_well_formed(make_service) -> None:  # type: ignore[no-untyped-def]
    """evals/followups: every evidence quote is in the cleaned text of the article it names, and every
    follow-up has the earlier turns it follows."""
    texts, qs = _set_of(make_service, "followups", "followups/followups.yaml")
    assert len(texts) == 6 and len(qs) == 84
    for q in qs:
        assert bool(q["history"]) == ("follow-up" in q["tags"]), q["id"]


def test_the_updates_set_is_well_formed(make_service) -> None:  # type: ignore[no-untyped-def]
    """evals/updates: every evidence quote is in the cleaned text of the article it names."""
    texts, qs = _set_of(make_service, "updates", "updates/updates.yaml")
    assert len(texts) == 18 and len(qs) == 52 and sum(not q["answerable"] for q in qs) == 16


@pytest.mark.parametrize(
    ("name", "articles", "questions", "unanswerable"),
    [("attrib", 18, 85, 21), ("forms", 16, 120, 35), ("lookalike", 24, 150, 40)],
)
def test_the_attribution_and_forms_sets_are_well_formed(  # type: ignore[no-untyped-def]
    make_service, name: str, articles: int, questions: int, unanswerable: int
) -> None:
    """evals/attrib, evals/forms and evals/lookalike (blind sets): every evidence quote is in the
    cleaned text of the article it names, and every follow-up has the earlier turn it follows."""
    texts, qs = _set_of(make_service, name, f"{name}/{name}.yaml")
    assert (len(texts), len(qs), sum(not q["answerable"] for q in qs)) == (articles, questions, unanswerable)
    for q in qs:
        assert bool(q["history"]) == ("follow-up" in q["tags"]), q["id"]


@pytest.mark.parametrize("corpus", ["news", "wire", "followups"])
@pytest.mark.parametrize(
    ("folder", "form"),
    [
        ("said", r"What did [A-Z][\w.'’ -]+ say\?"),
        ("sayabout", r"What (?:did|has) [\w.'’, -]+ (?:say|said|tell[\w ]*?) about [^?]+\?"),
    ],
)
def test_the_said_sets_are_well_formed(make_service, corpus: str, folder: str, form: str) -> None:  # type: ignore[no-untyped-def]
    """evals/said: bare "What did <name> say?" questions about the people of a written corpus;
    evals/sayabout: "What did <name> say about <topic>?"; every evidence quote is in the cleaned text
    of the article it names."""
    import re

    _, qs = _set_of(make_service, corpus, f"{folder}/{corpus}.yaml")
    for q in qs:
        assert re.fullmatch(form, q["question"]), q["question"]


@pytest.mark.parametrize(
    ("name", "src", "span", "count"), [("news", "h5.json", ["5:10"], 5), ("wire", "h19.json", [], 9)]
)
def test_written_sets_are_rebuilt_from_held_out_articles(
    tmp_path: Path, name: str, src: str, span: list[str], count: int
) -> None:
    """evals/news and evals/wire are exactly what build_written_set.py makes of their held-out written
    articles: every quote is in the article it names, and none of those articles is in another
    file of the written news (training or threshold)."""
    from evals.run import load_questions

    folder, source = ROOT / "evals" / name, ROOT / "training" / "data" / "news" / src
    built_dir = tmp_path / name
    script = ROOT / "evals" / "build_written_set.py"
    subprocess.run([sys.executable, str(script), str(source), str(built_dir), *span], check=True, timeout=60)
    yaml_name = f"{name}.yaml"
    assert (built_dir / yaml_name).read_text(encoding="utf-8") == (folder / yaml_name).read_text(
        encoding="utf-8"
    )
    built = {p.name: p.read_text(encoding="utf-8") for p in (built_dir / "articles").glob("*.txt")}
    shipped = {p.name: p.read_text(encoding="utf-8") for p in (folder / "articles").glob("*.txt")}
    assert built == shipped and len(built) == count
    qs = load_questions(folder / yaml_name)
    assert sum(not q["answerable"] for q in qs) >= 15 and sum(q["answerable"] for q in qs) >= 40
    for q in qs:
        for e in q["evidence"]:
            assert e["quote"] in shipped[e["document_id"] + ".txt"], q["id"]
    others = {
        a["text"]
        for p in source.parent.glob("h*.json")
        if p.name != source.name
        for a in json.loads(p.read_text(encoding="utf-8"))["articles"]
    }
    assert len(others) >= 40 and not {t.split("\n\n", 1)[1].rstrip("\n") for t in shipped.values()} & others


def test_negatives_corpus_lacks_every_answer() -> None:
    """evals/negatives: the seed articles less the sentences that answer evals/negatives.yaml; each
    question's removed answer (a comment in the YAML) occurs in the originals and nowhere in the copy."""
    from evals.run import load_questions

    qs = load_questions(ROOT / "evals" / "negatives.yaml")
    assert len(qs) >= 20 and all(not q["answerable"] and not q["evidence"] for q in qs)
    folder = ROOT / "evals" / "negatives" / "articles"
    originals = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "data" / "articles").glob("*.txt")}
    copies = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.txt")}
    assert copies.keys() == originals.keys()
    removed = [
        json.loads(line.split(":", 1)[1])
        for line in (ROOT / "evals" / "negatives.yaml").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("# removed answer strings:")
    ]
    assert len(removed) == len(qs)
    original, corpus = " ".join(originals.values()).lower(), " ".join(copies.values()).lower()
    for answers in removed:
        assert any(a.lower() in original for a in answers), answers  # the originals state it
        assert not any(a.lower() in corpus for a in answers), answers  # the negatives corpus does not


def test_llm_rows_are_counted_and_tabled() -> None:
    """With a model, each row carries its usage: abstentions and fallbacks are not the model's answers."""
    from evals.report import llm_table, render_markdown

    usage = {"calls": 1, "llm_ms": 900.0, "prompt_tokens": 1100, "completion_tokens": 80, "dropped": 1}
    rows = [
        {**row("q1"), "llm": {**usage, "fallback": False, "by_model": True}},
        {**row("q2", abstained=True), "llm": {**usage, "fallback": False, "by_model": True}},
        {**row("q3"), "llm": {**usage, "fallback": True, "by_model": False}},
    ]
    mets = aggregate(rows, [])
    assert mets["llm_answered_rate"] == round(1 / 3, 4)
    assert (mets["llm_fallbacks"], mets["llm_sentences_dropped"], mets["llm_prompt_tokens"]) == (
        1.0,
        3.0,
        3300.0,
    )
    table = llm_table({"questions": rows})
    assert [r[-1] for r in table] == ["yes", "abstained", "no (fallback)"]
    assert table[0][3:7] == ["1100", "80", f"{len(rows[0]['citations'])}/{len(rows[0]['citations'])}", "1"]
    assert "llm_answered_rate" not in aggregate([row("q1")], [])  # offline: no model rows
    report = {**synthetic_report(), "questions": rows}
    assert "| q2 | " in render_markdown(report).split("## The model")[1]


def test_distractor_corpus_holds_no_evaluation_or_threshold_article(tmp_path: Path) -> None:
    """evals/distractors/build_corpus.py: every training article and SQuAD paragraph as an article,
    the set's own articles copied unchanged, and no article of an evaluation or threshold file among
    the distractors (a distractor that answered a set's question would score as a wrong answer)."""
    squad = tmp_path / "squad.json"
    paragraphs = ["The first paragraph of a test page.", "A second paragraph, on another matter."]
    squad.write_text(
        json.dumps({"data": [{"title": "Test_page", "paragraphs": [{"context": p} for p in paragraphs]}]}),
        encoding="utf-8",
    )
    out = tmp_path / "corpus"
    script = ROOT / "evals" / "distractors" / "build_corpus.py"
    own = ROOT / "evals" / "wire" / "articles"
    done = subprocess.run(
        [sys.executable, str(script), str(out), "--squad", str(squad), "--with", str(own)],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    news = ROOT / "training" / "data" / "news"
    held_out = {"h5.json", "h18.json", "h19.json"}
    training = [
        a["text"]
        for p in news.glob("h*.json")
        if p.name not in held_out
        for a in json.loads(p.read_text(encoding="utf-8"))["articles"]
    ]
    own_files = {p.name: p.read_bytes() for p in own.glob("*.txt")}
    built = {p.name: p.read_bytes() for p in out.glob("*.txt")}
    assert done.stdout.startswith(f"{len(training) + 2} distractor articles")
    assert len(built) == len(training) + 2 + len(own_files)
    assert all(built[name] == data for name, data in own_files.items())
    distractors = {name: data.decode("utf-8") for name, data in built.items() if name not in own_files}
    bodies = {t.split("\n\n", 1)[1].rstrip("\n") for t in distractors.values()}
    assert set(training) | set(paragraphs) == bodies
    evaluated = {
        a["text"]
        for name in held_out
        for a in json.loads((news / name).read_text(encoding="utf-8"))["articles"]
    }
    assert len(evaluated) >= 20 and not evaluated & bodies
    assert distractors["sq_test-page_1.txt"] == f"Test page (2)\n\n{paragraphs[1]}\n"


# ------------------------------------------------- evals/compare_readers.py: one question set, two readers


def test_compare_readers_asks_each_set_with_each_reader(tmp_path: Path) -> None:
    """Two readers over the tuning sets' own articles (two questions a set): the shipped one, and a
    copy whose threshold nothing reaches, which declines more (it still answers "What did <name>
    say about ...?" from that speaker's statements, as compose does whatever the reader reads)."""
    import shutil

    from answers.reader import WEIGHTS_DIR

    strict = tmp_path / "strict"
    shutil.copytree(WEIGHTS_DIR, strict)
    config = json.loads((strict / "config.json").read_text())
    (strict / "config.json").write_text(json.dumps(config | {"threshold": 1.0}))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FACTDESK_"))}
    cmd = [
        sys.executable,
        "-m",
        "evals.compare_readers",
        "--work",
        str(tmp_path / "work"),
        "--no-distractors",
    ]
    cmd += ["--limit", "2", "--reader", "shipped=", "--reader", f"strict={strict}"]
    done = subprocess.run(
        [*cmd, "--json", str(tmp_path / "out.json")],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert set(out) == {"shipped", "strict"} and set(out["strict"]) == {"questions", "nval", "h18"}
    for tally in out["strict"].values():
        assert tally["questions"] == 2 and tally["declined"] == tally["unanswerable"]
    assert sum(t["false_declines"] for t in out["shipped"].values()) < sum(
        t["false_declines"] for t in out["strict"].values()
    )
    assert "| questions |" in done.stdout  # the table
    # each set over its own articles alone: one data dir a corpus
    assert sorted(p.name for p in (tmp_path / "work" / "data").iterdir()) == ["h18", "nval", "seed"]
    refused = subprocess.run(
        [*cmd[:-4], "--reader", f"none={tmp_path / 'nowhere'}"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "has no reader.npz or config.json" in refused.stderr


def test_the_written_summary_set_is_sound_and_scored_on_real_summaries(warm_model: None) -> None:
    """evals/summaries_news.yaml: every key-fact string occurs in its event's articles (a summary that
    quoted them all would score 1), each entry names real articles; the runner's coverage is
    fact_recall of the summary the service wrote, within its budget."""
    import yaml

    from evals import summary_facts as sf

    entries = yaml.safe_load(sf.DEFAULT_SET.read_text(encoding="utf-8"))["summaries"]
    assert len(entries) == 96 and len({e["id"] for e in entries}) == 96
    for e in entries:
        articles = json.loads((sf.NEWS / f"{e['file']}.json").read_text(encoding="utf-8"))["articles"]
        text = " ".join(articles[i]["text"] for i in e["articles"]).lower()
        assert all(any(s.lower() in text for s in group) for group in e["key_facts"]), e["id"]
    h6 = [e for e in entries if e["file"] == "h6"][:4]
    rows = sf.score_file("h6", h6)
    assert [r["id"] for r in rows] == [e["id"] for e in h6]
    for r, e in zip(rows, h6):
        assert r["summary"] and r["within_max_words"]
        assert r["coverage"] == m.fact_recall(r["summary"], e["key_facts"])[0]
    agg = sf.aggregate(rows)
    assert agg["entries"] == 4 and 0.0 < agg["coverage"] <= 1.0
