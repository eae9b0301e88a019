"""results.json -> BENCHMARKS.md: every figure, each target next to its measurement, a "why" per miss."""

from __future__ import annotations

from typing import Any

GIB = 1024.0


def _f(v: Any, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):  # three significant figures or so, never "0.0" for a small value
        a = abs(v)
        nd = 0 if a >= 1000 else 1 if a >= 10 else 2 if a >= 1 else 3
        return f"{v:,.{nd}f}{unit}"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v}{unit}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(out)


def _err(section: dict | None) -> str | None:
    if not section:
        return "not run"
    return section.get("error")


def _largest(results: dict) -> dict | None:
    sizes = (results.get("scale") or {}).get("sizes") or []
    return sizes[-1] if sizes else None


def targets(r: dict) -> list[list[str]]:
    """[target, measured, met?, why] rows."""
    rows: list[list[str]] = []
    m = r.get("model") or {}
    if not _err(m):
        opts = {o["option"]: o for o in m["options"]}
        int8 = [o for o in m["options"] if "int8" in o["option"]]
        best_int8 = max(int8, key=lambda o: o["speedup_cpu_time"]) if int8 else None
        ok = m["best_speedup_at_cosine_0999"] >= 2.4
        why = ""
        if not ok:
            amx = any(f.startswith("amx") for f in r["meta"].get("cpu_flags", []))
            why = (
                "bf16 matmuls here "
                + ("(AMX present)" if amx else "(AVX-512 BF16, no AMX)")
                + " do ~2x the fp32 multiply-adds per cycle at best, and attention/LayerNorm gain less; "
                + (
                    f"int8 ({best_int8['option']}) reaches {best_int8['speedup_cpu_time']}x CPU-time but cosine "
                    f"{best_int8['cosine_min']:.3f} < 0.999"
                    if best_int8
                    else "int8 was not measured"
                )
            )
        rows.append(
            [
                "model throughput >= 2.4x naive fp32 at cosine >= 0.999",
                (
                    f"best {m['best_speedup_at_cosine_0999']}x wall ({m['best_at_cosine_0999']}); "
                    f"{m['best_cpu_time_speedup_at_cosine_0999']}x CPU time "
                    f"({m['best_cpu_time_option_at_cosine_0999']}); LocalEmbedder default "
                    f"{opts[m['current']]['speedup']}x wall / {opts[m['current']]['speedup_cpu_time']}x CPU"
                ),
                "met" if ok else "missed",
                why,
            ]
        )
    ing = r.get("ingest") or {}
    if not _err(ing):
        i = ing["ingest"]
        ok = i["ratio_to_raw_overall"] >= 0.85
        rows.append(
            [
                "ingest >= 85% of the model's raw chunks/s",
                (
                    f"{i['ratio_to_raw_overall']:.0%} ({i['chunks_per_s_overall']} chunks/s end to end vs "
                    f"{ing['raw_chunks_per_s']} raw"
                    + (
                        f"; median of {len(ing['ingest_runs'])} runs: "
                        + ", ".join(f"{x:.0%}" for x in ing["ingest_runs"])
                        if len(ing.get("ingest_runs", [])) > 1
                        else ""
                    )
                    + f"); the raw model on the texts the ingest embedded would take "
                    f"{i['model_bound_share']:.0%} of its wall time"
                ),
                "met" if ok else "missed",
                ""
                if ok
                else (
                    f"the model ran {i['raw_model_s_same_texts']} s alone on the same texts, the ingest took "
                    f"{i['wall_s']} s: cleaning, chunking and writes compete with it for 2 cores (section 2)"
                ),
            ]
        )
        re_ = ing["reingest"]
        ok = re_["speedup_vs_first"] >= 50
        rows.append(
            [
                "re-ingest of unchanged articles >= 50x faster than first ingest",
                f"{re_['speedup_vs_first']}x ({re_['wall_s']:.3f} s vs {i['wall_s']} s)",
                "met" if ok else "missed",
                ""
                if ok
                else "unchanged articles are still cleaned, chunked and fingerprinted before the hash check",
            ]
        )
    big = _largest(r)
    if big:
        label = f"at {big['target_chunks'] // 1000}k chunks"
        for key, meas in big.items():
            if not key.startswith("threads_") or _err(meas):
                continue
            th = meas["torch_threads"]
            tag = f"{label}, model threads {th or 'default (2)'}"
            ratio = meas["search_p95_over_raw_chroma_p95"]
            emb = meas["query_embedding"]["p95_ms"]
            raw = meas["raw_chroma_query"]["p95_ms"]
            rows.append(
                [
                    f"search p95 <= 10x raw Chroma p95 ({tag})",
                    f"{meas['search']['p95_ms']:.1f} ms vs {raw:.1f} ms: {ratio}x",
                    "met" if ratio <= 10 else "missed",
                    ""
                    if ratio <= 10
                    else f"embedding the query alone is {emb:.1f} ms p95 ({emb / raw:.0f}x raw Chroma); mean per "
                    "search: "
                    + ", ".join(
                        f"{k} {v:.1f} ms"
                        for k, v in sorted(
                            meas.get("search_breakdown_ms_per_query", {}).items(), key=lambda kv: -kv[1]
                        )[:4]
                    ),
                ]
            )
            ap95 = meas["ask"]["p95_ms"]
            bd = meas.get("ask_breakdown_ms_per_query", {})
            top = sorted(bd.items(), key=lambda kv: -kv[1])[:2]
            rows.append(
                [
                    f"offline ask p95 <= 150 ms ({tag})",
                    f"{ap95:.1f} ms",
                    "met" if ap95 <= 150 else "missed",
                    "" if ap95 <= 150 else "mean per ask: " + ", ".join(f"{k} {v:.0f} ms" for k, v in top),
                ]
            )
            rss = meas["process"]["peak_rss_mb"]
            rows.append(
                [
                    f"peak RSS <= 2 GiB ({tag}, the measuring process)",
                    f"{rss:,.0f} MiB",
                    "met" if rss <= 2 * GIB else "missed",
                    "",
                ]
            )
        ld = r.get("load") or {}
        for key, meas in ld.items():
            if key.startswith("threads_") and not _err(meas) and meas.get("server_peak_rss_mb"):
                rss = meas["server_peak_rss_mb"]
                rows.append(
                    [
                        f"peak RSS <= 2 GiB (factdesk serve under load, {label}, threads {meas['torch_threads']})",
                        f"{rss:,.0f} MiB",
                        "met" if rss <= 2 * GIB else "missed",
                        "",
                    ]
                )
    cs = r.get("cold_start") or {}
    if not _err(cs):
        med = cs["cli_ask"]["median_s"]
        why = ""
        if med > 2:
            pq = cs.get("phases_query", {})
            why = f"phases of the CLI's path: {pq}"
        rows.append(
            [
                "`factdesk ask` cold start <= 2 s",
                f"{med} s (median of {len(cs['cli_ask']['runs'])})",
                "met" if med <= 2 else "missed",
                why,
            ]
        )
    return rows


def render(r: dict) -> str:
    meta = r["meta"]
    inter = meta.get("interference", {})
    L: list[str] = []
    A = L.append
    A("# factdesk benchmarks\n")
    A(
        f"Produced by `python -m benchmarks.run{' --quick' if meta['quick'] else ''}` on {meta['started']} "
        f"({meta.get('total_seconds', 0) / 60:.1f} min); raw figures in `benchmarks/results.json`. "
        + (
            "Every figure below comes from that run, on one machine, except the sections re-run on their "
            "own, named here:"
            if meta.get("reruns")
            else "Every figure below comes from that one run, on one machine."
        )
    )
    for note in meta.get("reruns", []):  # sections re-run on their own and merged in, said so here
        A(f"\n{note}")
    for note in meta.get("confirmations", []):  # runs kept out of results.json, quoted to show the spread
        A(f"\n{note}")
    if meta["quick"]:
        A(
            "\n**This is a `--quick` run** (small sizes, short load test): sizes and sample counts are too small "
            "for the targets; run `python -m benchmarks.run` for the real report."
        )
    A(
        f"\n**Machine**: {meta['cpu']}, {meta['cores']} cores, {meta['memory_gib']} GiB; "
        f"flags {', '.join(meta.get('cpu_flags', [])) or '–'}. "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    )
    A(
        f"\n**Interference**: the machine is shared. During the run other processes used "
        f"{inter.get('other_processes_share_of_machine', 0):.0%} of its CPU "
        f"({inter.get('other_processes_cpu_s', 0):,.0f} CPU-s; the benchmark {inter.get('benchmark_cpu_s', 0):,.0f} CPU-s); "
        f"1-minute load average {inter.get('load_avg_mean', '–')} on average, {inter.get('load_avg_max', '–')} at most, "
        f"for {meta['cores']} cores. Wall-clock figures are therefore pessimistic, and 2-thread figures suffer most "
        "(see 'cpu/wall' columns: 1.0 means one full core of our own). CPU-time speed-ups are the fairer "
        "per-core comparison."
    )

    A("\n## Targets\n")
    A(_table(["target", "measured", "status", "why (misses)"], targets(r)))

    # ---------------------------------------------------------------- model
    m = r.get("model") or {}
    A("\n## 1. Raw model throughput\n")
    if _err(m):
        A(f"error: {_err(m)}")
    else:
        A(
            f"{m['chunks']} chunks cut by `retrieval.chunk.chunk_text` (200 tokens, 50 overlap: the ingest "
            f"settings) from synthetic articles made of seed sentences (section 4): {m['tokens_per_chunk_cl100k_mean']} "
            f"cl100k tokens, {m['wordpieces_per_chunk_mean']} word pieces per chunk on average, "
            f"{m['truncated_chunks']} truncated at 256. Options run round-robin, {m['repetitions']}x; best run shown "
            f"(median beside it). Cosine: each option's vectors against the fp32 baseline's, row by row. "
            f"Model load (sentence-transformers): {m['model_load_seconds']} s.\n"
        )
        A(
            _table(
                [
                    "option",
                    "chunks/s",
                    "median",
                    "speed-up (wall)",
                    "speed-up (CPU time)",
                    "CPU ms/chunk",
                    "cpu/wall",
                    "cosine min",
                    "cosine mean",
                    "what",
                ],
                [
                    [
                        o["option"],
                        o["per_s"],
                        o["per_s_median"],
                        f"{o['speedup']}x",
                        f"{o['speedup_cpu_time']}x",
                        o["cpu_ms_each"],
                        o["cpu_per_wall"],
                        f"{o['cosine_min']:.5f}",
                        f"{o['cosine_mean']:.5f}",
                        o["note"],
                    ]
                    for o in m["options"]
                ],
            )
        )
        A(
            f"\nThe same on {m['sentences']} sentences of those articles ({m['wordpieces_per_sentence_mean']} word "
            "pieces each on average; ingest embeds every sentence for the re-ranker), one run each:\n"
        )
        A(
            _table(
                [
                    "option",
                    "sentences/s",
                    "speed-up (wall)",
                    "speed-up (CPU time)",
                    "CPU ms/sentence",
                    "cpu/wall",
                    "cosine min",
                    "what",
                ],
                [
                    [
                        o["option"],
                        o["per_s"],
                        f"{o['speedup']}x",
                        f"{o['speedup_cpu_time']}x",
                        o["cpu_ms_each"],
                        o["cpu_per_wall"],
                        f"{o['cosine_min']:.5f}",
                        o["note"],
                    ]
                    for o in m["sentence_options"]
                ],
            )
        )
        notes = m.get("notes", {})
        if notes:
            A(
                "\nONNX: "
                + "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in notes.items())
                + ". The ONNX runtime options' model is exported from the bundled weights with "
                "`torch.onnx.export` (needs the `onnx` package at export time only); pooling and normalising "
                "are done in numpy. The OpenVINO options build their graph from the same weights with "
                "OpenVINO's own op set (no export step)."
            )

    # ---------------------------------------------------------------- ingest
    ing = r.get("ingest") or {}
    A("\n## 2. End-to-end ingest\n")
    if _err(ing):
        A(f"error: {_err(ing)}")
    else:
        A(
            f"`Factdesk.ingest_documents` into a fresh data dir: {ing['documents']} synthetic articles, "
            f"{ing['chunks']} chunks (the model section's chunk set is the first {m.get('chunks', '?')} of them), "
            f"{ing['sentences']} sentences, {ing['characters']:,} characters. The raw figure is the service's "
            "own embedder (LocalEmbedder) on the same chunk texts, in the same process, just before and "
            "just after the ingest (the better of the two). The ingest embeds each chunk's sentences once and "
            "a chunk's vector is the normalised mean of its sentences' vectors, so its model time is spent "
            "on sentences; the raw model is also timed on exactly the texts the ingest embedded, and the "
            "'model-bound share' is that time over the ingest's wall time (1.0 = no pipeline overhead). "
            "Cleaning, chunking and writes run in the calling thread while the model embeds the next group "
            "in a worker thread, so 'non-model s' (wall minus the model calls) is the time the model sat idle. "
            "The model load is not counted.\n"
        )
        runs = [("default (2)", ing)]
        one = ing.get("one_thread")
        if one and not _err(one):
            runs.append(("1", one))
        rows = []
        for label, x in runs:
            i = x["ingest"]
            rows.append(
                [
                    label,
                    x["raw_chunks_per_s"],
                    i["chunks_per_s_overall"],
                    f"{i['ratio_to_raw_overall']:.0%}",
                    i["wall_s"],
                    i["model_s"],
                    i["non_model_s"],
                    i["texts_embedded"],
                    i["raw_model_s_same_texts"],
                    f"{i['model_bound_share']:.0%}",
                    i["docs_per_s"],
                    i["cpu_per_wall"],
                ]
            )
        A(
            _table(
                [
                    "model threads",
                    "raw model chunks/s",
                    "ingest chunks/s",
                    "vs raw",
                    "ingest wall s",
                    "model s (in the ingest)",
                    "non-model s",
                    "texts embedded",
                    "raw model s on those texts",
                    "model-bound share",
                    "docs/s",
                    "cpu/wall",
                ],
                rows,
            )
        )
        re_ = ing["reingest"]
        A(
            f"\n**Re-ingest** of the same articles: {re_['wall_s']:.3f} s, all {', '.join(re_['statuses'])}: "
            f"**{re_['speedup_vs_first']}x** faster than the first ingest."
        )
        pf = ing.get("profile_stub_embedder")
        if pf:
            A(
                f"\n**Where the non-model time goes.** The same ingest into another fresh data dir with a stub "
                f"embedder (random unit vectors, no model): {pf['wall_s_unprofiled']} s, "
                f"{pf['ms_per_chunk_unprofiled']} ms per chunk without the profiler; under cProfile "
                f"({pf['wall_s']} s) the parts are:\n"
            )
            A(
                _table(
                    ["part", "seconds (cumulative)", "share"],
                    [[p["part"], p["seconds"], f"{p['share']:.0%}"] for p in pf["parts"] if p["seconds"] > 0],
                )
            )
            A("\nTop self time:\n")
            A(
                _table(
                    ["function", "self s", "calls"],
                    [[f"`{t['function']}`", t["self_seconds"], t["calls"]] for t in pf["top_self"][:8]],
                )
            )

    # ---------------------------------------------------------------- scale
    sc = r.get("scale") or {}
    A("\n## 3. Search and offline ask at scale\n")
    A(
        "**Corpus.** The five seed articles are ingested first, with the real model. All other articles are "
        "synthetic (`benchmarks/corpus.py`): 18-40 real sentences drawn from the seeds' 139 body sentences, "
        "shuffled across articles; every number redrawn; about 70% of capitalised words (names, places) "
        "swapped, per article, for names from fixed lists; half the other words of 4+ letters swapped for a "
        "random word of the seeds (without that, articles drawing the same few seed sentences collide in the "
        "near-duplicate index and its candidate checks dominate a large build; with it, about 0.03% of "
        "article pairs share a MinHash band). Every synthetic article is ingested as `created`.\n\n"
        "**What is real and what is synthetic.** The build writes through the real `Ingestor` path "
        "(cleaning, chunking, de-duplication, SQLite catalog + FTS5, embedding cache, Chroma), but the "
        "synthetic texts get vectors from a stub (`OriginEmbedder`): each sentence maps to the seed sentence "
        "it was made from, whose real vector (LocalEmbedder, bf16) is known; a text's vector is the mean of its "
        "sentences' vectors plus noise (norm 0.3 of the mean's, cosine ~0.96), renormalised. Chunk and sentence "
        "vectors are thus synthetic but live in the real model's space, near the topics they mention. At "
        "measure time everything is real: the service opens the data dir as `factdesk` does, loads the real "
        "model, and every timed query is a wording not asked before on that data dir (so the query is embedded "
        "by the model; no cache hit). Raw Chroma: `collection.query` with precomputed query vectors and "
        "`n_results` = the searcher's candidate count (30), `include=['distances']`.\n"
    )
    if _err(sc):
        A(f"error: {_err(sc)}")
    rows = []
    for e in sc.get("sizes", []):
        for key in sorted(k for k in e if k.startswith("threads_")):
            x = e[key]
            if err := _err(x):
                rows.append([e["target_chunks"], key, "error: " + err[:200]] + [""] * 10)
                continue
            rows.append(
                [
                    x["chunks"],
                    x["documents"],
                    x["torch_threads"] or "default (2)",
                    x["search"]["p50_ms"],
                    x["search"]["p95_ms"],
                    x["ask"]["p50_ms"],
                    x["ask"]["p95_ms"],
                    x["raw_chroma_query"]["p50_ms"],
                    x["raw_chroma_query"]["p95_ms"],
                    x["query_embedding"]["p50_ms"],
                    x["query_embedding"]["p95_ms"],
                    f"{x['search_p95_over_raw_chroma_p95']}x",
                    x["process"]["peak_rss_mb"],
                    x["search"]["n"],
                    f"{x.get('fts_share_of_chunks_matched', 0):.0%}",
                ]
            )
    if rows:
        A(
            _table(
                [
                    "chunks",
                    "docs",
                    "model threads",
                    "search p50 ms",
                    "search p95 ms",
                    "ask p50 ms",
                    "ask p95 ms",
                    "raw Chroma p50 ms",
                    "raw Chroma p95 ms",
                    "query embed p50 ms",
                    "query embed p95 ms",
                    "search p95 / raw p95",
                    "peak RSS MiB",
                    "queries",
                    "chunks an FTS5 query matches",
                ],
                rows,
            )
        )
        A(
            "\nThe last column is why the lexical side grows with the corpus here: every synthetic article is "
            "made of one story's sentences, so a question's content words occur in most chunks and BM25 scores "
            "them all. A real multi-topic corpus of the same size matches far fewer rows. Unfiltered search "
            "scores them in the in-memory index (retrieval/bm25.py, numpy); with FTS5 the same BM25 cost ~80 ms "
            "p50 a query at 100k chunks (~150 ms before its joins were moved after the ranking)."
        )
        evals = [
            (x["chunks"], x["eval_at_scale"])
            for size in sc.get("sizes", [])
            for key, x in size.items()
            if key == "threads_0" and not _err(x) and x.get("eval_at_scale")
        ]
        if evals:
            A(
                "\n**The eval's questions at scale.** The 79 answerable questions of evals/questions.yaml against "
                "each corpus: is the seed article's evidence still in the top 5 among the synthetic articles? "
                "Those are made of the seeds' own sentences (names, numbers and half the words swapped), so "
                "near-copies of every evidence sentence compete with it: a hard test, and the reason these "
                "figures fall with size. Search times here are for questions already embedded earlier in the run. "
                "'all terms' turns off the postings budget of the FTS5 path (the in-memory index has none):\n"
            )
            A(
                _table(
                    [
                        "chunks",
                        "hit@1",
                        "hit@5",
                        "MRR",
                        "search p95 ms",
                        "all terms: hit@5",
                        "all terms: p95 ms",
                    ],
                    [
                        [
                            f"{n:,}",
                            e["budget"]["hit@1"],
                            e["budget"]["hit@5"],
                            e["budget"]["mrr"],
                            e["budget"]["search_ms"]["p95_ms"],
                            e["all_terms"]["hit@5"],
                            e["all_terms"]["search_ms"]["p95_ms"],
                        ]
                        for n, e in evals
                    ],
                )
            )
        A("\nBuild (the stub-vector ingest through the real pipeline; the seeds with the real model):\n")
        A(
            _table(
                [
                    "target",
                    "chunks",
                    "docs",
                    "added chunks/s",
                    "build s",
                    "statuses",
                    "embedding cache MiB",
                    "catalog MiB",
                    "Chroma MiB",
                    "build peak RSS MiB",
                ],
                [
                    [
                        e["target_chunks"],
                        e["build"].get("chunks"),
                        e["build"].get("documents"),
                        e["build"].get("build_chunks_per_s"),
                        e["build"].get("build_seconds"),
                        ", ".join(f"{k} {v}" for k, v in (e["build"].get("statuses") or {}).items()),
                        e["build"].get("embedding_cache_mb"),
                        e["build"].get("catalog_mb"),
                        e["build"].get("chroma_mb"),
                        e["build"]["process"]["peak_rss_mb"],
                    ]
                    for e in sc.get("sizes", [])
                ],
            )
        )
        big = _largest(r)
        for key in sorted(k for k in (big or {}) if k.startswith("threads_")):
            x = big[key]  # type: ignore[index]
            if _err(x):
                continue
            A(
                f"\nWhere a search / an ask spends its time at {x['chunks']:,} chunks, model threads "
                f"{x['torch_threads'] or 'default (2)'} (mean ms per query; nested: the re-rank includes its "
                f"cache reads; first search after open {x['first_search_seconds']} s):\n"
            )
            keys = list(
                dict.fromkeys(
                    list(x["search_breakdown_ms_per_query"]) + list(x["ask_breakdown_ms_per_query"])
                )
            )
            A(
                _table(
                    ["part", "search", "ask"],
                    [
                        [k, x["search_breakdown_ms_per_query"].get(k), x["ask_breakdown_ms_per_query"].get(k)]
                        for k in keys
                    ],
                )
            )

    # ---------------------------------------------------------------- load
    ld = r.get("load") or {}
    A("\n## 4. Concurrent load through uvicorn\n")
    A(
        "`factdesk serve --no-ingest` on the largest scale data dir (a subprocess, loopback, a free port); N "
        "client threads with their own keep-alive httpx connection post distinct wordings for a fixed time, "
        "first /v1/search, then /v1/ask.\n"
    )
    if _err(ld):
        A(f"error: {_err(ld)}")
    rows = []
    for key in sorted(k for k in ld if k.startswith("threads_")):
        x = ld[key]
        if err := _err(x):
            rows.append([key, "error: " + err[:300]] + [""] * 8)
            continue
        for ep in ("search", "ask"):
            y = x[ep]
            rows.append(
                [
                    x["torch_threads"] or "default (2)",
                    f"/v1/{ep}",
                    x["clients"],
                    y["seconds"],
                    y["ok"],
                    sum(y["errors"].values()),
                    y["throughput_rps"],
                    y.get("p50_ms"),
                    y.get("p95_ms"),
                    y.get("p99_ms"),
                    x.get("server_peak_rss_mb"),
                ]
            )
    if rows:
        A(
            _table(
                [
                    "model threads",
                    "endpoint",
                    "clients",
                    "seconds",
                    "ok",
                    "errors",
                    "req/s",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "server peak RSS MiB",
                ],
                rows,
            )
        )

    # ---------------------------------------------------------------- cold start
    cs = r.get("cold_start") or {}
    A("\n## 5. Cold start\n")
    if _err(cs):
        A(f"error: {_err(cs)}")
    else:
        A("Against a data dir with the five seeds. Each run asks a question that data dir has not seen.\n")
        A(
            _table(
                ["what", "seconds"],
                [
                    [
                        "`factdesk ask QUESTION --json`, median (runs)",
                        f"{cs['cli_ask']['median_s']} ({', '.join(map(str, cs['cli_ask']['runs']))})",
                    ],
                    *[
                        [
                            f"the same with FACTDESK_ANSWERER={name}, median (runs)",
                            f"{e['median_s']} ({', '.join(map(str, e['runs']))})",
                        ]
                        for name, e in (cs.get("cli_ask_engines") or {}).items()
                    ],
                    [
                        "`factdesk serve --no-ingest`: spawn to first /v1/ask 200",
                        cs.get("serve_first_answer_s"),
                    ],
                    ["python interpreter start", cs.get("python_startup_s")],
                    [
                        "torch model ready (import + TorchMiniLM load + first embedding): what "
                        "`FACTDESK_BULK_ENCODER=torch` would add to `serve`'s start-up, in the background",
                        cs.get("model_ready_torch_s"),
                    ],
                    [
                        "model ready (the OpenVINO graph by default; load + first embedding): the CLI's path, "
                        "and `serve`'s, which also ingests with it",
                        cs.get("model_ready_query_s"),
                    ],
                ],
            )
        )
        pq, pt = cs.get("phases_query", {}), cs.get("phases_torch", {})
        keys = [
            k for k in dict.fromkeys(list(pq) + list(pt)) if k not in ("section_seconds", "process", "error")
        ]
        A(
            "\nPhases of one ask in a fresh process (seconds). Left: the CLI's path (the default local model, "
            "an OpenVINO graph; `torch_imported` says whether torch was loaded at all). Right: the same ask "
            "with the torch model (`FACTDESK_BULK_ENCODER=torch`) loaded first and embedding the question:\n"
        )
        A(
            _table(
                ["phase", "default model (the CLI)", "torch model"],
                [[k, pq.get(k), pt.get(k)] for k in keys],
            )
        )
        it = cs.get("importtime")
        if it:
            A(
                f'\n`python -X importtime -c "{it["statement"]}"`: {it["total_s"]} s of imports '
                f"(wall {it['wall_s']} s); top-level packages by cumulative time (in import order, a package "
                "imported by an earlier one is counted there):\n"
            )
            A(
                _table(
                    ["package", "seconds"],
                    [[k, v] for k, v in it["top_level_cumulative_s"].items() if v >= 0.01],
                )
            )

    # ---------------------------------------------------------------- naive
    nv = r.get("naive") or {}
    A("\n## 6. A naive pipeline, side by side\n")
    if _err(nv):
        A(f"error: {_err(nv)}")
    else:
        A(
            f"Naive: raw file text (no cleaning) in consecutive {nv['window_chars']}-character windows, "
            "sentence-transformers fp32 (batch 32, default threads), dense-only Chroma, top 5. Retrieval is scored "
            f"by `evals.metrics` (evidence_spans + retrieval_metrics) on the {nv['questions']} answerable questions of "
            "evals/questions.yaml, with the same query strings (follow-ups rewritten as `factdesk eval` does); "
            "factdesk's figures come from `Factdesk.search(query, top_k=5)`, as in `factdesk eval`. Ingest speed: "
            "the same articles as section 2.\n"
        )
        fd_ing = (ing.get("ingest") or {}) if not _err(ing) else {}
        A(
            _table(
                [
                    "pipeline",
                    "hit@1",
                    "hit@5",
                    "MRR",
                    "evidence recall@5",
                    "chunks on the seeds",
                    "ingest docs/s",
                    "ingest kchars/s",
                ],
                [
                    [
                        "naive",
                        nv["naive"]["hit@1"],
                        nv["naive"]["hit@5"],
                        nv["naive"]["mrr"],
                        nv["naive"]["evidence_recall"],
                        nv["naive_chunks_on_seeds"],
                        nv["ingest"]["docs_per_s"],
                        nv["ingest"]["kchars_per_s"],
                    ],
                    [
                        "factdesk",
                        nv["factdesk"]["hit@1"],
                        nv["factdesk"]["hit@5"],
                        nv["factdesk"]["mrr"],
                        nv["factdesk"]["evidence_recall"],
                        nv["factdesk_chunks_on_seeds"],
                        fd_ing.get("docs_per_s"),
                        round(ing["characters"] / fd_ing["wall_s"] / 1000, 2) if fd_ing else None,
                    ],
                ],
            )
        )
        A(
            f"\nNaive ingest: {nv['ingest']['chunks']} windows in {nv['ingest']['wall_s']} s "
            f"({nv['ingest']['chunks_per_s']} windows/s); factdesk embeds {ing.get('chunks', '?')} overlapping chunks "
            f"plus {ing.get('sentences', '?')} sentences for the same text."
        )
    A("\n## Findings and proposals\n")
    for f in findings(r):
        A(f"- {f}")
    A("")
    return "\n".join(L)


def _opt(m: dict, key: str, name: str) -> dict | None:
    return next((o for o in m.get(key, []) if o["option"] == name), None)


def findings(r: dict) -> list[str]:
    """Statements computed from this run's figures (each one only when its figures exist)."""
    out: list[str] = []
    m = r.get("model") or {}
    big = _largest(r) or {}
    t0, t1 = big.get("threads_0"), big.get("threads_1")
    if not _err(m):
        two, one = _opt(m, "options", "st-bf16-bs32"), _opt(m, "options", "st-bf16-bs32-1thread")
        s2, s1 = (
            _opt(m, "sentence_options", "st-bf16-bs32"),
            _opt(m, "sentence_options", "st-bf16-bs32-1thread"),
        )
        if two and one:
            text = (
                f"**Threads.** Bulk bf16 embedding, 1 torch thread vs 2: chunks "
                f"{one['per_s']}/s vs {two['per_s']}/s, CPU per chunk {one['cpu_ms_each']} vs {two['cpu_ms_each']} ms"
            )
            if s2 and s1:
                text += f"; sentences {s1['per_s']}/s vs {s2['per_s']}/s"
            if t0 and t1 and not _err(t0) and not _err(t1):
                text += (
                    f"; query embedding p95 at {t1['chunks']:,} chunks {t1['query_embedding']['p95_ms']} ms vs "
                    f"{t0['query_embedding']['p95_ms']} ms, search p95 {t1['search']['p95_ms']} vs "
                    f"{t0['search']['p95_ms']} ms"
                )
            out.append(
                text + ". Two threads win on wall time when the machine is quiet; one thread does the same "
                "work in about as much CPU time, and with two every one of the model's ~100 small ops "
                "waits at a barrier for the other thread, which costs a scheduler time slice when another "
                "process holds that core. LocalEmbedder uses every core for ingest and questions alike."
            )
        cur = _opt(m, "options", m["current"])
        torch_bf16 = _opt(m, "options", "torch-minilm-bf16")
        ov32 = _opt(m, "options", "openvino-fp32")
        onnx1 = _opt(m, "options", "onnx-opt-fp32-1thread")
        if cur and torch_bf16:
            int8 = [o for o in m["options"] if "int8" in o["option"]]
            out.append(
                f"**Precision and runtime.** The default ({m['current']}) runs {cur['cpu_ms_each']} CPU-ms per "
                f"chunk at cosine {cur['cosine_min']:.5f} to fp32, against {torch_bf16['cpu_ms_each']} for the "
                f"same bf16 model in torch (cosine {torch_bf16['cosine_min']:.5f})"
                + (f", {ov32['cpu_ms_each']} for the OpenVINO graph in fp32" if ov32 else "")
                + (f" and {onnx1['cpu_ms_each']} for ONNX runtime fp32 (optimised graph)" if onnx1 else "")
                + ". The bf16 gain is the matmuls' (AVX-512 BF16 does twice the multiply-adds of fp32 per "
                "instruction; this CPU has no AMX); OpenVINO adds fused attention, GELU and LayerNorm kernels "
                "and fewer, larger ops than torch's eager mode. "
                + (
                    "int8 is fast ("
                    + ", ".join(
                        f"{o['option']} {o['cpu_ms_each']} ms, cosine min {o['cosine_min']:.3f}" for o in int8
                    )
                    + ") but far from 0.999, so it is not used."
                    if int8
                    else ""
                )
            )
    cs = r.get("cold_start") or {}
    if not _err(cs) and cs.get("model_ready_query_s") is not None:
        pq = cs.get("phases_query", {})
        out.append(
            f"**Cold start.** `factdesk ask` measured {cs['cli_ask']['median_s']} s (before the numpy query "
            "encoder: 6.06 s, of which torch + sentence-transformers imports were 4.5 s). Its model is ready "
            f"in {cs['model_ready_query_s']} s against {cs.get('model_ready_torch_s')} s for the torch model, "
            f"and torch is never imported (torch_imported: {pq.get('torch_imported')}). What is left is "
            f"python start ({cs.get('python_startup_s')} s), importing factdesk and opening the stores "
            f"({pq.get('open catalog + Chroma (direct read)')} s; the chromadb package is not imported: "
            f"{pq.get('chromadb_imported')})."
        )
    ing = r.get("ingest") or {}
    if not _err(ing):
        i = ing["ingest"]
        pf = ing.get("profile_stub_embedder") or {}
        parts = {p["part"]: p for p in pf.get("parts", [])}
        ch = parts.get("chunk_text (tiktoken counts)", {})
        up = parts.get("Chroma upsert", {})
        out.append(
            f"**Ingest.** The model embeds each sentence once ({i['texts_embedded']} texts for "
            f"{i['chunks']} chunks) and chunk vectors are the mean of their sentences' vectors; before, "
            "ingest embedded every chunk and then every sentence again (for the re-ranker), and reached 47% "
            "of the raw chunk rate. On the evals the change moved hit@5 0.975 -> 0.962 and MRR 0.845 -> 0.840 "
            "(one question), and on the held-out set hit@5 0.875 -> 0.938. Everything that is not the model "
            f"overlaps the model now (a worker thread embeds one group while the caller writes the one before "
            f"and prepares the next); the model sat idle {i['non_model_s']} s of {i['wall_s']} s, and the "
            f"model itself ran slower inside the ingest than alone (model-bound share {i['model_bound_share']:.0%}) "
            "because the two compete for the 2 cores. In the stub profile the Chroma upsert (one call per embed group since stop 12; ~6 ms a call "
            f"whatever its size) is {up.get('share', 0):.0%} of the non-model work and chunk_text "
            f"{ch.get('share', 0):.0%}."
        )
    if t1 or t0:
        x = t0 if t0 and not _err(t0) else t1  # the default thread setting first
        if x and not _err(x):
            bd = x["search_breakdown_ms_per_query"]
            raw = x["raw_chroma_query"]["p95_ms"]
            out.append(
                f"**Search at {x['chunks']:,} chunks.** Mean per query: "
                + ", ".join(f"{k} {v} ms" for k, v in sorted(bd.items(), key=lambda kv: -kv[1]))
                + f". Raw collection.query is {x['raw_chroma_query']['p50_ms']} ms p50, {raw} ms p95, so the "
                "10x target leaves ~"
                f"{10 * raw:.0f} ms for everything: embedding the question with a transformer on this CPU takes "
                f"{x['query_embedding']['p50_ms']} ms p50 by itself (the OpenVINO graph, bf16), more inside a search, "
                "where BM25 runs beside it on the second core; the sentence re-rank, which lifts hit@1 from 0.66 "
                "to 0.77 on the evals, reads each pooled chunk's sentence vectors (one cached row a chunk, the "
                "last 16,384 chunks in memory) and scores their words. Kept: questions go to the same "
                "OpenVINO bf16 graph as ingest, not ONNX runtime fp32 (three paired runs of 300 new questions "
                "at 100k chunks, outside this run: search p95 24.9/17.3/16.0 -> 17.7/14.2/14.1 ms; the question "
                "alone 4.5 -> 2.9 ms p50). Tried outside this run without a gain "
                "beyond run-to-run noise: BM25 beside the Chroma query, and "
                "8-bit block-quantised weights for the question encoder (MatMulNBits: cosine 0.9996, 4.0-4.2 "
                "against 4.2-4.6 ms with caches flushed between questions). Kept: the local model's questions "
                "no longer go through the embedding cache file, whose lookup and write made the search and the "
                "next question's embedding slower (three paired runs of 400 new questions at 100k chunks, "
                "outside this run: p50 14.7/14.4/15.0 -> 13.1/13.6/13.0 ms, p95 19.9/18.2/19.9 -> "
                "16.3/17.8/17.4 ms). Not kept: ONNX runtime's spinning thread pool, ~1 ms off a lone client's "
                "search (p95 17.5/17.8 -> 16.2/16.2 ms) but, through uvicorn with 4 clients, search fell from "
                "84 to 61 req/s (p95 68 -> 96 ms)."
            )
    return out
