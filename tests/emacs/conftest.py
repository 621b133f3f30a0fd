"""A real Emacs (28, from Debian) with eglot or lsp-mode, the real `deepseek-lsp` and the fake
DeepSeek.

Emacs runs interactively (`emacs -nw`) in a tmux pane, so its command loop, idle timers and
keyboard prompts are the ones a user has; `harness.el` loads the README's setup snippet for the
client and starts an Emacs server. The test reads Emacs's state and calls the client's own
commands through `emacsclient --eval`, and types the answers to prompts with `tmux send-keys`.
Every wait polls a condition with a deadline; nothing sleeps blindly.

Without emacs, emacsclient, tmux or Debian's elpa-eglot / elpa-lsp-mode the tests skip, saying
what to install; with CI=true in the environment a missing tool fails them instead.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deepseek_lsp.fake import Reply
from tests.threaded_fake import ThreadedFake as _ThreadedFake

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness.el"
SNIPPETS = HERE / "snippets"
STUB = HERE / "stub_server.py"
ELPA = Path("/usr/share/emacs/site-lisp/elpa")
PACKAGES = {"eglot": "eglot-", "lsp-mode": "lsp-mode-"}
KEY = "sk-test-emacs-0123456789abcdef"
INSTALL = "apt-get install emacs-nox elpa-eglot elpa-lsp-mode tmux"


def require_editor(client: str) -> None:
    """Skip (fail under CI=true) when Emacs, emacsclient, tmux or the client's package is missing."""
    missing = [tool for tool in ("emacs", "emacsclient", "tmux") if shutil.which(tool) is None]
    if not any(p.name.startswith(PACKAGES[client]) for p in (ELPA.iterdir() if ELPA.is_dir() else [])):
        missing.append(f"{client} in {ELPA}")
    if missing:
        reason = f"missing {', '.join(missing)} ({INSTALL})"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the Emacs tests: {reason}")
        pytest.skip(reason)


class ThreadedFake(_ThreadedFake):
    def __init__(self) -> None:
        super().__init__(KEY, default_delay=0.001)


@pytest.fixture(scope="session")
def fake() -> Iterator[ThreadedFake]:
    server = ThreadedFake()
    yield server
    server.stop()


class EmacsError(AssertionError):
    pass


class Emacs:
    """One interactive Emacs in its own tmux server; `eval` returns the value of an expression."""

    def __init__(self, client: str, sockets: Path, workdir: Path, env: dict[str, str]) -> None:
        self.client = client
        self.sockets = sockets
        self.workdir = workdir
        self.env = env
        self.tmux_socket = str(sockets / "tmux")
        self.emacs_socket = str(sockets / "emacs")

    # -- talking to Emacs --------------------------------------------------------------------
    def _client(self, expr: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["emacsclient", "-s", self.emacs_socket, "--eval", expr],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )

    def eval(self, expr: str, timeout: float = 15) -> Any:
        """The value of the Lisp expression `expr`, through JSON."""
        done = self._client(f"(ds-test-json {expr})", timeout)
        if done.returncode != 0:
            raise EmacsError(f"{expr} failed: {done.stderr.strip() or done.stdout.strip()}\n{self.report()}")
        printed = done.stdout.strip()
        if not (printed.startswith('"') and printed.endswith('"')):
            raise EmacsError(f"{expr}: unexpected answer {printed!r}")
        return json.loads(base64.b64decode(printed[1:-1]).decode("utf-8"))

    def wait(self, expr: str, timeout: float = 10, what: str | None = None) -> Any:
        """Poll `expr` until its value is truthy; that value, or a failure at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expr)
            if value:
                return value
            if time.monotonic() > deadline:
                raise EmacsError(f"timed out waiting for {what or expr}\n{self.report()}")
            time.sleep(0.02)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], Any], timeout: float = 10, what: str = ""
    ) -> Any:
        """Poll the harness's state until `predicate(state)` is truthy; returns the state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise EmacsError(f"timed out waiting for {what or predicate}\n{self.report(state)}")
            time.sleep(0.02)

    def state(self) -> dict[str, Any]:
        return dict(self.eval("(ds-test-state)"))

    def keys(self, *keys: str) -> None:
        """Type on the terminal: tmux key names (`y`, `Enter`, `C-g`)."""
        subprocess.run(["tmux", "-S", self.tmux_socket, "send-keys", *keys], check=True, env=self.env)

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.tmux_socket, "capture-pane", "-p"],
            capture_output=True,
            text=True,
            env=self.env,
        )
        return done.stdout

    def wait_screen(self, text: str, timeout: float = 10) -> str:
        """Until the terminal shows `text` (a line of it: long lines wrap); the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise EmacsError(f"timed out waiting for the screen to show {text!r}\n{self.report()}")
            time.sleep(0.02)

    def report(self, state: dict[str, Any] | None = None) -> str:
        """What a failing test shows: the screen and the end of *Messages*."""
        if state is None:
            try:
                done = self._client("(ds-test-json (ds-test-state))", 5)
                printed = done.stdout.strip()
                state = json.loads(base64.b64decode(printed[1:-1])) if done.returncode == 0 else None
            except Exception:
                state = None
        parts = [f"--- screen ---\n{self.screen().rstrip()}"]
        if state:
            parts.append(f"--- *Messages* (end) ---\n{state['messages'][-3000:]}")
            if state["warnings"]:
                parts.append(f"--- *Warnings* ---\n{state['warnings']}")
            parts.append(f"--- prompts: {state['prompts']}")
        return "\n".join(parts)

    # -- what the tests do ---------------------------------------------------------------------
    def code_action(self, first: int, last: int, title: str) -> None:
        """Select lines `first`..`last` (1-based) and pick `title` in the client's code action menu."""
        self.eval(f"(ds-test-code-action {first} {last} {json.dumps(title)})")

    def wait_jobs_done(self, timeout: float = 15) -> None:
        """Until the server runs no job (asked with deepseek.status, through the client)."""
        self.wait("(zerop (ds-test-jobs))", timeout=timeout, what="the server's jobs to end")

    def server_messages(self, state: dict[str, Any] | None = None) -> list[str]:
        """The server's window/showMessage texts, as the client wrote them in *Messages*."""
        text = (state or self.state())["messages"]
        marker = (
            r"\[eglot\] Server reports \(type=\d\): "
            if self.client == "eglot"
            else r"LSP :: (?:\[deepseek-lsp\] )?"
        )
        starts = list(re.finditer(marker, text))
        out = []
        for i, m in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            out.append(text[m.end() : end].rstrip("\n"))
        return out


ERROR_PATTERNS = (
    "error in process filter",
    "error in process sentinel",
    "Unknown notification",
    "unknown notification",
    "Server reports (type=1)",
    "Server reports (type=2)",
    "(warning)",
    "Debugger entered",
    "Error running timer",
)


def problems(messages: str) -> list[str]:
    """The lines of *Messages* that report an error or a warning."""
    return [line for line in messages.splitlines() if any(p in line for p in ERROR_PATTERNS)]


def start_emacs(
    client: str, fake: ThreadedFake, tmp_path: Path, files: dict[str, str], visit: str
) -> Iterator[Emacs]:
    """Emacs visiting `visit` (one of `files`, written to a fresh folder), connected to deepseek-lsp."""
    require_editor(client)
    home = tmp_path / "home"
    work = tmp_path / "work"
    for d in (home, work, home / ".emacs.d"):
        d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    sockets = Path(tempfile.mkdtemp(prefix="dse-", dir="/tmp"))  # short: socket paths are limited
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "DEEPSEEK_API_KEY": KEY,
        "DEEPSEEK_BASE_URL": fake.base_url,
        "DEEPSEEK_MODEL": "deepseek-chat",
        "DEEPSEEK_LSP_DATA_DIR": str(home / "deepseek-data"),
        "DEEPSEEK_LSP_STATE_DIR": str(home / "deepseek-state"),
        "DEEPSEEK_LSP_CACHE_DIR": str(home / "deepseek-cache"),
        "DEEPSEEK_LSP_NO_CODE_CACHE": "1",
        "DEEPSEEK_LSP_TOKENIZER": "estimate",  # 0.25 s of CPU less per server (see tokens.py)
        "DS_TEST_CLIENT": client,
        "DS_TEST_SNIPPET": str(SNIPPETS / f"{client}.el"),
        "DS_TEST_SOCKET": str(sockets / "emacs"),
        "DS_TEST_STUB": f"{sys.executable} {STUB}",
    }
    emacs = Emacs(client, sockets, work, env)
    tmux = ["tmux", "-S", emacs.tmux_socket, "-f", "/dev/null"]
    terminal = ["new-session", "-d", "-x", "120", "-y", "40", "-c", str(work)]  # a 120x40 terminal
    command = ["emacs", "-nw", "-Q", "-l", str(HARNESS), str(work / visit)]
    subprocess.run([*tmux, *terminal, "--", *command], check=True, env=env)
    # the pane's Emacs: ended by pid at the end if kill-emacs and kill-server did not end it
    shown = subprocess.run(
        ["tmux", "-S", emacs.tmux_socket, "display-message", "-p", "#{pane_pid}"],
        capture_output=True,
        text=True,
        env=env,
    )
    pids: list[int] = [int(shown.stdout)] if shown.stdout.strip().isdigit() else []
    try:
        deadline = time.monotonic() + 15
        while (probe := emacs._client("t", 5)).returncode != 0:
            if time.monotonic() > deadline:
                raise EmacsError(f"Emacs did not start its server: {probe.stderr}\n{emacs.screen()}")
            time.sleep(0.02)
        emacs.wait("(ds-test-connected)", timeout=20, what=f"{client} to connect to deepseek-lsp")
        yield emacs
    finally:
        with contextlib.suppress(Exception):
            pids += list(emacs.eval("(ds-test-server-pids)", timeout=5))  # the language servers
        with contextlib.suppress(Exception):
            emacs._client("(kill-emacs 0)", 5)
        subprocess.run(["tmux", "-S", emacs.tmux_socket, "kill-server"], capture_output=True, env=env)
        _reap(pids)
        shutil.rmtree(sockets, ignore_errors=True)


def _reap(pids: list[int], timeout: float = 5) -> None:
    """Wait for Emacs and the language servers it started to end; kill any that linger."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is gone for our purposes
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


__all__ = ["KEY", "Emacs", "Reply", "ThreadedFake", "problems", "require_editor", "start_emacs"]
