"""Raw model throughput: every embedder option on the same fixed chunk set, and its cosine to fp32.

Options run round-robin (option 1..n, then again), so load from other processes on the shared
machine spreads over all of them; a figure is the best of the repetitions, with the median beside it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks import embedders as E
from benchmarks.common import Timer, loadavg, run_section
from benchmarks.corpus import fixed_chunk_set

BASELINE = "st-fp32-bs32"
CURRENT = "st-bf16-bs32"  # what retrieval.embed.LocalEmbedder does today


def build_options(work: Path, quick: bool) -> tuple[list[E.Option], dict]:
    notes: dict = {}
    opts = [
        E.Option(BASELINE, E.st_encode(32), "sentence-transformers encode, fp32 (the baseline)", threads=2),
        E.Option(CURRENT, E.st_encode(32, bf16=True), "bf16 autocast, as LocalEmbedder", threads=2),
    ]
    if not quick:
        opts += [
            E.Option("st-fp32-unsorted-bs32", E.st_unsorted(32), "fp32, batches in input order (no length "
                     "bucketing)", threads=2),
            E.Option("st-fp32-bs32-1thread", E.st_encode(32), "fp32, torch.set_num_threads(1)", threads=1),
            E.Option("st-bf16-bs32-1thread", E.st_encode(32, bf16=True), "bf16, torch.set_num_threads(1)", threads=1),
            E.Option("st-bf16-bs8", E.st_encode(8, bf16=True), "bf16, batch 8", threads=2),
            E.Option("st-bf16-bs64", E.st_encode(64, bf16=True), "bf16, batch 64", threads=2),
        ]
    try:
        onnx_path, export_s = E.export_onnx(work / "onnx")
        notes["onnx_export_seconds"] = round(export_s, 1)
        t0 = time.perf_counter()
        opt_path = E.optimise_onnx(onnx_path)
        notes["onnx_optimise_seconds"] = round(time.perf_counter() - t0, 1)
        notes["onnx_model_mb"] = round(onnx_path.stat().st_size / 2**20, 1)
        opts.append(E.Option("onnx-opt-fp32-2threads", E.OnnxEmbedder(opt_path, threads=2).encode,
                             "ONNX runtime, transformer-optimised graph (fused attention/GELU/LayerNorm), fp32"))
        if not quick:
            opts += [
                E.Option("onnx-fp32-2threads", E.OnnxEmbedder(onnx_path, threads=2).encode,
                         "ONNX runtime, exported graph as is (ORT_ENABLE_ALL), fp32"),
                E.Option("onnx-opt-fp32-1thread", E.OnnxEmbedder(opt_path, threads=1).encode,
                         "ONNX runtime optimised, 1 intra-op thread"),
                E.Option("onnx-opt-fp32-2threads-spin", E.OnnxEmbedder(opt_path, threads=2, spinning=True).encode,
                         "ONNX runtime optimised, busy-waiting worker threads (ORT's default)"),
            ]
            for per_channel in (False, True):
                t0 = time.perf_counter()
                q = E.quantise_onnx(onnx_path, per_channel)
                notes[f"int8{'_per_channel' if per_channel else ''}_quantise_seconds"] = \
                    round(time.perf_counter() - t0, 1)
                opts.append(E.Option(f"onnx-int8{'-per-channel' if per_channel else ''}-2threads",
                                     E.OnnxEmbedder(q, threads=2).encode,
                                     f"ONNX int8 dynamic quantisation ({'per-channel' if per_channel else 'per-tensor'}"
                                     " weights)"))
    except Exception as e:  # no `onnx` package: the torch options still run
        notes["onnx_error"] = f"{type(e).__name__}: {e}"[:500]
    return opts, notes


def body(args: argparse.Namespace) -> dict:
    import torch

    n = int(args.params.get("chunks", 32 if args.quick else 256))
    reps = int(args.params.get("reps", 1 if args.quick else 2))
    _, texts = fixed_chunk_set(n)
    texts = texts[:n]
    from retrieval.tokens import count_tokens

    t0 = time.perf_counter()
    E.sentence_transformer()
    load_s = time.perf_counter() - t0
    tok = E.sentence_transformer().tokenizer
    wordpieces = [len(tok(t)["input_ids"]) for t in texts]
    opts, notes = build_options(args.work, args.quick)
    runs: dict[str, list[dict]] = {o.name: [] for o in opts}
    outputs: dict[str, np.ndarray] = {}
    for o in opts:  # warm-up: first-call allocations, oneDNN kernel selection
        if o.threads:
            torch.set_num_threads(o.threads)
        o.encode(texts[:4])
    for rep in range(reps):
        for o in opts:
            torch.set_num_threads(o.threads or 2)
            with Timer() as t:
                out = o.encode(texts)
            runs[o.name].append({"wall_s": t.wall, "cpu_s": t.cpu, "load": t.load_before})
            outputs.setdefault(o.name, out)
    torch.set_num_threads(2)
    ref = outputs[BASELINE]
    results = []
    for o in opts:
        walls = [r["wall_s"] for r in runs[o.name]]
        cmin, cmean = E.cosine_to(ref, outputs[o.name])
        best = min(walls)
        results.append({
            "option": o.name, "note": o.note,
            "chunks_per_s": round(n / best, 2), "chunks_per_s_median": round(n / statistics.median(walls), 2),
            "cpu_ms_per_chunk": round(1000 * min(r["cpu_s"] for r in runs[o.name]) / n, 1),
            "cpu_per_wall": round(runs[o.name][walls.index(best)]["cpu_s"] / best, 2),
            "load_avg": [r["load"] for r in runs[o.name]],
            "cosine_min": round(cmin, 6), "cosine_mean": round(cmean, 6),
        })
    base = next(r for r in results if r["option"] == BASELINE)["chunks_per_s"]
    for r in results:
        r["speedup"] = round(r["chunks_per_s"] / base, 2)
    good = [r for r in results if r["cosine_min"] >= 0.999]
    best_ok = max(good, key=lambda r: r["chunks_per_s"])
    current = next(r for r in results if r["option"] == CURRENT)
    return {
        "chunks": n, "repetitions": reps, "torch_threads_default": 2,
        "tokens_per_chunk_cl100k_mean": round(sum(count_tokens(t) for t in texts) / n, 1),
        "wordpieces_per_chunk_mean": round(sum(wordpieces) / n, 1),
        "truncated_chunks": sum(w > E.MAX_SEQ_LENGTH for w in wordpieces),
        "model_load_seconds": round(load_s, 2),
        "options": results, "notes": notes,
        "baseline": BASELINE, "current": CURRENT,
        "best_at_cosine_0999": best_ok["option"],
        "best_speedup_at_cosine_0999": best_ok["speedup"],
        "current_speedup": current["speedup"],
        "load_avg_end": loadavg(),
    }


if __name__ == "__main__":
    run_section("model", body)
