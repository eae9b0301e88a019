"""`factdesk eval`: score the fixed questions through the service, compare with a baseline.

The service is the same one the CLI and the API use, over a dedicated data dir
(<FACTDESK_DATA_DIR>/eval-c<chunk>-o<overlap>) holding data/articles, so a run measures exactly what users get.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from evals import metrics as m
from evals.report import LLM_COLUMNS, fmt_delta, fmt_metric, llm_table

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = EVALS_DIR / "questions.yaml"
DEFAULT_SUMMARIES = EVALS_DIR / "summaries.yaml"
DROPPED = "dropped an unsupported sentence"  # answers/llm.py's warning, one per sentence dropped

# metric -> (direction, tolerance). A regression is a move in the wrong direction beyond the tolerance.
GATE: dict[str, tuple[str, float]] = {
    "retrieval_hit@1": ("up", 0.03),
    "retrieval_hit@5": ("up", 0.02),
    "retrieval_mrr": ("up", 0.03),
    "evidence_recall": ("up", 0.03),
    "fact_recall": ("up", 0.03),
    "all_facts_rate": ("up", 0.03),
    "evidence_cited_rate": ("up", 0.02),
    "citation_validity": ("up", 0.0),
    "llm_answered_rate": ("up", 0.0),  # with an LLM: answers the model wrote that verified, not fallbacks
    "citation_support": ("up", 0.05),
    "abstention_precision": ("up", 0.05),
    "abstention_recall": ("up", 0.05),
    "summary_key_fact_coverage": ("up", 0.05),
    "summary_boilerplate_leaks": ("down", 0.0),
}


class EvalInputError(ValueError):
    """A file given to `factdesk eval` that it cannot use; the message names the file and why."""


def _parsed(path: Path, what: str, parse: Callable[[str], Any], errors: tuple, kind: str) -> Any:
    """parse(the file's text), or EvalInputError naming the file and why."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EvalInputError(f"cannot read the {what} {path}: {e.strerror or e}") from e
    except (*errors, UnicodeDecodeError) as e:
        raise EvalInputError(f"the {what} {path} is not {kind} ({str(e).splitlines()[0]})") from e


def load_questions(path: Path, only: list[str] | None = None) -> list[dict]:
    """The questions of a questions file (those tagged with one of `only`, when given)."""
    data = _parsed(path, "questions file", yaml.safe_load, (yaml.YAMLError,), "valid YAML")
    qs = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(qs, list) or not all(isinstance(q, dict) for q in qs):
        raise EvalInputError(
            f"the questions file {path} needs a `questions:` list whose items each have a `question` string"
        )
    problems = question_problems(qs)
    if problems:
        raise EvalInputError(f"the questions file {path}: " + "; ".join(problems))
    if only:
        qs = [q for q in qs if set(only) & set(q.get("tags", []))]
    return qs


QUESTION_FIELDS = ("id", "question", "answerable", "tags", "history", "expected_facts", "evidence")


def _strings(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v)


def _field_problems(q: dict) -> list[str]:
    """A field of the wrong shape, which the scorer would otherwise read as something else (a flat
    `expected_facts` list was a list of one-letter groups, each found in any answer; `answerable:
    "no"` a true value)."""
    problems = []
    if not (isinstance(q.get("question"), str) and q["question"].strip()):
        problems.append("`question` must be a non-empty string")
    if "answerable" in q and not isinstance(q["answerable"], bool):
        problems.append("`answerable` must be true or false")
    for name in ("tags", "history"):
        if name in q and not (_strings(q[name]) or q[name] == []):
            problems.append(f"`{name}` must be a list of strings")
    facts = q.get("expected_facts")
    if "expected_facts" in q and not (isinstance(facts, list) and all(_strings(g) and g for g in facts)):
        problems.append(
            '`expected_facts` must be a list of groups, each a list of strings: [["300", "three hundred"]]'
        )
    evidence = q.get("evidence")
    if "evidence" in q and not (
        isinstance(evidence, list)
        and all(
            isinstance(e, dict) and isinstance(e.get("document_id"), str) and isinstance(e.get("quote"), str)
            for e in evidence
        )
    ):
        problems.append("`evidence` must be a list of {document_id: str, quote: str}")
    return problems


def question_problems(qs: list[dict]) -> list[str]:
    """What is wrong with a questions file's entries: an id missing or used twice (the report and the
    baseline know a question by it), a field the scorer does not read (a misspelt `expected_fact`
    would silently score nothing), a field of the wrong shape (_field_problems)."""
    problems, seen = [], set()
    for i, q in enumerate(qs):
        qid = q.get("id")
        if not isinstance(qid, (str, int)) or isinstance(qid, bool) or not str(qid).strip():
            problems.append(f"question {i + 1} has no `id`")
        elif str(qid) in seen:
            problems.append(f"the id {qid!r} is used twice")
        else:
            seen.add(str(qid))
        name = (
            f"question {qid!r}" if isinstance(qid, (str, int)) and str(qid).strip() else f"question {i + 1}"
        )
        unknown = sorted(set(q) - set(QUESTION_FIELDS))
        if unknown:
            problems.append(
                f"{name} has unknown field(s) {', '.join(unknown)} (the fields: {', '.join(QUESTION_FIELDS)})"
            )
        problems += [f"{name}: {p}" for p in _field_problems(q)]
    return problems


def folder_problem(path: Path) -> str | None:
    """Why a folder could not be made or written at path (None: it can), without making it."""
    if path.exists():
        if not path.is_dir():
            return "it is a file, not a folder"
        return None if os.access(path, os.W_OK | os.X_OK) else "the folder is not writable"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"{parent} is not writable"


def eval_service(settings):  # type: ignore[no-untyped-def]
    """A service over <data_dir>/eval-c<chunk>-o<overlap> with data/articles ingested (unchanged files cost nothing).

    Unchanged text is never re-chunked, so each chunking gets its own store: a run always measures the
    chunk settings its report is stamped with.
    """
    from factdesk.service import Factdesk

    store = f"eval-c{settings.chunk_tokens}-o{settings.chunk_overlap_tokens}"
    svc = Factdesk(settings.model_copy(update={"data_dir": Path(settings.data_dir) / store}))
    svc.ingest_paths([settings.articles_path])
    return svc


def llm_usage(before, after, answer: dict, model: str) -> dict:  # type: ignore[no-untyped-def]
    """What one answer cost at the model and what became of its reply, from the service's telemetry
    before and after it (questions are asked one at a time, so the difference is this answer's)."""
    fallback = sum(after.fallbacks.values()) > sum(before.fallbacks.values())
    llm = after.stages["llm"]
    return {
        "calls": llm.count - before.stages["llm"].count,
        "llm_ms": round((llm.total - before.stages["llm"].total) * 1000, 1),
        "prompt_tokens": after.tokens["prompt"] - before.tokens["prompt"],
        "completion_tokens": after.tokens["completion"] - before.tokens["completion"],
        "dropped": answer.get("warnings", []).count(DROPPED),
        "fallback": fallback,
        "by_model": answer["generator"] == model and not fallback,
    }


def score_question(svc, q: dict, texts: dict[str, str]) -> dict:  # type: ignore[no-untyped-def]
    history = q.get("history") or []
    gold = m.evidence_spans(q.get("evidence", []), texts)
    before = svc.telemetry.snapshot()
    t0 = time.perf_counter()
    asked = svc.ask(q["question"], history=history)
    latency_ms = (time.perf_counter() - t0) * 1000
    after = svc.telemetry.snapshot()
    # the hits the answer was read from, not a second search (a summary request has none)
    hits = asked.retrieved
    query = asked.question or q["question"]
    retrieval = m.retrieval_metrics([m.Span(h.document_id, h.start, h.end) for h in hits], gold)
    answer = asked.to_dict()
    recall, missed = (
        m.fact_recall(answer["answer"], q.get("expected_facts", []))
        if not answer["abstained"]
        else (0.0, [list(g) for g in q.get("expected_facts", [])])
    )
    quotes = [c["quote"] for c in answer["citations"]]
    cited_recall = (
        0.0
        if answer["abstained"]
        else m.cited_fact_recall(answer["answer"], quotes, q.get("expected_facts", []))[0]
    )
    cites = m.citation_checks(answer["citations"], texts, gold)
    row = {
        "id": q["id"],
        "question": q["question"],
        "history": history,
        "tags": q.get("tags", []),
        "answerable": bool(q.get("answerable", True)),
        "query": query,
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "citations": answer["citations"],
        "generator": answer["generator"],
        "warnings": answer.get("warnings", []),
        "retrieval": retrieval,
        "has_evidence": bool(gold),
        "top_hits": [h.chunk_id for h in hits],
        "fact_recall": recall,
        "missed_facts": missed,
        "cited_fact_recall": cited_recall,
        "citation_checks": cites,
        "gold_missing": sum(g is None for g in gold),
        "latency_ms": round(latency_ms, 1),
    }
    if svc.settings.llm_enabled:
        row["llm"] = llm_usage(before, after, answer, svc.settings.llm_model)
    return row


def aggregate(rows: list[dict], summaries: list[dict]) -> dict[str, float]:
    ans = [r for r in rows if r["answerable"]]
    # retrieval and evidence are scored where the file says where the answer is
    located = [r for r in ans if r.get("has_evidence", True)]
    una = [r for r in rows if not r["answerable"]]
    answered = [r for r in located if not r["abstained"]]
    abstained = [r for r in rows if r["abstained"]]
    total_cites = sum(r["citation_checks"]["citations"] for r in rows)
    out = {
        "questions": float(len(rows)),
        "retrieval_hit@1": m.mean([r["retrieval"]["hit@1"] for r in located]),
        "retrieval_hit@3": m.mean([r["retrieval"]["hit@3"] for r in located]),
        "retrieval_hit@5": m.mean([r["retrieval"]["hit@5"] for r in located]),
        "retrieval_mrr": m.mean([r["retrieval"]["mrr"] for r in located]),
        "evidence_recall": m.mean([r["retrieval"]["evidence_recall"] for r in located]),
        "fact_recall": m.mean([r["fact_recall"] for r in ans]),
        "all_facts_rate": m.mean([float(r["fact_recall"] == 1.0) for r in ans]),
        # the facts in the answer or a quote it cites (metrics.cited_fact_recall); not gated
        "all_facts_cited_rate": m.mean([float(r.get("cited_fact_recall", 0.0) == 1.0) for r in ans]),
        "evidence_cited_rate": m.mean([float(r["citation_checks"]["supported"] > 0) for r in located]),
        "citation_validity": (sum(r["citation_checks"]["valid"] for r in rows) / total_cites)
        if total_cites
        else 1.0,
        "citation_support": (
            sum(r["citation_checks"]["supported"] for r in answered)
            / max(1, sum(r["citation_checks"]["citations"] for r in answered))
        ),
        "abstention_precision": (sum(not r["answerable"] for r in abstained) / len(abstained))
        if abstained
        else 1.0,
        "abstention_recall": (sum(r["abstained"] for r in una) / len(una)) if una else 1.0,
        "false_abstentions": float(sum(r["abstained"] for r in ans)),
        "unanswerable_abstained": float(sum(r["abstained"] for r in una)),
        "latency_p50_ms": m.percentile([r["latency_ms"] for r in rows], 50),
        "latency_p95_ms": m.percentile([r["latency_ms"] for r in rows], 95),
    }
    if summaries:
        out["summary_key_fact_coverage"] = m.mean([s["key_fact_coverage"] for s in summaries])
        out["summary_boilerplate_leaks"] = float(sum(len(s["leaked"]) for s in summaries))
        out["summary_within_max_words"] = m.mean([float(s["words"] <= s["max_words"]) for s in summaries])
    llm_rows = [r["llm"] for r in rows if r.get("llm")]
    if llm_rows:
        # answered by the model: its own verified sentences (not an abstention, not the fallback)
        out["llm_answered_rate"] = m.mean(
            [float(r["llm"]["by_model"] and not r["abstained"]) for r in rows if r.get("llm")]
        )
        out["llm_fallbacks"] = float(sum(u["fallback"] for u in llm_rows))
        out["llm_sentences_dropped"] = float(sum(u["dropped"] for u in llm_rows))
        out["llm_prompt_tokens"] = float(sum(u["prompt_tokens"] for u in llm_rows))
        out["llm_completion_tokens"] = float(sum(u["completion_tokens"] for u in llm_rows))
    judged = [r["judge"] for r in rows if r.get("judge")]
    if judged:
        out["judge_faithfulness"] = m.mean([j["faithfulness"] for j in judged])
        out["judge_correctness"] = m.mean([j["correctness"] for j in judged])
    return {k: round(v, 4) for k, v in out.items()}


def by_tag(rows: list[dict]) -> dict[str, dict[str, float]]:
    tags = sorted({t for r in rows for t in r["tags"]})
    return {t: aggregate([r for r in rows if t in r["tags"]], []) for t in tags}


def load_summaries(path: Path) -> list[dict]:
    """The requests of a summaries file."""
    data = _parsed(path, "summaries file", yaml.safe_load, (yaml.YAMLError,), "valid YAML")
    items = data.get("summaries") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(s, dict) and "key_facts" in s for s in items):
        raise EvalInputError(
            f"the summaries file {path} needs a `summaries:` list whose items each have `key_facts`"
        )
    return items


def check_references(questions: list[dict], summaries: list[dict], texts: dict[str, str]) -> None:
    """EvalInputError, before anything is asked, for evidence or summary documents the articles do
    not hold: a typo in a document id or a quote would otherwise read as the engine's failure."""
    problems = []
    for q in questions:
        for ev in q.get("evidence") or []:
            doc_id = ev.get("document_id") if isinstance(ev, dict) else None
            if doc_id not in texts:
                problems.append(f"{q.get('id', q['question'])}: no article {doc_id!r} for its evidence")
            elif not isinstance(ev.get("quote"), str) or m.evidence_spans([ev], texts)[0] is None:
                problems.append(f"{q.get('id', q['question'])}: evidence quote not found in {doc_id!r}")
    for s in summaries:
        missing = [d for d in s.get("document_ids") or [] if d not in texts]
        if missing:
            problems.append(f"summary {s.get('id')}: no article {missing[0]!r}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise EvalInputError(f"{len(problems)} reference(s) to what the articles do not hold: {shown}")


def score_summaries(svc, requests: list[dict]) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    for s in requests:
        summ = svc.summarize(
            document_ids=s.get("document_ids") or None, query=s.get("query"), max_words=s.get("max_words")
        ).to_dict()
        cov, missed = m.fact_recall(summ["summary"], s["key_facts"])
        out.append(
            {
                "id": s["id"],
                "summary": summ["summary"],
                "citations": summ["citations"],
                "key_fact_coverage": cov,
                "missed_facts": missed,
                "leaked": m.leaked_boilerplate(summ["summary"]),
                "words": len(summ["summary"].split()),
                "max_words": s.get("max_words") or 120,
            }
        )
    return out


def run_eval(
    svc,
    questions: list[dict],
    questions_path: Path,
    summaries_path: Path | None,  # type: ignore[no-untyped-def]
    only: list[str] | None = None,
    judge=None,
) -> dict:
    texts = {d.id: d.text for d in svc.list_documents()}
    summary_requests = load_summaries(summaries_path) if summaries_path and not only else []
    check_references(questions, summary_requests, texts)
    rows = [score_question(svc, q, texts) for q in questions]
    if judge is not None:
        for r in rows:
            r["judge"] = judge(r, next(q for q in questions if q["id"] == r["id"]), texts)
    summaries = score_summaries(svc, summary_requests)
    s = svc.settings
    return {
        "meta": {
            "prompt_version": svc.prompts.version,
            "generator": rows[0]["generator"] if rows else None,
            "llm_model": s.llm_model if s.llm_enabled else None,
            "embedder": svc.embedder.name,
            "questions_file": str(questions_path),
            "questions": len(rows),
            "only": only or [],
            "questions_hash": hashlib.sha256(questions_path.read_bytes()).hexdigest()[:12],
            "settings": {
                "chunk_tokens": s.chunk_tokens,
                "chunk_overlap_tokens": s.chunk_overlap_tokens,
                "embed_precision": s.embed_precision,
                "default_top_k": s.default_top_k,
                "search_mode": s.search_mode,
                "chroma": svc.vectors.mode,
                "answerer": s.answerer,
            },
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "metrics": aggregate(rows, summaries),
        "by_tag": by_tag(rows),
        "questions": rows,
        "summaries": summaries,
    }


def compare(current: dict[str, float], baseline: dict[str, float]) -> list[dict]:
    """Per gated metric: baseline, current, delta, and whether it regressed beyond its tolerance."""
    rows = []
    for name, (direction, tol) in GATE.items():
        if name not in current or name not in baseline:
            continue
        delta = current[name] - baseline[name]
        worse = -delta if direction == "up" else delta
        rows.append(
            {
                "metric": name,
                "baseline": baseline[name],
                "current": current[name],
                "delta": round(delta, 4),
                "tolerance": tol,
                "regressed": worse > tol + 1e-9,
            }
        )
    return rows


def load_report(path: Path, what: str) -> dict:
    """A report.json or baseline written by `factdesk eval`: an object whose `metrics` are numbers."""
    report = _parsed(Path(path), what, json.loads, (json.JSONDecodeError,), "JSON")
    metrics = report.get("metrics") if isinstance(report, dict) else None
    if not isinstance(metrics, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()
    ):
        raise EvalInputError(
            f"the {what} {path} is not a factdesk eval report (a JSON object whose `metrics` are numbers)"
        )
    return report


def print_table(report: dict, comparison: list[dict] | None) -> None:
    cmp = {c["metric"]: c for c in comparison or []}
    meta = report.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    print(
        f"factdesk eval — prompt_version {meta.get('prompt_version', '?')}, generator "
        f"{meta.get('generator', '?')}, {meta.get('questions', '?')} questions"
    )
    print(f"{'metric':28} {'value':>9} {'baseline':>9} {'delta':>8}")
    for k, v in report["metrics"].items():
        c = cmp.get(k)
        base = f"{fmt_metric(k, c['baseline']):>9}" if c else " " * 9
        delta = f"{fmt_delta(k, c['delta']):>8}" if c else ""
        flag = "  REGRESSION" if c and c["regressed"] else ""
        print(f"{k:28} {fmt_metric(k, v):>9} {base} {delta}{flag}")  # counts as counts, rates to 3 places
    table = llm_table(report)
    if table:
        widths = [max(len(str(x)) for x in col) for col in zip(LLM_COLUMNS, *table)]
        print()
        for cells in [LLM_COLUMNS, *table]:
            print(
                "  ".join(f"{c:{'<' if i == 0 else '>'}{w}}" for i, (c, w) in enumerate(zip(cells, widths)))
            )


def run_cli(args: argparse.Namespace) -> int:
    try:
        return _run_cli(args)
    except EvalInputError as e:
        print(f"factdesk eval: {e}", file=sys.stderr)
        return 2


def _run_cli(args: argparse.Namespace) -> int:
    from evals.report import write_reports
    from factdesk.settings import load_settings

    if args.compare:
        a, b = (load_report(Path(p), "report") for p in args.compare)
        changes = compare(b["metrics"], a["metrics"])
        print_table(b, changes)
        return 1 if any(c["regressed"] for c in changes) else 0
    settings = load_settings()
    if args.baseline and not Path(args.baseline).is_file():  # fail now, not after a 1-minute run
        print(f"factdesk eval: no baseline file {args.baseline}", file=sys.stderr)
        return 2
    baseline = load_report(Path(args.baseline), "baseline") if args.baseline else None
    if not settings.articles_path.is_dir():
        print(
            f"factdesk eval: no articles folder {settings.articles_path} (FACTDESK_ARTICLES_DIR)",
            file=sys.stderr,
        )
        return 2
    questions_path = Path(args.questions) if args.questions else DEFAULT_QUESTIONS
    questions = load_questions(questions_path, args.only)
    out = Path(args.report)
    if (
        problem := folder_problem(out)
    ) is not None:  # said now, not after the run, whose results it would lose
        raise EvalInputError(f"cannot write the report to {out}: {problem}")
    if not questions:
        print("factdesk eval: no questions selected", file=sys.stderr)
        return 2
    svc = eval_service(settings)
    judge = None
    if settings.llm_enabled and not getattr(args, "no_judge", False):
        from evals.judge import build_judge

        judge = build_judge(svc, settings)
    # the bundled summary requests are about the bundled articles: a questions file of one's own
    # scores summaries only when a summaries file is given with it
    summaries_path = Path(args.summaries) if args.summaries else None
    if summaries_path is None and not args.questions and DEFAULT_SUMMARIES.exists():
        summaries_path = DEFAULT_SUMMARIES
    report = run_eval(svc, questions, questions_path, summaries_path, args.only, judge)
    comparison: list[dict] | None = None
    if baseline is not None:
        comparison = compare(report["metrics"], baseline["metrics"])
        report["baseline"] = {
            "file": str(args.baseline),
            "meta": baseline.get("meta", {}),
            "metrics": baseline["metrics"],
            "comparison": comparison,
        }
    print_table(report, comparison)  # first: a report that cannot be written still shows the run
    try:
        write_reports(report, out)
        if args.write_baseline:
            Path(args.write_baseline).write_text(
                json.dumps({"meta": report["meta"], "metrics": report["metrics"]}, indent=2) + "\n"
            )
    except OSError as e:
        raise EvalInputError(f"cannot write the report: {e.strerror or e} ({e.filename or out})") from e
    print(f"reports: {out / 'report.json'}, {out / 'report.md'}, {out / 'report.html'}")
    if comparison and any(c["regressed"] for c in comparison):
        bad = ", ".join(c["metric"] for c in comparison if c["regressed"])
        print(f"REGRESSION against {args.baseline}: {bad}", file=sys.stderr)
        return 1
    return 0
