"""A real `factdesk serve --no-ingest` subprocess on a free loopback port (cold start and load test)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from benchmarks.common import clean_env

PROBE_QUESTION = "How many North Korean soldiers have been killed?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def factdesk_command() -> list[str]:
    exe = Path(sys.executable).parent / "factdesk"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "factdesk.cli"]


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the peak resident set of a running process."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class Server:
    def __init__(self, data_dir: Path, log_path: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = clean_env(FACTDESK_DATA_DIR=str(data_dir), **env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None
        self.started_at = 0.0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.log = self.log_path.open("ab")  # closed in stop(): the server writes to it until then
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [*factdesk_command(), "serve", "--no-ingest", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.data_dir.parent,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_first_answer(self, question: str = PROBE_QUESTION, timeout: float = 240.0) -> float:
        """Seconds from spawn to the first 200 from POST /v1/ask (the first real answer). Pass a
        question the data dir has not seen, or the embedding cache answers without the model."""
        import httpx

        deadline = self.started_at + timeout
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            while time.perf_counter() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(
                        f"factdesk serve exited with {self.proc.returncode}; see {self.log_path}"
                    )
                try:
                    r = client.post("/v1/ask", json={"question": question})
                    if r.status_code == 200:
                        return time.perf_counter() - self.started_at
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"no answer from factdesk serve within {timeout:.0f} s; see {self.log_path}")

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.proc.pid) if self.proc else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.log is not None:
            self.log.close()
            self.log = None
