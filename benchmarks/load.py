"""Concurrent load through a real uvicorn server: N client threads, a fixed duration per endpoint.

`factdesk serve --no-ingest` runs on a scale data dir (the largest built); clients POST /v1/search
and then /v1/ask with distinct wordings of the eval questions (so most requests embed their query),
over loopback, each client with its own keep-alive connection. Run once per torch thread setting.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from pathlib import Path

from benchmarks.common import latency_summary, loadavg, query_stream, run_section
from benchmarks.server import Server


def hammer(
    base_url: str | list[str], path: str, field: str, clients: int, seconds: float, queries: list[str]
) -> dict:
    """base_url: one server, or several (client i talks to the i-th modulo: a client-side balancer)."""
    import httpx

    urls = [base_url] if isinstance(base_url, str) else base_url

    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    def client(url: str) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            while time.perf_counter() < deadline:
                q = queries[next(counter) % len(queries)]
                t0 = time.perf_counter()
                try:
                    r = http.post(path, json={field: q})
                    ok = r.status_code == 200
                    key = str(r.status_code)
                except httpx.HTTPError as e:
                    ok, key = False, type(e).__name__
                ms = 1000 * (time.perf_counter() - t0)
                with lock:
                    if ok:
                        latencies.append(ms)
                    else:
                        errors[key] = errors.get(key, 0) + 1

    threads = [threading.Thread(target=client, args=(urls[i % len(urls)],)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    out: dict[str, object] = dict(latency_summary(latencies))
    out.update(
        {
            "clients": clients,
            "seconds": round(wall, 1),
            "ok": len(latencies),
            "errors": errors,
            "throughput_rps": round(len(latencies) / wall, 2),
            "load_avg_after": loadavg(),
        }
    )
    return out


def body(args: argparse.Namespace) -> dict:
    data = Path(args.params["data"])
    clients = int(args.params.get("clients", 2 if args.quick else 4))
    seconds = float(args.params.get("seconds", 4 if args.quick else 20))
    threads = args.params.get("threads", "0")
    out: dict = {
        "data_dir": str(data),
        "torch_threads": int(threads),
        "clients": clients,
        "seconds_per_endpoint": seconds,
    }
    env = {"FACTDESK_TORCH_THREADS": threads}
    with Server(data, args.work / f"serve-load-{threads}.log", **env) as server:
        # distinct wordings, a range per run that no other run on this data dir uses (see run.py)
        base = int(args.params.get("offset", 2500))
        out["first_answer_s"] = round(server.wait_first_answer(query_stream(1, offset=base)[0]), 2)
        out["search"] = hammer(
            server.base_url, "/v1/search", "query", clients, seconds, query_stream(1499, offset=base + 1)
        )
        out["ask"] = hammer(
            server.base_url, "/v1/ask", "question", clients, seconds, query_stream(1500, offset=base + 1500)
        )
        out["server_peak_rss_mb"] = server.peak_rss_mb()
    return out


if __name__ == "__main__":
    run_section("load", body)
