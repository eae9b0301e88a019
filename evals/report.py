"""Eval reports: report.json, report.md and a self-contained report.html (inline CSS and SVG, offline).

Everything here is a pure function of the report dict that evals/run.py builds; `write_reports` is the
only function that touches the disk. Every text that came from an article, a question or a model is
escaped (html.escape for HTML, pipes and newlines for Markdown tables).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

# Metrics that are counts or milliseconds rather than rates in [0, 1]: tabled, never drawn as 0..1 bars.
NOT_RATES = {
    "questions",
    "false_abstentions",
    "unanswerable_abstained",
    "latency_p50_ms",
    "latency_p95_ms",
    "summary_boilerplate_leaks",
}

BASELINE_COLOR = "#9aa5b1"
CURRENT_COLOR = "#2563eb"
REGRESSED_COLOR = "#dc2626"
SECOND_COLOR = "#0d9488"


# ---------------------------------------------------------------- pure helpers


def failure_reasons(row: dict) -> list[str]:
    """Why a question fails; empty when it passes.

    Answerable: not abstained, every expected fact group found, at least one citation supported by the
    gold evidence (when the question gives evidence). Unanswerable: abstained.
    """
    if not row["answerable"]:
        return [] if row["abstained"] else ["answered an unanswerable question"]
    if row["abstained"]:
        return ["abstained on an answerable question"]
    reasons = []
    if row["fact_recall"] < 1.0:
        reasons.append(f"missed {len(row['missed_facts'])} fact group(s)")
    if row.get("has_evidence", True) and row["citation_checks"]["supported"] < 1:
        reasons.append("no citation supported by the gold evidence")
    return reasons


def passed(row: dict) -> bool:
    return not failure_reasons(row)


def hit_rank(row: dict) -> int | None:
    """Rank (1..k) of the first retrieved chunk covering gold evidence; None when none did."""
    mrr = row["retrieval"]["mrr"]
    return round(1.0 / mrr) if mrr > 0 else None


def is_rate(metric: str) -> bool:
    return metric not in NOT_RATES


def stamp(report: dict) -> list[tuple[str, str]]:
    """What produced these numbers: the labels and values every report format carries."""
    meta = report["meta"]
    settings = ", ".join(f"{k}={v}" for k, v in (meta.get("settings") or {}).items())
    items = [
        ("prompt_version", meta.get("prompt_version")),
        ("generator", meta.get("generator")),
        ("llm_model", meta.get("llm_model") or "none (offline)"),
        ("embedder", meta.get("embedder")),
        ("settings", settings),
        (
            "questions",
            f"{meta.get('questions')} from {meta.get('questions_file')}"
            + (f" (only tags: {', '.join(meta['only'])})" if meta.get("only") else ""),
        ),
        ("questions_hash", meta.get("questions_hash")),
        ("date", meta.get("created_at")),
    ]
    base = report.get("baseline")
    if base:
        bm = base.get("meta") or {}
        items.append(
            (
                "baseline",
                (
                    f"{base.get('file')} (prompt_version {bm.get('prompt_version')}, "
                    f"generator {bm.get('generator')}, date {bm.get('created_at')})"
                ),
            )
        )
    return [(k, "" if v is None else str(v)) for k, v in items]


def regressions(report: dict) -> list[dict]:
    return [c for c in (report.get("baseline") or {}).get("comparison", []) if c["regressed"]]


def verdict(report: dict) -> str:
    rows = report["questions"]
    n_pass = sum(passed(r) for r in rows)
    head = f"{n_pass}/{len(rows)} questions pass."
    if not report.get("baseline"):
        return f"{head} No baseline given."
    bad = regressions(report)
    if bad:
        return f"{head} REGRESSION against {report['baseline']['file']}: " + ", ".join(
            c["metric"] for c in bad
        )
    return f"{head} No regression against {report['baseline']['file']}."


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def fmt_metric(name: str, v: float | None) -> str:
    if v is None:
        return "—"
    if name.startswith("latency"):
        return f"{v:.1f}"
    return f"{v:.3f}" if is_rate(name) else f"{v:g}"


def fmt_delta(name: str, d: float | None) -> str:
    if d is None:
        return "—"
    if name.startswith("latency"):
        return f"{d:+.1f}"
    return f"{d:+.3f}" if is_rate(name) else f"{d:+g}"


def tag_rows(report: dict) -> list[dict]:
    """Per tag: counts from the rows, metrics from report['by_tag'] (None where a metric has no rows)."""
    out = []
    for tag, mets in report.get("by_tag", {}).items():
        rows = [r for r in report["questions"] if tag in r["tags"]]
        n_ans = sum(r["answerable"] for r in rows)
        n_una = len(rows) - n_ans
        ans = {
            k: mets.get(k) if n_ans else None
            for k in (
                "retrieval_hit@1",
                "retrieval_hit@5",
                "retrieval_mrr",
                "fact_recall",
                "citation_support",
            )
        }
        out.append(
            {
                "tag": tag,
                "questions": len(rows),
                "answerable": n_ans,
                "pass_rate": sum(passed(r) for r in rows) / len(rows) if rows else 0.0,
                "hit@1": ans["retrieval_hit@1"],
                "hit@5": ans["retrieval_hit@5"],
                "mrr": ans["retrieval_mrr"],
                "fact_recall": ans["fact_recall"],
                "citation_support": ans["citation_support"],
                "abstention_recall": mets.get("abstention_recall") if n_una else None,
                "latency_p50_ms": mets.get("latency_p50_ms"),
            }
        )
    return out


def has_judge(report: dict) -> bool:
    return any(r.get("judge") or r.get("judge_error") for r in report["questions"])


# ---------------------------------------------------------------- Markdown


def md_text(v: object) -> str:
    """Article and model text in Markdown: no raw HTML reaches a renderer."""
    return str(v).replace("<", "&lt;")


def md_cell(v: object) -> str:
    return md_text(v).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


LLM_COLUMNS = ("id", "latency ms", "llm ms", "prompt tok", "compl. tok", "valid cites", "dropped", "by model")


def llm_table(report: dict) -> list[list[str]]:
    """Per question: its latency, the model's share of it, tokens, exact citations out of all, sentences
    dropped by verification, and whether the model's answer was used (no fallback)."""
    rows = []
    for r in report.get("questions", []):
        u = r.get("llm")
        if not u:
            continue
        c = r["citation_checks"]
        rows.append(
            [
                r["id"],
                f"{r['latency_ms']:.0f}",
                f"{u['llm_ms']:.0f}",
                str(u["prompt_tokens"]),
                str(u["completion_tokens"]),
                f"{c['valid']}/{c['citations']}",
                str(u["dropped"]),
                ("abstained" if r["abstained"] else "yes")
                if u["by_model"]
                else ("no (fallback)" if u["fallback"] else "no"),
            ]
        )
    return rows


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return lines


def citation_line(c: dict) -> str:
    return f"[{c['marker']}] {c['document_id']} {c['start']}–{c['end']}: “{md_text(c['quote'])}”"


def missed_text(row: dict) -> str:
    return "; ".join(" / ".join(g) for g in row["missed_facts"]) or "—"


def render_markdown(report: dict) -> str:
    out = ["# factdesk eval report", ""]
    out += [
        f"- **{k}**: `{v}`" if k in ("prompt_version", "questions_hash") else f"- **{k}**: {v}"
        for k, v in stamp(report)
    ]
    out += ["", f"**{verdict(report)}**", "", "## Summary metrics", ""]
    cmp = {c["metric"]: c for c in (report.get("baseline") or {}).get("comparison", [])}
    if report.get("baseline"):
        base = report["baseline"]["metrics"]
        rows = []
        for k, v in report["metrics"].items():
            c = cmp.get(k)
            b = base.get(k)
            delta = c["delta"] if c else (v - b if b is not None else None)
            flag = "**REGRESSION**" if c and c["regressed"] else ("ok" if c else "")
            rows.append(
                [
                    k,
                    fmt_metric(k, v),
                    fmt_metric(k, b),
                    fmt_delta(k, delta),
                    f"±{c['tolerance']:g}" if c else "",
                    flag,
                ]
            )
        out += md_table(["metric", "value", "baseline", "delta", "tolerance", "gate"], rows)
    else:
        out += md_table(["metric", "value"], [[k, fmt_metric(k, v)] for k, v in report["metrics"].items()])

    out += ["", "## By tag", ""]
    out += md_table(
        [
            "tag",
            "questions",
            "answerable",
            "pass rate",
            "hit@1",
            "hit@5",
            "mrr",
            "fact recall",
            "citation support",
            "abstention recall",
            "latency p50 ms",
        ],
        [
            [
                t["tag"],
                t["questions"],
                t["answerable"],
                fmt(t["pass_rate"]),
                fmt(t["hit@1"]),
                fmt(t["hit@5"]),
                fmt(t["mrr"]),
                fmt(t["fact_recall"]),
                fmt(t["citation_support"]),
                fmt(t["abstention_recall"]),
                fmt_metric("latency", t["latency_p50_ms"]),
            ]
            for t in tag_rows(report)
        ],
    )

    judge = has_judge(report)
    out += ["", "## Questions", ""]
    header = ["id", "tags", "result", "fact recall", "hit@k rank", "abstained", "latency ms"]
    if judge:
        header += ["faithfulness", "correctness"]
    rows = []
    for r in report["questions"]:
        rank = hit_rank(r)
        row = [
            r["id"],
            ", ".join(r["tags"]),
            "pass" if passed(r) else "**FAIL**",
            fmt(r["fact_recall"]) if r["answerable"] else "—",
            (rank if rank else "miss") if r["answerable"] else "—",
            "yes" if r["abstained"] else "no",
            f"{r['latency_ms']:.1f}",
        ]
        if judge:
            j = r.get("judge") or {}
            row += [
                fmt(j.get("faithfulness")) if j else ("error" if r.get("judge_error") else "—"),
                fmt(j.get("correctness")) if j else ("error" if r.get("judge_error") else "—"),
            ]
        rows.append(row)
    out += md_table(header, rows)

    if llm_table(report):
        out += ["", f"## The model ({report['meta'].get('llm_model')})", ""]
        out += md_table(LLM_COLUMNS, llm_table(report))

    failing = [r for r in report["questions"] if not passed(r)]
    out += ["", f"## Failures ({len(failing)})", ""]
    if not failing:
        out.append("None.")
    for r in failing:
        out += [f"### {r['id']} — {'; '.join(failure_reasons(r))}", ""]
        if r.get("history"):
            out += ["Earlier turns: " + " → ".join(f"“{md_text(h)}”" for h in r["history"]), ""]
        out += [f"**Question:** {md_text(r['question'])}", "", f"**Tags:** {', '.join(r['tags'])}", ""]
        out += [
            "**Answer:**",
            "",
            *[f"> {md_text(line)}" for line in (r["answer"] or "(empty)").splitlines()],
            "",
        ]
        if r["citations"]:
            out += ["**Citations:**", "", *[f"- {citation_line(c)}" for c in r["citations"]], ""]
        else:
            out += ["**Citations:** none", ""]
        cc = r["citation_checks"]
        out += [
            (
                f"**Citation checks:** {cc['valid']}/{cc['citations']} exact, {cc['supported']} supported by "
                f"gold evidence; retrieval rank {hit_rank(r) or 'miss'}"
            ),
            "",
        ]
        if r["answerable"]:
            out += [f"**Missed facts:** {md_text(missed_text(r))}", ""]
        if r.get("judge"):
            out += [
                (
                    f"**Judge:** faithfulness {fmt(r['judge']['faithfulness'])}, correctness "
                    f"{fmt(r['judge']['correctness'])} — {md_text(r['judge'].get('reason', ''))}"
                ),
                "",
            ]

    if report.get("summaries"):
        out += ["## Summaries", ""]
        out += md_table(
            ["id", "key fact coverage", "words / max", "boilerplate leaked", "missed"],
            [
                [
                    s["id"],
                    fmt(s["key_fact_coverage"]),
                    f"{s['words']} / {s['max_words']}",
                    ", ".join(s["leaked"]) or "—",
                    missed_text(s),
                ]
                for s in report["summaries"]
            ],
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- SVG charts


def esc(v: object) -> str:
    return html.escape(str(v), quote=True)


def svg_open(width: float, height: float, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}">'
    )


def svg_hbars(
    rows: Sequence[tuple[str, Sequence[tuple[float | None, str, str]]]],
    legend: Sequence[tuple[str, str]],
    title: str,
    label_width: int = 200,
    bar_width: int = 380,
) -> str:
    """Horizontal grouped bars on a 0..1 axis. rows: (label, [(value or None, color, tooltip), ...])."""
    per = max((len(bars) for _, bars in rows), default=1)
    bar_h, gap = 11, 2
    group_h = per * bar_h + (per - 1) * gap + 10
    top = 62
    width = label_width + bar_width + 60
    height = top + group_h * len(rows) + 8
    x0 = label_width
    parts = [svg_open(width, height, title), f'<text x="0" y="14" class="ct">{esc(title)}</text>']
    lx = x0
    for name, color in legend:
        parts.append(
            f'<rect x="{lx}" y="22" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14}" y="31" class="cl">{esc(name)}</text>'
        )
        lx += 22 + 7 * len(name)
    for i in range(5):
        x = x0 + bar_width * i / 4
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 6}" class="grid"/>'
            f'<text x="{x:.1f}" y="{top - 12}" class="cl" text-anchor="middle">{i / 4:g}</text>'
        )
    for gi, (label, bars) in enumerate(rows):
        y = top + gi * group_h
        mid = y + (per * bar_h + (per - 1) * gap) / 2
        parts.append(f'<text x="{x0 - 8}" y="{mid + 4:.1f}" class="cl" text-anchor="end">{esc(label)}</text>')
        for bi, (value, color, tip) in enumerate(bars):
            by = y + bi * (bar_h + gap)
            if value is None:
                parts.append(f'<text x="{x0 + 4}" y="{by + bar_h - 2}" class="cv">n/a</text>')
                continue
            w = max(0.0, min(1.0, value)) * bar_width
            parts.append(
                f'<rect x="{x0}" y="{by}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
                f"<title>{esc(tip)}</title></rect>"
                f'<text x="{x0 + w + 4:.1f}" y="{by + bar_h - 2}" class="cv">{value:.3f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def metrics_chart(report: dict) -> str:
    base = (report.get("baseline") or {}).get("metrics") or {}
    cmp = {c["metric"]: c for c in (report.get("baseline") or {}).get("comparison", [])}
    rows = []
    for k, v in report["metrics"].items():
        if not is_rate(k):
            continue
        regressed = bool(cmp.get(k, {}).get("regressed"))
        current = (
            v,
            REGRESSED_COLOR if regressed else CURRENT_COLOR,
            f"{k}: {v:.3f}" + (" — REGRESSION" if regressed else ""),
        )
        if base:
            b = base.get(k)
            rows.append((k, [(b, BASELINE_COLOR, f"{k} baseline: {fmt(b)}"), current]))
        else:
            rows.append((k, [current]))
    legend = (
        [("baseline", BASELINE_COLOR), ("current", CURRENT_COLOR), ("regressed", REGRESSED_COLOR)]
        if base
        else [("current", CURRENT_COLOR)]
    )
    return svg_hbars(rows, legend, "Metrics" + (" against the baseline" if base else ""))


def tag_chart(report: dict) -> str:
    rows = [
        (
            t["tag"],
            [
                (t["hit@5"], CURRENT_COLOR, f"{t['tag']} hit@5: {fmt(t['hit@5'])}"),
                (t["fact_recall"], SECOND_COLOR, f"{t['tag']} fact recall: {fmt(t['fact_recall'])}"),
            ],
        )
        for t in tag_rows(report)
    ]
    return svg_hbars(
        rows,
        [("retrieval hit@5", CURRENT_COLOR), ("fact recall", SECOND_COLOR)],
        "By tag (answerable questions)",
        label_width=120,
    )


def latency_bins(latencies: Sequence[float]) -> list[tuple[float, float, int]]:
    """Counts over 1-2-5 bins (ms), wide enough for a cold model load and a cached lookup in one chart."""
    if not latencies:
        return []
    edges: list[float] = []
    e = 10.0 ** math.floor(math.log10(max(min(latencies), 0.1)))
    while not edges or edges[-1] <= max(latencies):
        for f in (1, 2, 5):
            edges.append(e * f)
        e *= 10
    while len(edges) > 2 and edges[1] <= min(latencies):
        edges.pop(0)
    while len(edges) > 2 and edges[-2] > max(latencies):
        edges.pop()
    if len(edges) < 6:  # a narrow range (every answer cached): eight even bins say more
        lo, hi = math.floor(min(latencies)), math.ceil(max(latencies) * 1.0001 + 1e-9)
        step = max(hi - lo, 1) / 8
        edges = [lo + i * step for i in range(9)]
    return [(lo, hi, sum(lo <= v < hi for v in latencies)) for lo, hi in pairwise(edges)]


def fmt_ms(v: float) -> str:
    return f"{v / 1000:.3g}s" if v >= 1000 else f"{v:.3g}"


def latency_chart(report: dict) -> str:
    lat = [r["latency_ms"] for r in report["questions"]]
    bins = latency_bins(lat)
    width, height, left, top, bottom = 560, 230, 40, 30, 40
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max((c for _, _, c in bins), default=1) or 1
    mets = report["metrics"]
    spacing = (
        "log-spaced"
        if len(bins) > 1 and bins[1][1] - bins[1][0] > 1.01 * (bins[0][1] - bins[0][0])
        else "even"
    )
    title = (
        f"Answer latency, ms (p50 {mets.get('latency_p50_ms', 0):.1f}, "
        f"p95 {mets.get('latency_p95_ms', 0):.1f}; {spacing} bins)"
    )
    parts = [
        svg_open(width, height, "latency histogram"),
        f'<text x="0" y="14" class="ct">{esc(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" class="axis"/>',
    ]
    for i in range(5):
        c = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="cl" text-anchor="end">{c:.3g}</text>'
        )
    n = max(len(bins), 1)
    bw = plot_w / n
    for i, (lo, hi, count) in enumerate(bins):
        h = plot_h * count / peak
        x = left + i * bw
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 4:.1f}" height="{h:.1f}" '
            f'fill="{CURRENT_COLOR}"><title>{fmt_ms(lo)}–{fmt_ms(hi)} ms: {count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{top + plot_h - h - 4:.1f}" class="cv" '
                f'text-anchor="middle">{count}</text>'
            )
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" class="cl" text-anchor="middle">{fmt_ms(lo)}</text>'
        )
    if bins:
        parts.append(
            f'<text x="{left + plot_w:.1f}" y="{top + plot_h + 16}" class="cl" text-anchor="end">'
            f"{fmt_ms(bins[-1][1])}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" class="cl" text-anchor="middle">'
        f"milliseconds per answer</text></svg>"
    )
    return "".join(parts)


# ---------------------------------------------------------------- HTML

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933;
 background:#f5f7fa;margin:0}
main{max-width:1360px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:24px;margin:0 0 12px}h2{font-size:18px;margin:32px 0 10px;border-bottom:1px solid #d9e2ec;
 padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.stamp{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;background:#fff;border:1px solid #d9e2ec;
 border-radius:6px;padding:10px 14px;margin:0}
.stamp dt{font-weight:600;color:#52606d}.stamp dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;
 font-size:12.5px;overflow-wrap:anywhere}
.verdict{margin:14px 0;padding:10px 14px;border-radius:6px;font-weight:600;background:#e3f8ee;color:#05603a;
 border:1px solid #a6e4c6}
.verdict.bad{background:#fde8e8;color:#9b1c1c;border-color:#f8b4b4}.verdict.none{background:#eef2f7;color:#334e68;
 border-color:#cbd2d9}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.card{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:12px 14px;overflow-x:auto;max-width:100%}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.reg td{background:#fff1f1}tr.reg td.flag{color:#b91c1c;font-weight:700}
.pass{color:#05603a;font-weight:700}.fail{color:#b91c1c;font-weight:700}
.tags{color:#52606d;font-size:12px}
#questions{width:100%}
.answer{min-width:420px;max-width:620px;white-space:pre-wrap;overflow-wrap:anywhere}
.q{min-width:170px;max-width:260px;overflow-wrap:anywhere}.res{width:120px}.hist{color:#7b8794;font-size:12px}
.missed{color:#b91c1c;font-size:12.5px;max-width:200px}
details{margin-top:4px}summary{cursor:pointer;color:#334e68;font-size:12.5px}
ol.cites{margin:4px 0 0;padding-left:20px;font-size:12.5px}ol.cites li{margin:2px 0;overflow-wrap:anywhere}
.doc{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px;color:#52606d}
.why{color:#9b1c1c;font-size:12.5px}
.fail-item{background:#fff;border:1px solid #f3c4c4;border-left:4px solid #dc2626;border-radius:6px;
 padding:8px 14px;margin:10px 0}
.fail-item blockquote{margin:6px 0;padding:4px 10px;border-left:3px solid #cbd2d9;background:#f8fafc;
 white-space:pre-wrap;overflow-wrap:anywhere}
.filter{margin:8px 0;font-size:13px}
svg.chart{font-family:inherit;max-width:100%;height:auto}
svg .ct{font-size:13px;font-weight:600;fill:#1f2933}svg .cl{font-size:11px;fill:#52606d}
svg .cv{font-size:10px;fill:#1f2933}svg .grid{stroke:#e4e7eb;stroke-width:1}svg .axis{stroke:#9aa5b1}
"""

FILTER_JS = """
(function(){var s=document.getElementById('tagfilter');if(!s)return;
s.addEventListener('change',function(){var v=s.value,n=0;
document.querySelectorAll('#questions tbody tr').forEach(function(tr){
var show=v===''||(v==='__fail'?tr.dataset.pass==='0':(' '+tr.dataset.tags+' ').indexOf(' '+v+' ')>=0);
tr.style.display=show?'':'none';if(show)n++;});
document.getElementById('shown').textContent=n;});})();
"""


def html_table(header: Sequence[tuple[str, str]], body: Sequence[str], attrs: str = "") -> str:
    th = "".join(f'<th class="{cls}">{esc(h)}</th>' for h, cls in header)
    return f"<table{attrs}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_citations(cites: Sequence[dict], open_: bool) -> str:
    if not cites:
        return '<div class="hist">no citations</div>'
    items = "".join(
        f'<li><span class="doc">{esc(c["document_id"])} [{c["start"]}:{c["end"]}]</span> '
        f"“{esc(c['quote'])}”</li>"
        for c in cites
    )
    return (
        f"<details{' open' if open_ else ''}><summary>{len(cites)} citation(s)</summary>"
        f'<ol class="cites">{items}</ol></details>'
    )


def html_metrics_table(report: dict) -> str:
    base = (report.get("baseline") or {}).get("metrics")
    cmp = {c["metric"]: c for c in (report.get("baseline") or {}).get("comparison", [])}
    body = []
    for k, v in report["metrics"].items():
        c = cmp.get(k)
        cls = ' class="reg"' if c and c["regressed"] else ""
        cells = f'<td>{esc(k)}</td><td class="n">{fmt_metric(k, v)}</td>'
        if base is not None:
            b = base.get(k)
            delta = c["delta"] if c else (v - b if b is not None else None)
            flag = "REGRESSION" if c and c["regressed"] else ("ok" if c else "")
            tol = f"±{c['tolerance']:g}" if c else ""
            cells += (
                f'<td class="n">{fmt_metric(k, b)}</td>'
                f'<td class="n">{fmt_delta(k, delta)}</td>'
                f'<td class="n">{tol}</td><td class="flag">{flag}</td>'
            )
        body.append(f"<tr{cls}>{cells}</tr>")
    header = [("metric", ""), ("value", "n")]
    if base is not None:
        header += [("baseline", "n"), ("delta", "n"), ("tolerance", "n"), ("gate", "")]
    return html_table(header, body)


def html_tag_table(report: dict) -> str:
    body = [
        f'<tr><td>{esc(t["tag"])}</td><td class="n">{t["questions"]}</td><td class="n">{t["answerable"]}</td>'
        + "".join(
            f'<td class="n">{fmt(t[k])}</td>'
            for k in (
                "pass_rate",
                "hit@1",
                "hit@5",
                "mrr",
                "fact_recall",
                "citation_support",
                "abstention_recall",
            )
        )
        + f'<td class="n">{fmt_metric("latency", t["latency_p50_ms"])}</td></tr>'
        for t in tag_rows(report)
    ]
    header = [
        ("tag", ""),
        ("questions", "n"),
        ("answerable", "n"),
        ("pass rate", "n"),
        ("hit@1", "n"),
        ("hit@5", "n"),
        ("mrr", "n"),
        ("fact recall", "n"),
        ("citation support", "n"),
        ("abstention recall", "n"),
        ("p50 ms", "n"),
    ]
    return html_table(header, body)


def html_question_rows(report: dict, judge: bool) -> list[str]:
    body = []
    for r in report["questions"]:
        ok = passed(r)
        rank = hit_rank(r)
        hist = "".join(f'<div class="hist">earlier: {esc(h)}</div>' for h in r.get("history") or [])
        why = "" if ok else f'<div class="why">{esc("; ".join(failure_reasons(r)))}</div>'
        cells = [
            f'<td><b>{esc(r["id"])}</b><div class="tags">{esc(", ".join(r["tags"]))}</div></td>',
            f'<td class="q">{hist}{esc(r["question"])}</td>',
            f'<td class="res {"pass" if ok else "fail"}">{"pass" if ok else "FAIL"}{why}</td>',
            f'<td class="answer">{esc(r["answer"])}{html_citations(r["citations"], not ok)}</td>',
            f'<td class="{"missed" if r["missed_facts"] else "hist"}">{esc(missed_text(r))}</td>',
            f'<td class="n">{fmt(r["fact_recall"]) if r["answerable"] else "—"}</td>',
            f'<td class="n">{(rank or "miss") if r["answerable"] else "—"}</td>',
            f'<td class="n">{"yes" if r["abstained"] else "no"}</td>',
            f'<td class="n">{r["latency_ms"]:.1f}</td>',
        ]
        if judge:
            j = r.get("judge")
            if j:
                cells.append(
                    f'<td class="n" title="{esc(j.get("reason", ""))}">{fmt(j["faithfulness"])} / '
                    f"{fmt(j['correctness'])}</td>"
                )
            else:
                cells.append(f'<td class="n">{"error" if r.get("judge_error") else "—"}</td>')
        body.append(f'<tr data-tags="{esc(" ".join(r["tags"]))}" data-pass="{int(ok)}">{"".join(cells)}</tr>')
    return body


def html_failures(report: dict) -> str:
    failing = [r for r in report["questions"] if not passed(r)]
    if not failing:
        return "<p>None.</p>"
    parts = []
    for r in failing:
        cc = r["citation_checks"]
        hist = "".join(f'<div class="hist">earlier: {esc(h)}</div>' for h in r.get("history") or [])
        parts.append(
            f'<div class="fail-item"><h3>{esc(r["id"])} — <span class="why">{esc("; ".join(failure_reasons(r)))}'
            f'</span></h3>{hist}<div><b>Q:</b> {esc(r["question"])} <span class="tags">'
            f"({esc(', '.join(r['tags']))})</span></div><blockquote>{esc(r['answer'] or '(empty)')}</blockquote>"
            f"{html_citations(r['citations'], True)}"
            f'<div class="hist">citations: {cc["valid"]}/{cc["citations"]} exact, {cc["supported"]} supported by '
            f"gold evidence; retrieval rank {hit_rank(r) or 'miss'}</div>"
            + (
                f'<div class="missed" style="max-width:none"><b>missed:</b> {esc(missed_text(r))}</div>'
                if r["missed_facts"]
                else ""
            )
            + "</div>"
        )
    return "".join(parts)


def render_html(report: dict) -> str:
    meta = report["meta"]
    bad = regressions(report)
    vclass = "bad" if bad else ("none" if not report.get("baseline") else "")
    judge = has_judge(report)
    tags = sorted({t for r in report["questions"] for t in r["tags"]})
    options = (
        '<option value="">all questions</option><option value="__fail">failures only</option>'
        + "".join(f'<option value="{esc(t)}">{esc(t)}</option>' for t in tags)
    )
    q_header = [
        ("id / tags", ""),
        ("question", ""),
        ("result", ""),
        ("answer and citations", ""),
        ("missed facts", ""),
        ("fact recall", "n"),
        ("hit rank", "n"),
        ("abstained", "n"),
        ("latency ms", "n"),
    ]
    if judge:
        q_header.append(("judge faith. / corr.", "n"))
    summaries = ""
    if report.get("summaries"):
        sbody = [
            f'<tr><td>{esc(s["id"])}</td><td class="n">{fmt(s["key_fact_coverage"])}</td>'
            f'<td class="n">{s["words"]} / {s["max_words"]}</td><td>{esc(", ".join(s["leaked"]) or "—")}</td>'
            f'<td class="missed">{esc(missed_text(s))}</td><td class="answer">{esc(s["summary"])}'
            f"{html_citations(s['citations'], False)}</td></tr>"
            for s in report["summaries"]
        ]
        summaries = (
            '<h2>Summaries</h2><div class="card">'
            + html_table(
                [
                    ("id", ""),
                    ("key fact coverage", "n"),
                    ("words / max", "n"),
                    ("boilerplate", ""),
                    ("missed", ""),
                    ("summary", ""),
                ],
                sbody,
            )
            + "</div>"
        )
    stamp_html = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in stamp(report))
    n = len(report["questions"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="prompt_version" content="{esc(meta.get("prompt_version"))}">
<title>factdesk eval — {esc(meta.get("prompt_version"))} — {esc(meta.get("created_at"))}</title>
<style>{CSS}</style></head>
<body><main>
<h1>factdesk eval report</h1>
<dl class="stamp">{stamp_html}</dl>
<div class="verdict {vclass}">{esc(verdict(report))}</div>
<h2>Summary metrics</h2>
<div class="row"><div class="card">{html_metrics_table(report)}</div>
<div class="card">{metrics_chart(report)}</div></div>
<h2>By tag</h2>
<div class="row"><div class="card">{html_tag_table(report)}</div></div>
<h2>Tags and latency</h2>
<div class="row"><div class="card">{tag_chart(report)}</div>
<div class="card">{latency_chart(report)}</div></div>
<h2>Failures ({sum(not passed(r) for r in report["questions"])})</h2>
{html_failures(report)}
<h2>Questions</h2>
<div class="filter"><label>Show <select id="tagfilter">{options}</select></label>
— <span id="shown">{n}</span> of {n} shown</div>
<div class="card">{html_table(q_header, html_question_rows(report, judge), ' id="questions"')}</div>
{summaries}
</main><script>{FILTER_JS}</script></body></html>
"""


# ---------------------------------------------------------------- the one writer


def write_reports(report: dict, out: Path) -> None:
    """report.json (the report, each question row with `passed`), report.md and report.html in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    data = dict(report)
    data["questions"] = [
        {**r, "passed": passed(r), "failure_reasons": failure_reasons(r)} for r in report["questions"]
    ]
    (out / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
