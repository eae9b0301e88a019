"""A real `factdesk serve --no-ingest` on a free port, for the end-to-end and chat-page tests.

Offline and isolated: OPENAI_*, FACTDESK_API_KEYS, FACTDESK_CHROMA_URL and FACTDESK_DATABASE_URL
are removed from its
environment, its data dir is fresh, and it runs in that dir, so no developer `.env` is read.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "data" / "articles"
START_TIMEOUT_S = 240  # a cold start imports torch and chromadb: slow on a busy 2-core machine
ISOLATE = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "FACTDESK_API_KEYS",
    "FACTDESK_CHROMA_URL",
    "FACTDESK_DATABASE_URL",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def factdesk_command() -> list[str]:
    exe = Path(sys.executable).parent / "factdesk"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("factdesk")
    return [found] if found else [sys.executable, "-m", "factdesk.cli"]


def seed_documents() -> list[dict[str, str]]:
    return [
        {"id": p.stem, "text": p.read_text(encoding="utf-8"), "source": p.name}
        for p in sorted(ARTICLES.glob("*.txt"))
    ]


class LiveServer:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self._env = {k: v for k, v in os.environ.items() if k not in ISOLATE and not k.startswith("OPENAI_")}
        self._env.update(FACTDESK_DATA_DIR=str(data_dir / "store"), **(env or {}))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            command = [*factdesk_command(), "serve", "--no-ingest", "--port", str(self.port)]
            self.proc = subprocess.Popen(
                command,
                cwd=self.data_dir,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"factdesk serve exited with {code}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"factdesk serve did not answer within {START_TIMEOUT_S} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=300, **kwargs)  # type: ignore[arg-type]

    def post_seeds(self) -> list[dict]:
        with self.client() as c:
            r = c.post("/v1/documents", json={"documents": seed_documents()})
            r.raise_for_status()
            return r.json()["results"]  # type: ignore[no-any-return]
