"""Raw model throughput: every embedder option on the same fixed chunk set, and its cosine to fp32.

Options run round-robin (option 1..n, then again), so load from other processes on the shared
machine spreads over all of them; a figure is the best of the repetitions, with the median beside it.
A second, smaller table does the same on the sentences of those articles (ingest embeds every
sentence too), where per-batch overheads weigh more than on 200-token chunks.
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
from retrieval.clean import clean_article
from retrieval.sentences import split_sentences

BASELINE = "st-fp32-bs32"
CURRENT = "openvino-bf16"  # what retrieval.embed.LocalEmbedder does today (threads: all cores, 2)


def onnx_models(work: Path, notes: dict, quantise: bool) -> dict[str, Path]:
    """Export, optimise and (optionally) quantise; {} with notes["onnx_error"] when that fails."""
    try:
        onnx_path, export_s = E.export_onnx(work / "onnx")
        notes["onnx_export_seconds"] = round(export_s, 1)
        t0 = time.perf_counter()
        paths = {"plain": onnx_path, "opt": E.optimise_onnx(onnx_path)}
        notes["onnx_optimise_seconds"] = round(time.perf_counter() - t0, 1)
        notes["onnx_model_mb"] = round(onnx_path.stat().st_size / 2**20, 1)
        if quantise:
            for per_channel in (False, True):
                t0 = time.perf_counter()
                paths["int8-pc" if per_channel else "int8"] = E.quantise_onnx(onnx_path, per_channel)
                notes[f"int8{'_per_channel' if per_channel else ''}_quantise_seconds"] = round(
                    time.perf_counter() - t0, 1
                )
        return paths
    except Exception as e:  # noqa: BLE001 -- no `onnx` package: the torch options still run
        notes["onnx_error"] = f"{type(e).__name__}: {e}"[:500]
        return {}


def _numpy_encoder():  # type: ignore[no-untyped-def]
    from retrieval.minilm import NumpyMiniLM

    model = NumpyMiniLM()
    return lambda texts: model.encode(list(texts))


def _onnx_query_encoder():  # type: ignore[no-untyped-def]
    from retrieval.minilm import OnnxMiniLM

    model = OnnxMiniLM()
    return lambda texts: model.encode(list(texts))


def _local_bulk(**kwargs):  # type: ignore[no-untyped-def]
    """LocalEmbedder's bulk path exactly (OpenVinoMiniLM by default, bf16, token-capped batches)."""
    from retrieval.embed import LocalEmbedder

    model = LocalEmbedder(**kwargs)
    model.load()
    return lambda texts: model.embed_bulk(list(texts))


def chunk_options(onnx: dict[str, Path], quick: bool) -> list[E.Option]:
    O = E.Option  # noqa: E741 - a short alias keeps the option tables readable
    opts = [
        O(
            BASELINE,
            E.st_encode(32),
            "sentence-transformers encode, fp32, 2 threads (the baseline)",
            threads=2,
        ),
        O(
            CURRENT,
            _local_bulk(),
            "retrieval/minilm.py OpenVinoMiniLM: the model built as an OpenVINO graph, bf16 inference, fused QKV, <= 1024 padded word pieces a batch, 2 threads: LocalEmbedder's default",
            threads=2,
        ),
        O(
            "st-bf16-bs32",
            E.st_encode(32, bf16=True),
            "sentence-transformers under bf16 autocast, 2 threads (the default before TorchMiniLM)",
            threads=2,
        ),
    ]
    if not quick:  # --quick leaves out torch's own bf16 graph: on a CPU without AVX-512 BF16 it is slowest
        opts += [
            O(
                "torch-minilm-bf16",
                _local_bulk(bulk_encoder="torch"),
                "retrieval/minilm.py TorchMiniLM: bf16 weights, fused QKV, SDPA, <= 1024 padded word pieces a batch, 2 threads (the default before OpenVINO)",
                threads=2,
            ),
            O(
                "st-bf16-bs32-1thread",
                E.st_encode(32, bf16=True),
                "bf16 autocast, torch.set_num_threads(1)",
                threads=1,
            ),
            O(
                "st-fp32-unsorted-bs32",
                E.st_unsorted(32),
                "fp32, batches in input order: no length bucketing (encode's default sorts by length)",
                threads=2,
            ),
            O("st-fp32-bs32-1thread", E.st_encode(32), "fp32, 1 thread", threads=1),
            O(
                "openvino-bf16-1thread",
                _local_bulk(threads=1),
                "OpenVinoMiniLM bf16, 1 inference thread",
                threads=1,
            ),
            O(
                "openvino-fp32",
                _local_bulk(precision="fp32"),
                "OpenVinoMiniLM, fp32 inference, 2 threads",
                threads=2,
            ),
            O(
                "st-bf16-bs8-1thread",
                E.st_encode(8, bf16=True),
                "bf16 autocast, batch 8, 1 thread",
                threads=1,
            ),
            O(
                "st-bf16-bs64-1thread",
                E.st_encode(64, bf16=True),
                "bf16 autocast, batch 64, 1 thread",
                threads=1,
            ),
            O(
                "st-bf16-weights-1thread",
                E.st_bf16_weights(32),
                "weights cast to bf16 once, no autocast, 1 thread",
                threads=1,
            ),
            O(
                "numpy-fp32",
                _numpy_encoder(),
                "retrieval/minilm.py NumpyMiniLM (a query encoder: no torch), numpy fp32, OpenBLAS default threads",
            ),
            O(
                "onnx-query-encoder",
                _onnx_query_encoder(),
                "retrieval/minilm.py OnnxMiniLM (FACTDESK_QUERY_ENCODER=onnx, the default before OpenVINO): its graph under ONNX runtime, fp32",
            ),
        ]
    if "opt" in onnx:
        opts.append(
            O(
                "onnx-opt-fp32-1thread",
                E.OnnxEmbedder(onnx["opt"], threads=1).encode,
                "ONNX runtime, transformer-optimised graph (fused attention/GELU/LayerNorm), fp32, 1 thread",
            )
        )
    if "opt" in onnx and not quick:
        opts += [
            O(
                "onnx-opt-fp32-2threads",
                E.OnnxEmbedder(onnx["opt"], threads=2).encode,
                "ONNX runtime optimised, fp32, 2 intra-op threads (no spinning)",
            ),
            O(
                "onnx-fp32-1thread",
                E.OnnxEmbedder(onnx["plain"], threads=1).encode,
                "ONNX runtime, exported graph as is (ORT_ENABLE_ALL only), fp32, 1 thread",
            ),
        ]
    for key, label in (("int8", "per-tensor"), ("int8-pc", "per-channel")):
        if key in onnx:
            opts.append(
                O(
                    f"onnx-{key}-1thread",
                    E.OnnxEmbedder(onnx[key], threads=1).encode,
                    f"ONNX int8 dynamic quantisation ({label} weights), 1 thread",
                )
            )
    return opts


def sentence_options(onnx: dict[str, Path], quick: bool) -> list[E.Option]:
    O = E.Option  # noqa: E741 - a short alias keeps the option tables readable
    opts = [
        O(BASELINE, E.st_encode(32), "fp32, 2 threads", threads=2),
        O(CURRENT, _local_bulk(), "OpenVinoMiniLM bf16, 2 threads (LocalEmbedder)", threads=2),
        O(
            "st-bf16-bs32",
            E.st_encode(32, bf16=True),
            "sentence-transformers bf16 autocast, 2 threads",
            threads=2,
        ),
    ]
    if not quick:
        opts += [
            O(
                "torch-minilm-bf16",
                _local_bulk(bulk_encoder="torch"),
                "TorchMiniLM bf16, 2 threads",
                threads=2,
            ),
            O("st-bf16-bs32-1thread", E.st_encode(32, bf16=True), "bf16 autocast, 1 thread", threads=1),
            O("st-fp32-bs32-1thread", E.st_encode(32), "fp32, 1 thread", threads=1),
            O(
                "st-bf16-bs128-1thread",
                E.st_encode(128, bf16=True),
                "bf16 autocast, batch 128, 1 thread",
                threads=1,
            ),
            O("numpy-fp32", _numpy_encoder(), "the numpy query encoder, fp32, OpenBLAS default threads"),
            O("onnx-query-encoder", _onnx_query_encoder(), "the ONNX runtime query encoder, fp32"),
        ]
        if "opt" in onnx:
            opts += [
                O(
                    "onnx-opt-fp32-1thread",
                    E.OnnxEmbedder(onnx["opt"], threads=1).encode,
                    "ONNX optimised, 1 thread",
                ),
                O(
                    "onnx-opt-fp32-2threads",
                    E.OnnxEmbedder(onnx["opt"], threads=2).encode,
                    "ONNX optimised, 2 threads",
                ),
            ]
    return opts


def measure(opts: list[E.Option], texts: list[str], reps: int) -> list[dict]:
    import torch

    runs: dict[str, list[dict]] = {o.name: [] for o in opts}
    outputs: dict[str, np.ndarray] = {}
    for o in opts:  # warm-up: first-call allocations, oneDNN kernel selection
        torch.set_num_threads(o.threads or 2)
        o.encode(texts[:4])
    for _ in range(reps):
        for o in opts:
            torch.set_num_threads(o.threads or 2)
            with Timer() as t:
                out = o.encode(texts)
            runs[o.name].append({"wall_s": t.wall, "cpu_s": t.cpu, "load": t.load_before})
            outputs.setdefault(o.name, out)
    torch.set_num_threads(2)
    ref = outputs[BASELINE]
    n = len(texts)
    results = []
    for o in opts:
        walls = [r["wall_s"] for r in runs[o.name]]
        best = min(walls)
        cmin, cmean = E.cosine_to(ref, outputs[o.name])
        results.append(
            {
                "option": o.name,
                "note": o.note,
                "threads": o.threads,
                "per_s": round(n / best, 2),
                "per_s_median": round(n / statistics.median(walls), 2),
                "cpu_ms_each": round(1000 * min(r["cpu_s"] for r in runs[o.name]) / n, 2),
                "cpu_per_wall": round(runs[o.name][walls.index(best)]["cpu_s"] / best, 2),
                "load_avg": [r["load"] for r in runs[o.name]],
                "cosine_min": round(cmin, 6),
                "cosine_mean": round(cmean, 6),
            }
        )
    base = next(r for r in results if r["option"] == BASELINE)
    for r in results:
        r["speedup"] = round(r["per_s"] / base["per_s"], 2)
        # per core: the machine is shared, so wall time is partly other people's; CPU time is ours
        r["speedup_cpu_time"] = round(base["cpu_ms_each"] / r["cpu_ms_each"], 2)
    return results


def body(args: argparse.Namespace) -> dict:
    n = int(args.params.get("chunks", 32 if args.quick else 128))
    reps = int(args.params.get("reps", 1 if args.quick else 2))
    n_sent = int(args.params.get("sentences", 64 if args.quick else 256))
    docs, texts = fixed_chunk_set(n)
    texts = texts[:n]
    sentences = [
        t[s.start : s.end] for d in docs for t in [clean_article(d.text).text] for s in split_sentences(t)
    ]
    sentences = sentences[:n_sent]
    from retrieval.tokens import count_tokens

    t0 = time.perf_counter()
    st = E.sentence_transformer()
    load_s = time.perf_counter() - t0
    wordpieces = [len(st.tokenizer(t)["input_ids"]) for t in texts]
    notes: dict = {}
    onnx = onnx_models(args.work, notes, quantise=not args.quick)
    chunks = measure(chunk_options(onnx, args.quick), texts, reps)
    sents = measure(sentence_options(onnx, args.quick), sentences, 1)
    good = [r for r in chunks if r["cosine_min"] >= 0.999]
    best_ok = max(good, key=lambda r: r["per_s"])
    best_ok_cpu = max(good, key=lambda r: r["speedup_cpu_time"])
    return {
        "chunks": n,
        "repetitions": reps,
        "sentences": len(sentences),
        "tokens_per_chunk_cl100k_mean": round(sum(count_tokens(t) for t in texts) / n, 1),
        "wordpieces_per_chunk_mean": round(sum(wordpieces) / n, 1),
        "wordpieces_per_sentence_mean": round(
            sum(len(st.tokenizer(s)["input_ids"]) for s in sentences) / max(1, len(sentences)), 1
        ),
        "truncated_chunks": sum(w > E.MAX_SEQ_LENGTH for w in wordpieces),
        "model_load_seconds": round(load_s, 2),
        "options": chunks,
        "sentence_options": sents,
        "notes": notes,
        "baseline": BASELINE,
        "current": CURRENT,
        "best_at_cosine_0999": best_ok["option"],
        "best_speedup_at_cosine_0999": best_ok["speedup"],
        "best_cpu_time_speedup_at_cosine_0999": best_ok_cpu["speedup_cpu_time"],
        "best_cpu_time_option_at_cosine_0999": best_ok_cpu["option"],
        "current_speedup": next(r for r in chunks if r["option"] == CURRENT)["speedup"],
        "load_avg_end": loadavg(),
    }


if __name__ == "__main__":
    run_section("model", body)
