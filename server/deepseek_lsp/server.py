"""The pygls glue: the server object, settings plumbing, progress, cancellation.

Features live in `features/`; each registers its own handlers. Everything here is protocol
plumbing that the pure modules cannot do themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from . import __version__, tokens
from .features.common import LspDiagnostic
from .jobs import Job
from .logs import CallbackHandler
from .positions import Encoding, Pos, range_offsets
from .services import Services

if TYPE_CHECKING:
    from .client import DeepSeekClient

log = logging.getLogger(__name__)

STREAM = "deepseek/stream"
_MESSAGE_TYPES = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}


class DeepSeekProtocol(LanguageServerProtocol):
    """Maps `$/cancelRequest` for an executeCommand that already answered onto its job."""

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        server = self._server
        if isinstance(server, DeepSeekLanguageServer):
            job = server.services.jobs.by_request(msg_id)
            if job is not None:
                server.services.jobs.cancel(job.id)
                return
        super()._handle_cancel_notification(msg_id)


class LspJobHost:
    """Sends what jobs produce: `deepseek/stream`, work-done progress, error messages."""

    def __init__(self, ls: DeepSeekLanguageServer) -> None:
        self.ls = ls
        self._last_report: dict[str, float] = {}  # jobs whose progress has begun -> last report

    def send_stream(self, payload: dict[str, Any]) -> None:
        self.ls.protocol.notify(STREAM, payload)

    def show_error(self, message: str) -> None:
        self.ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))

    def progress_begin(self, job: Job) -> None:
        if not self.ls.supports_progress:
            return
        job.progress_token = f"deepseek-{job.id}"
        self.ls.background(self._begin(job, job.progress_token))

    async def _begin(self, job: Job, token: str) -> None:
        """Progress may begin only once the client acknowledged the token; the job does not wait."""
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(token), 10)
        except Exception:  # a client that refuses progress still gets the stream
            log.debug("workDoneProgress/create failed for %s", job.id)
            return
        self.ls.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(title=job.title, cancellable=True, message="Waiting for DeepSeek"),
        )
        future = self.ls.work_done_progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: f.cancelled() and self.ls.services.jobs.cancel(job.id))
        self._last_report[job.id] = 0.0
        if job.finished:  # it ended before the client acknowledged the token
            self.progress_end(job, "Done" if job.state == "done" else job.state.capitalize())

    def progress_report(self, job: Job, message: str) -> None:
        """At most four reports a second: progress is for people, the stream is for clients."""
        last = self._last_report.get(job.id)
        now = time.monotonic()
        if job.progress_token is None or last is None or now - last < 0.25:
            return
        self._last_report[job.id] = now
        chars = sum(map(len, job.content))
        text = f"{message} {chars:,} characters" if chars else message
        self.ls.work_done_progress.report(job.progress_token, types.WorkDoneProgressReport(message=text))

    def progress_end(self, job: Job, message: str) -> None:
        if job.progress_token and self._last_report.pop(job.id, None) is not None:
            self.ls.work_done_progress.end(job.progress_token, types.WorkDoneProgressEnd(message=message))
            self.ls.work_done_progress.tokens.pop(job.progress_token, None)


class DeepSeekLanguageServer(LanguageServer):
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__("deepseek-lsp", __version__, protocol_cls=DeepSeekProtocol)
        self.services = Services(host=LspJobHost(self), env=env)
        self._reported: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._warming = False
        self.diagnostics: dict[str, list[LspDiagnostic]] = {}  # from code action requests
        self.recent_uris: list[str] = []  # least recently edited first
        self.change_listeners: list[Callable[[types.DidChangeTextDocumentParams], None]] = []

    def background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` without awaiting it, keeping a strong reference until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def warm_up(self) -> None:
        """Load the tokenizer and the HTTP client in a worker thread, once, when the user first
        selects code.

        Not at start: the tokenizer holds ~45 MB for the life of the process and httpx ~6 MB,
        which an idle server (files open, nothing asked) need not carry, and they would slow
        the start; a selection is the sign an action may follow, and the ~0.3 s of loading is
        then over before a menu entry is picked.
        """
        if not self._warming:
            self._warming = True
            self.background(asyncio.to_thread(_warm_up, self.services.client))

    def touch(self, uri: str) -> None:
        if uri in self.recent_uris:
            self.recent_uris.remove(uri)
        self.recent_uris.append(uri)

    # -- client facts -------------------------------------------------------------------
    @property
    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    @property
    def encoding(self) -> Encoding:
        enc = self.workspace.position_encoding
        value = str(getattr(enc, "value", enc) or "utf-16")
        return value if value in ("utf-8", "utf-16", "utf-32") else "utf-16"  # type: ignore[return-value]

    def offsets(self, text: str, rng: types.Range) -> tuple[int, int]:
        return range_offsets(
            text,
            Pos(rng.start.line, rng.start.character),
            Pos(rng.end.line, rng.end.character),
            self.encoding,
        )

    # -- settings -----------------------------------------------------------------------
    def apply_settings(self, layer: str, values: Any) -> None:
        if isinstance(values, Mapping) and isinstance(values.get("deepseek"), Mapping):
            values = values["deepseek"]
        if values is not None and not isinstance(values, Mapping):
            self.report_settings([f"deepseek: expected an object, got {type(values).__name__}"])
            return
        problems = self.services.apply_settings(layer, values)
        if problems:
            self.report_settings(problems)
        logging.getLogger("deepseek_lsp").setLevel(self.services.settings.log_level.upper())

    def report_settings(self, problems: list[str]) -> None:
        text = "; ".join(problems)
        if text in self._reported:
            return  # reported once
        self._reported.add(text)
        log.warning("invalid settings: %s", text)
        self.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Error,
                message=f"deepseek-lsp: invalid setting {text}. Keeping the previous settings.",
            )
        )

    async def pull_settings(self) -> None:
        ws = self.client_capabilities.workspace
        if not (ws and ws.configuration):
            return
        try:
            result = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="deepseek")])
                ),
                10,
            )
        except Exception as exc:
            log.warning("workspace/configuration failed: %s", type(exc).__name__)
            return
        if result and result[0] is not None:
            self.apply_settings("workspace", result[0])

    def log_to_client(self, level: int, message: str) -> None:
        kind = _MESSAGE_TYPES.get(level, types.MessageType.Log)
        self.window_log_message(types.LogMessageParams(type=kind, message=message))


def _warm_up(client: DeepSeekClient) -> None:
    if tokens.warm_up():
        _trim_heap()
    client.warm()


def _trim_heap() -> None:
    """Hand the tokenizer's load-time scratch memory (~20 MB of RSS) back to the OS (glibc)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):  # musl and others lack malloc_trim: keep the memory
            import ctypes

            ctypes.CDLL(None).malloc_trim(0)


def create_server(env: Mapping[str, str] | None = None) -> DeepSeekLanguageServer:
    from .features import chat, code_actions, explain, rewrite, status

    ls = DeepSeekLanguageServer(env)

    @ls.feature(types.INITIALIZE)
    def on_initialize(ls: DeepSeekLanguageServer, params: types.InitializeParams) -> None:
        ls.apply_settings("init", params.initialization_options)

    @ls.feature(types.INITIALIZED)
    async def on_initialized(ls: DeepSeekLanguageServer, params: types.InitializedParams) -> None:
        handler = CallbackHandler(ls.log_to_client)
        handler.setLevel(logging.WARNING)
        logging.getLogger("deepseek_lsp").addHandler(handler)
        ls.services.report_startup()
        ws = ls.client_capabilities.workspace
        dyn = ws.did_change_configuration if ws else None
        if dyn and dyn.dynamic_registration:
            try:
                await ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[
                            types.Registration(
                                id="deepseek-config",
                                method=types.WORKSPACE_DID_CHANGE_CONFIGURATION,
                                register_options={"section": "deepseek"},
                            )
                        ]
                    )
                )
            except Exception:
                log.debug("client/registerCapability failed")
        await ls.pull_settings()

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_config(ls: DeepSeekLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, Mapping) and "deepseek" in settings:
            ls.apply_settings("workspace", settings["deepseek"])
        else:
            await ls.pull_settings()

    @ls.feature(types.SHUTDOWN)
    async def on_shutdown(ls: DeepSeekLanguageServer, params: None) -> None:
        await ls.services.aclose()

    for feature in (explain, rewrite, chat, status, code_actions):
        feature.register(ls)
    return ls
