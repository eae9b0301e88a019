"""Read throughput through `factdesk serve` with one and with two replicas on one data dir.

    python -m benchmarks.replicas --work DIR --json FILE --param data=DATA_DIR [--param seconds=20]

Each replica is its own `factdesk serve --no-ingest` process on its own port, over the same
embedded data dir (reads only: nothing is ingested while they run), or, with `--param chroma_url=`
and `--param database_url=` (or FACTDESK_CHROMA_URL / FACTDESK_DATABASE_URL set), over that Chroma
server and PostgreSQL catalog. N client threads, each with a
keep-alive connection to one replica (client i to replica i mod N: what a round-robin balancer
does), POST /v1/search and then /v1/ask with wordings no earlier run on the data dir asked. Besides
requests a second, the replicas' CPU seconds are read from /proc, so requests per CPU-second (per
core) can be compared on a machine that other work shares.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.common import loadavg, query_stream, run_section
from benchmarks.load import hammer
from benchmarks.server import Server


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run(data: Path, work: Path, replicas: int, clients: int, seconds: float, offset: int, env: dict) -> dict:
    out: dict = {"replicas": replicas, "clients": clients, "seconds_per_endpoint": seconds}
    with ExitStack() as stack:
        servers = [
            stack.enter_context(Server(data, work / f"serve-replica-{replicas}-{i}.log", **env))
            for i in range(replicas)
        ]
        out["first_answer_s"] = [
            round(s.wait_first_answer(query_stream(1, offset=offset + i)[0]), 2)
            for i, s in enumerate(servers)
        ]
        urls = [s.base_url for s in servers]
        for endpoint, path, field, base in (
            ("search", "/v1/search", "query", offset + 10),
            ("ask", "/v1/ask", "question", offset + 2010),
        ):
            pids = [s.proc.pid for s in servers if s.proc is not None]
            assert len(pids) == len(servers)
            cpu0 = [cpu_seconds(pid) for pid in pids]
            t0 = time.perf_counter()
            r = hammer(urls, path, field, clients, seconds, query_stream(2000, offset=base))
            wall = time.perf_counter() - t0
            cpu = sum(cpu_seconds(pid) for pid in pids) - sum(cpu0)
            r["servers_cpu_s"] = round(cpu, 1)
            r["requests_per_server_cpu_s"] = round(r["ok"] / cpu, 1) if cpu else None
            r["servers_cores_busy"] = round(cpu / wall, 2)
            r["throughput_per_core_rps"] = round(r["throughput_rps"] / (os.cpu_count() or 1), 1)
            out[endpoint] = r
        out["server_peak_rss_mb"] = [s.peak_rss_mb() for s in servers]
    out["load_avg_end"] = loadavg()
    return out


def body(args: argparse.Namespace) -> dict:
    data = Path(args.params["data"])
    seconds = float(args.params.get("seconds", 4 if args.quick else 20))
    clients = int(args.params.get("clients", 4))
    offset = int(args.params.get("offset", 20000))
    env = {"FACTDESK_TORCH_THREADS": args.params.get("threads", "0")}
    # server mode: the replicas share a Chroma server and a PostgreSQL catalog instead of the data dir
    for field, var in (("chroma_url", "FACTDESK_CHROMA_URL"), ("database_url", "FACTDESK_DATABASE_URL")):
        if value := args.params.get(field) or os.environ.get(var):
            env[var] = value
    out: dict = {"data_dir": str(data), "cores": os.cpu_count()}
    for i, n in enumerate(int(x) for x in args.params.get("replicas", "1,2").split(",")):
        out[f"replicas_{n}"] = run(data, args.work, n, clients, seconds, offset + 5000 * i, env)
    return out


if __name__ == "__main__":
    run_section("replicas", body)
