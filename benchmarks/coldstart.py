"""Cold start: `factdesk ask` (CLI, embedded store) and `factdesk serve` to the first answer, and why.

- the CLI: `factdesk ask QUESTION --json` wall time, in a new process each run (after one untimed
  run, so the OS file cache and the data dir's compiled-model cache are warm, as on any machine that
  ran factdesk before), for the default engine and again with FACTDESK_ANSWERER=reader and =ranker;
- serve: spawn `factdesk serve --no-ingest` to the first 200 from POST /v1/ask;
- where the time goes: `python -X importtime` of what the CLI imports, and the phases of an ask in a
  fresh process (imports, opening the stores, loading the query encoder, the first embedding, the
  answer), next to what starting the bulk (torch) model costs, which `serve` pays and the CLI no
  longer does.
All against `<work>/seeds-data` (the five seeds, made by the naive section).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import clean_env, loadavg, query_stream, run_section
from benchmarks.server import PROBE_QUESTION, Server, factdesk_command

# what `factdesk ask` ends up importing: the CLI, the service, then (lazily) the model and the store's
# engine (read directly: retrieval/chroma_read.py; the chromadb package is not imported)
IMPORTS = "import factdesk.cli, factdesk.service, retrieval.minilm, openvino, chromadb_rust_bindings"
ENGINES = ("ranker",)  # FACTDESK_ANSWERER values timed beside the default (the reader)


# Every timed run asks a wording the data dir has not seen (the local model's question vectors are
# not kept on disk, so a repeated wording would cost the same; a remote embedder's would be cached).
FRESH = iter(query_stream(400, offset=600))


def _open_service(data: Path, **settings):  # type: ignore[no-untyped-def]
    """(service, phase timings so far, start time): the part both cold-start paths share."""
    t = {}
    t0 = time.perf_counter()
    from benchmarks.common import make_settings
    from factdesk.service import Factdesk

    t["import factdesk.service"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    svc = Factdesk(make_settings(data, **settings))
    import numpy as np

    svc.vectors.query(np.full(384, 384**-0.5, dtype=np.float32), 1)  # the ask's read: no chromadb
    t["open catalog + Chroma (direct read)"] = time.perf_counter() - t1
    return svc, t, t0


def _first_answer(svc, t: dict, t0: float, embed) -> dict:  # type: ignore[no-untyped-def]
    """The phases both paths end with: a first embedding through `embed`, then an ask."""
    t1 = time.perf_counter()
    embed([PROBE_QUESTION])
    t["first embedding"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    svc.ask(next(FRESH))
    t["ask (second question)"] = time.perf_counter() - t1
    t["total in process"] = time.perf_counter() - t0
    out: dict = {k: round(v, 3) for k, v in t.items()}
    out["torch_imported"] = "torch" in sys.modules
    out["chromadb_imported"] = "chromadb" in sys.modules
    return out


def _phases_torch(data: Path) -> dict:
    """Were the question embedded by torch (ingest's encoder): what loading it first would cost."""
    svc, t, t0 = _open_service(data, bulk_encoder="torch")
    t1 = time.perf_counter()
    import torch  # noqa: F401

    t["import torch"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    svc.embedder.load()
    t["load model weights"] = time.perf_counter() - t1
    return _first_answer(svc, t, t0, svc.embedder.inner.embed_bulk)


def _phases_query_path(data: Path) -> dict:
    """The CLI's path: the query encoder (the OpenVINO graph by default), no torch."""
    svc, t, t0 = _open_service(data)
    t1 = time.perf_counter()
    model = svc.embedder.inner._query_model()
    t["load the query encoder"] = time.perf_counter() - t1
    out = _first_answer(svc, t, t0, svc.embedder.inner.embed)
    out["encoder_from_cache"] = getattr(model, "from_cache", None)  # the data dir's compiled model
    return out


def importtime(work: Path) -> dict:
    """Top-level imports by cumulative time (python -X importtime), for IMPORTS in a fresh process."""
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTS],
        capture_output=True,
        text=True,
        cwd=work,
        env=clean_env(),
        timeout=300,
        check=False,
    )
    wall = time.perf_counter() - t0
    top: dict[str, float] = {}
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:") :].split("|")
        try:
            cumulative = int(parts[1])
        except ValueError:
            continue  # the header line
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # depth 0: one space after the bar
            pkg = name.strip().split(".")[0]
            top[pkg] = top.get(pkg, 0.0) + cumulative / 1e6
    ranked = sorted(top.items(), key=lambda kv: -kv[1])
    return {
        "statement": IMPORTS,
        "wall_s": round(wall, 2),
        "top_level_cumulative_s": {k: round(v, 3) for k, v in ranked[:12]},
        "total_s": round(sum(top.values()), 2),
    }


def _python_startup(work: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=work, env=clean_env(), check=True)
    return round(time.perf_counter() - t0, 3)


def body(args: argparse.Namespace) -> dict:
    mode = args.params.get("mode", "all")
    data = Path(args.params.get("data", args.work / "seeds-data"))
    if mode == "phases-torch":
        return _phases_torch(data)
    if mode == "phases-query":
        return _phases_query_path(data)
    if not (data / "catalog.sqlite").exists():
        raise RuntimeError(f"{data} has no ingested seeds (the naive section makes it)")
    runs = 1 if args.quick else 3
    out: dict = {"data_dir": str(data)}

    # the CLI
    env = clean_env(FACTDESK_DATA_DIR=str(data))

    def cli_ask(question: str, answerer: str | None = None) -> tuple[float, dict]:
        t0 = time.perf_counter()
        r = subprocess.run(
            [*factdesk_command(), "ask", question, "--json"],
            env={**env, "FACTDESK_ANSWERER": answerer} if answerer else env,
            cwd=args.work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"factdesk ask failed ({r.returncode}): {r.stderr[-500:]}")
        return wall, json.loads(r.stdout)

    if not args.quick:
        cli_ask(next(FRESH))  # untimed: the OS file cache, as on any machine that ran factdesk before
    walls = []
    for _ in range(runs):
        wall, answer = cli_ask(next(FRESH))
        walls.append(wall)
    out["cli_ask"] = {
        "runs": [round(w, 2) for w in walls],
        "median_s": round(statistics.median(walls), 2),
        "answer_citations": len(answer["citations"]),
        "abstained": answer["abstained"],
        "load_avg": loadavg(),
    }
    out["cli_ask_engines"] = {}
    for answerer in ENGINES:
        if not args.quick:
            cli_ask(next(FRESH), answerer)  # untimed: compiles and keeps this engine's model too
        walls = [cli_ask(next(FRESH), answerer)[0] for _ in range(runs)]
        out["cli_ask_engines"][answerer] = {
            "runs": [round(w, 2) for w in walls],
            "median_s": round(statistics.median(walls), 2),
        }
    out["python_startup_s"] = _python_startup(args.work)

    # serve, spawn to first answer
    with Server(data, args.work / "serve-coldstart.log") as server:
        out["serve_first_answer_s"] = round(server.wait_first_answer(next(FRESH)), 2)
        out["serve_peak_rss_mb"] = server.peak_rss_mb()

    if not args.quick:
        out["importtime"] = importtime(args.work)

    # phases, each in a fresh process
    def phases(mode: str, **extra: str) -> dict:
        js = args.work / f"coldstart-{mode}.json"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.coldstart",
            "--work",
            str(args.work),
            "--json",
            str(js),
            "--param",
            f"mode={mode}",
            "--param",
            f"data={data}",
        ] + [a for k, v in extra.items() for a in ("--param", f"{k}={v}")]
        subprocess.run(
            cmd,
            cwd=Path(__file__).resolve().parent.parent,
            env=clean_env(),
            capture_output=True,
            timeout=600,
            check=False,
        )  # a failed phase run writes {"error": ...} itself
        return json.loads(js.read_text())

    out["phases_torch"] = phases("phases-torch")
    out["phases_query"] = phases("phases-query")
    pt, pq = out["phases_torch"], out["phases_query"]
    if "error" not in pt:
        out["model_ready_torch_s"] = round(
            pt["import torch"] + pt["load model weights"] + pt["first embedding"],
            2,
        )
    if "error" not in pq:
        out["model_ready_query_s"] = round(pq["load the query encoder"] + pq["first embedding"], 2)
    out["load_avg_end"] = loadavg()
    return out


if __name__ == "__main__":
    run_section("coldstart", body)
