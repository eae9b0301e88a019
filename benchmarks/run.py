"""`python -m benchmarks.run [--quick] [--out DIR]`: every benchmark, in one run, on this machine.

Writes BENCHMARKS.md (project root) and benchmarks/results.json, or both into --out DIR.
Each section runs as its own process (benchmarks/<section>.py), one after another, so a section's
peak RSS is its own (os.wait4) and one failing section is recorded as an error, not the end of the
run. Scratch data (data dirs, the exported ONNX model) goes under <out>/.work or benchmarks/.work.

--quick: small sizes (1k chunks, 4 s load test) for tests; the full run takes ~25 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

from benchmarks import report
from benchmarks.common import ROOT, clean_env, loadavg

SECTION_TIMEOUT_S = {
    "model": 1200,
    "ingest": 1200,
    "naive": 900,
    "coldstart": 900,
    "scale": 2400,
    "load": 900,
}


class Monitor:
    """Samples the load average and the machine's busy CPU while the run goes, to show interference."""

    def __init__(self, period: float = 5.0) -> None:
        self.period = period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields[:8]) - idle, sum(fields[:8])

    def __enter__(self) -> Self:
        self.t0 = time.perf_counter()
        self.cpu0 = self._cpu()
        self.self0 = os.times()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        busy1, _ = self._cpu()
        t = os.times()
        hz = os.sysconf("SC_CLK_TCK")
        ours = (
            t.children_user
            + t.children_system
            + t.user
            + t.system
            - self.self0.children_user
            - self.self0.children_system
            - self.self0.user
            - self.self0.system
        )
        busy = (busy1 - self.cpu0[0]) / hz
        wall = time.perf_counter() - self.t0
        cores = os.cpu_count() or 1
        self.summary = {
            "wall_s": round(wall, 1),
            "cores": cores,
            "machine_busy_share": round(busy / (wall * cores), 3),
            "benchmark_cpu_s": round(ours, 1),
            "other_processes_cpu_s": round(max(0.0, busy - ours), 1),
            "other_processes_share_of_machine": round(max(0.0, busy - ours) / (wall * cores), 3),
            "load_avg_mean": round(sum(self.samples) / len(self.samples), 2) if self.samples else loadavg(),
            "load_avg_max": max(self.samples) if self.samples else loadavg(),
        }

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append(loadavg())


def run_child(section: str, work: Path, quick: bool, log_dir: Path, **params: object) -> dict:
    """Run `python -m benchmarks.<section>`; its JSON result plus wall time and peak RSS."""
    # one name per run (logs and per-section JSON), e.g. scale-measure-threads1-offset900
    tag = "-".join(
        [section]
        + [
            f"{v}" if k == "mode" else f"{k}{v}"
            for k, v in params.items()
            if k in ("mode", "chunks", "threads", "offset")
        ]
    )
    js = work / "results" / f"{tag}.json"
    js.parent.mkdir(parents=True, exist_ok=True)
    js.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", f"benchmarks.{section}", "--work", str(work), "--json", str(js)]
    cmd += ["--quick"] if quick else []
    for k, v in params.items():
        cmd += ["--param", f"{k}={v}"]
    print(f"[benchmarks] {tag} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    with open(log_dir / f"{tag}.log", "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=clean_env(PYTHONWARNINGS="ignore"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timer = threading.Timer(SECTION_TIMEOUT_S[section], lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)  # wait4, not wait: the child's own peak RSS
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if js.exists():
        result = json.loads(js.read_text())
    else:
        tail = (log_dir / f"{tag}.log").read_text(errors="replace")[-1500:]
        result = {"error": f"exit status {proc.returncode} after {wall:.0f} s; log tail: {tail}"}
    result["process"] = {
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
    }
    print(
        f"[benchmarks] {tag}: {wall:.0f} s{' ERROR ' + result['error'][:200] if 'error' in result else ''}",
        file=sys.stderr,
        flush=True,
    )
    return result


def versions() -> dict:
    import importlib.metadata as md

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in (
        "torch",
        "sentence-transformers",
        "transformers",
        "chromadb",
        "onnxruntime",
        "openvino",
        "onnx",
        "tiktoken",
    ):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def cpu_flags() -> list[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma"))
    return []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, ~3 minutes (what the tests run)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write BENCHMARKS.md and results.json here instead of the project root / benchmarks/",
    )
    p.add_argument("--only", nargs="*", default=None, help="run only these sections (debugging)")
    args = p.parse_args(argv)
    md_path = (args.out / "BENCHMARKS.md") if args.out else ROOT / "BENCHMARKS.md"
    json_path = (args.out / "results.json") if args.out else ROOT / "benchmarks" / "results.json"
    work = (args.out / ".work") if args.out else ROOT / "benchmarks" / ".work"
    work.mkdir(parents=True, exist_ok=True)
    log_dir = work / "logs"
    log_dir.mkdir(exist_ok=True)
    quick = args.quick
    wanted = set(args.only) if args.only else None

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    results: dict = {
        "meta": {
            "quick": quick,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "cpu": cpu_model(),
            "cpu_flags": cpu_flags(),
            "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "versions": versions(),
            "load_avg_start": loadavg(),
        }
    }
    with Monitor() as mon:
        if want("model"):
            results["model"] = run_child("model", work, quick, log_dir)
        if want("ingest"):
            results["ingest"] = run_child("ingest", work, quick, log_dir)
            if not quick:  # the same with one torch thread (see the model section: threads matter here)
                results["ingest"]["one_thread"] = run_child("ingest", work, quick, log_dir, threads=1)
        if want("naive"):
            results["naive"] = run_child("naive", work, quick, log_dir)
        if want("coldstart"):
            results["cold_start"] = run_child("coldstart", work, quick, log_dir)
        scale_data = work / "scale-data"
        thread_settings = [0] if quick else [0, 1]
        if want("scale"):
            shutil.rmtree(scale_data, ignore_errors=True)
            sizes = [1000] if quick else [1000, 10_000, 100_000]
            results["scale"] = {"sizes": []}
            for si, n in enumerate(sizes):
                entry: dict = {
                    "target_chunks": n,
                    "build": run_child(
                        "scale", work, quick, log_dir, mode="build", data=scale_data, chunks=n
                    ),
                }
                for ti, threads in enumerate(thread_settings):
                    # each run asks wordings no earlier run on this data dir asked (no cached query vectors)
                    queries = 20 if quick else (50 if threads == 0 else 100)
                    entry[f"threads_{threads}"] = run_child(
                        "scale",
                        work,
                        quick,
                        log_dir,
                        mode="measure",
                        data=scale_data,
                        threads=threads,
                        queries=queries,
                        offset=(si * len(thread_settings) + ti) * 450,
                    )
                results["scale"]["sizes"].append(entry)
        if want("load"):
            results["load"] = {}
            if not (scale_data / "catalog.sqlite").exists():
                results["load"]["error"] = "no scale data dir to serve (run the scale section first)"
            else:
                for ti, threads in enumerate(thread_settings):
                    results["load"][f"threads_{threads}"] = run_child(
                        "load",
                        work,
                        quick,
                        log_dir,
                        data=scale_data,
                        threads=threads,
                        offset=2500 + 3000 * ti,
                    )
    results["meta"]["interference"] = mon.summary
    results["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results["meta"]["total_seconds"] = mon.summary["wall_s"]
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
    md_path.write_text(report.render(results))
    print(f"[benchmarks] wrote {md_path} and {json_path} ({mon.summary['wall_s']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
