"""The pygls glue: the server object, settings plumbing, progress, cancellation.

Features live in `features/`; each registers its own handlers. Everything here is protocol
plumbing that the pure modules cannot do themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import urlsplit

from cattrs import transform_error
from cattrs.v import format_exception
from lsprotocol import types
from pygls.exceptions import (
    FeatureRequestError,
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    RPCRequest,
)
from pygls.protocol.language_server import lsp_method

from . import __version__, documents, tokens
from .features.common import LspDiagnostic
from .framing import End, Message, MessageReader, Skipped
from .jobs import END_MESSAGES, Job
from .logs import CallbackHandler
from .positions import Encoding, Pos, line_starts, range_offsets
from .presentation import ClientFacts, Presentation, decide
from .services import Services

if TYPE_CHECKING:
    from .client import DeepSeekClient

log = logging.getLogger(__name__)

STREAM = "deepseek/stream"
VIEW_TIMEOUT = 10.0  # seconds a job's document may take to be completed before its progress ends
_MESSAGE_TYPES = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}


# What a client should have sent, for the messages clients most often get wrong.
_EXPECTED = {
    types.WORKSPACE_EXECUTE_COMMAND: '{"command": "deepseek.<name>", "arguments": [{...}]}',
    types.TEXT_DOCUMENT_CODE_ACTION: '{"textDocument": {"uri"}, "range", "context": {"diagnostics": []}}'
    " with line and character integers >= 0",
    types.TEXT_DOCUMENT_HOVER: '{"textDocument": {"uri"}, "position": {"line", "character"}}'
    " with integers >= 0",
}


@dataclass(frozen=True)
class Unreadable:
    """A JSON-RPC message whose params (or result) do not fit the LSP types; `reason` says why."""

    data: dict[str, Any]
    reason: str

    @property
    def method(self) -> str | None:
        method = self.data.get("method")
        return method if isinstance(method, str) else None


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _camel(segment: str) -> str:
    head, *rest = segment.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _describe(exc: Exception) -> str:
    """cattrs' structuring errors, as a client author reads them: `params.range.start: ...`."""

    def fmt(err: BaseException, typ: Any) -> str:
        if type(err) is ValueError:  # lsprotocol's validators, e.g. a negative line
            return str(err).rstrip(".")
        if typ is not None and isinstance(err, TypeError | AttributeError | ValueError):
            return f"expected {getattr(typ, '__name__', typ)}"
        return format_exception(err, typ)

    try:
        problems = transform_error(exc, path="$", format_exception=fmt)
    except Exception:
        return type(exc).__name__
    out = []
    for problem in problems:
        message, sep, path = problem.rpartition(" @ ")
        if not sep:
            out.append(problem)
            continue
        path = ".".join(_camel(p) for p in path.removeprefix("$").removeprefix(".").split("."))
        out.append(f"{path or 'message'}: {message}")
    return "; ".join(out)


class DeepSeekProtocol(LanguageServerProtocol):
    """pygls's protocol, made strict where the LSP spec is and robust where clients are not.

    Requests before `initialize` get ServerNotInitialized, requests after `shutdown` get
    InvalidRequest (notifications then are dropped, except `exit`), a request whose params do
    not fit the LSP types gets InvalidParams (pygls never answers it), and a handler's crash is
    answered without a traceback. `$/cancelRequest` for an executeCommand that already answered
    cancels its job.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_received = False
        self.shutdown_received = False
        self.exit_code: int | None = None  # set by `exit` when our own stdio loop runs
        self.own_loop = False

    # -- decoding ----------------------------------------------------------------------------
    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls's, except that a message that does not fit becomes `Unreadable` (answered),
        not an exception that its read loop logs and forgets."""
        if "jsonrpc" not in data:
            return data
        try:
            if "id" in data:
                if "error" in data:
                    return self._converter.structure(data, types.ResponseErrorMessage)
                if "method" in data:
                    kind = self.get_message_type(data["method"]) or JsonRPCRequestMessage
                    return self._converter.structure(data, kind)
                kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                return self._converter.structure(data, kind)
            kind = self.get_message_type(data.get("method", "")) or JsonRPCNotification
            return self._converter.structure(data, kind)
        except Exception as exc:
            if data.get("params") is None and "method" in data:
                missing = "null" if "params" in data else "missing"
                return Unreadable(data, f"params is {missing}, an object is required")
            return Unreadable(data, _describe(exc))

    def dispatch(self, payload: Any) -> None:
        """One decoded JSON value from the stream: check the envelope, then handle it."""
        if not isinstance(payload, dict):
            log.warning("ignored a message that is not a JSON object (%s)", type(payload).__name__)
            self._send_error(None, JsonRpcInvalidRequest("Invalid request: a message must be a JSON object."))
            return
        method, msg_id = payload.get("method"), payload.get("id")
        if payload.get("jsonrpc") != "2.0" or (method is not None and not isinstance(method, str)):
            log.warning("ignored a message that is not JSON-RPC 2.0")
            if method is not None and "id" in payload:
                self._send_error(
                    msg_id if _valid_id(msg_id) else None,
                    JsonRpcInvalidRequest(
                        'Invalid request: expected {"jsonrpc": "2.0", "id", "method": string}.'
                    ),
                )
            return
        if "id" in payload and not _valid_id(msg_id) and method is not None:
            self._send_error(
                None, JsonRpcInvalidRequest("Invalid request: the id must be a string or an integer.")
            )
            return
        self.handle_message(self.structure_message(payload))

    # -- the lifecycle -----------------------------------------------------------------------
    def handle_message(self, message: Any) -> None:
        data = message.data if isinstance(message, Unreadable) else None
        method: str | None = (
            message.method if isinstance(message, Unreadable) else getattr(message, "method", None)
        )
        is_request = isinstance(message, RPCRequest) or (
            data is not None and "id" in data and method is not None
        )
        msg_id = data.get("id") if data is not None else getattr(message, "id", None)
        if method == types.EXIT:
            self.exit_code = 0 if self.shutdown_received else 1
            if self.own_loop:
                return  # the read loop stops and the process ends with exit_code
        elif method is not None and not self.initialize_received:
            if method == types.INITIALIZE and is_request:
                # a malformed initialize is answered InvalidParams below, and changes nothing
                self.initialize_received = not isinstance(message, Unreadable)
            elif is_request:
                log.info("refused %s: the server is not initialized yet", method)
                self._send_error(
                    msg_id,
                    JsonRpcServerNotInitialized(
                        f"deepseek-lsp is not initialized: send `initialize` before {method}."
                    ),
                )
                return
            else:
                log.debug("dropped %s: the server is not initialized yet", method)
                return
        elif method is not None and self.shutdown_received:
            if is_request:
                self._send_error(
                    msg_id,
                    JsonRpcInvalidRequest(
                        f"deepseek-lsp is shutting down (shutdown was received): {method} is refused; "
                        "only `exit` is accepted now."
                    ),
                )
            return
        elif method == types.INITIALIZE and is_request:
            self._send_error(msg_id, JsonRpcInvalidRequest("deepseek-lsp is already initialized."))
            return
        if method == types.SHUTDOWN and is_request:
            self.shutdown_received = True
        if isinstance(message, Unreadable):
            self._unreadable(message, is_request)
            return
        super().handle_message(message)

    def _unreadable(self, message: Unreadable, is_request: bool) -> None:
        data, method = message.data, message.method
        if is_request and method is not None:
            expected = _EXPECTED.get(method)
            hint = f" Expected params {expected}." if expected else ""
            log.info("refused %s: invalid params: %s", method, message.reason)
            self._send_error(
                data["id"], JsonRpcInvalidParams(f"Invalid params for {method}: {message.reason}.{hint}")
            )
        elif method is None and "id" in data:  # the client's answer to one of our requests
            log.warning("the client's response to request %s is malformed: %s", data["id"], message.reason)
            future = self._request_futures.pop(data["id"], None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcInternalError(f"malformed response: {message.reason}"))
        else:
            log.warning("ignored %s: invalid params: %s", method, message.reason)

    def _send_error(self, msg_id: Any, error: JsonRpcException) -> None:
        if msg_id is None:  # JSON-RPC: an error that cannot name its request carries "id": null
            self._send_data(
                {"jsonrpc": "2.0", "id": None, "error": {"code": error.code, "message": error.message}}
            )
        else:
            self._send_response(msg_id, error=error.to_response_error())

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        """Errors in one clear line: a handler's JsonRpcException as it is (no traceback in the
        log), anything else as an internal error without pygls's traceback in the answer."""
        exc = None if future.cancelled() else future.exception()
        if exc is None:
            super()._send_handler_result(future, msg_id=msg_id)
            return
        self._request_futures.pop(msg_id, None)
        if isinstance(exc, JsonRpcException):
            log.info("request %s refused: %s", msg_id, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
            return
        log.error("request %s failed", msg_id, exc_info=exc)
        self._send_response(
            msg_id,
            error=types.ResponseError(
                code=JsonRpcInternalError.CODE,
                message=f"Internal error in deepseek-lsp ({type(exc).__name__}); see the server log.",
            ),
        )

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        """pygls's, plus the LSP 3.18 capabilities its builder does not know yet:
        `workspace.textDocumentContent` (the schemes a feature serves), for clients that read it."""
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        options = self.fm.feature_options.get(types.WORKSPACE_TEXT_DOCUMENT_CONTENT)
        ws = params.capabilities.workspace
        if options is not None and ws is not None and ws.text_document_content is not None:
            if result.capabilities.workspace is None:
                result.capabilities.workspace = types.WorkspaceOptions()
            result.capabilities.workspace.text_document_content = options
        return result

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Generator[Any, Any, Any]:
        """pygls's, with an unknown command's error naming the commands there are."""
        if params.command not in self.fm.commands:
            known = ", ".join(sorted(self.fm.commands))
            raise JsonRpcInvalidParams(f"Unknown command {params.command!r}; the commands are: {known}.")
        return (yield from super().lsp_workspace__execute_command(params))

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        if not _valid_id(msg_id):
            log.warning("ignored $/cancelRequest: its id is not a string or an integer")
            return
        server = self._server
        if isinstance(server, DeepSeekLanguageServer):
            job = server.services.jobs.by_request(msg_id)
            if job is not None:
                server.services.jobs.cancel(job.id)
                return
        super()._handle_cancel_notification(msg_id)


class JobView(Protocol):
    """A kind of job's text as a document, for clients without our renderer (explain's)."""

    def update(self, job: Job, presentation: Presentation) -> None: ...

    async def finish(self, job: Job, presentation: Presentation) -> str | None:
        """The job ended: complete the document; returns what the end message adds (None: the
        view already said all, or nothing was shown)."""
        ...

    def show_again(self, job: Job, presentation: Presentation) -> None: ...


class LspJobHost:
    """Sends what jobs produce, routed by the client's presentation (the one place that does):
    `deepseek/stream` to clients that render it, documents and messages to every other client,
    work-done progress where offered, error messages to all."""

    def __init__(self, ls: DeepSeekLanguageServer) -> None:
        self.ls = ls
        self._last_report: dict[str, float] = {}  # jobs whose progress has begun -> last report
        self.views: dict[str, JobView] = {}  # job kind -> its documents (features add theirs)

    def _view(self, job: Job | None, presentation: Presentation) -> JobView | None:
        if job is None or not presentation.explain_document:
            return None
        return self.views.get(job.kind)

    def send_stream(self, payload: dict[str, Any]) -> None:
        presentation = self.ls.presentation
        if presentation.stream:
            self.ls.protocol.notify(STREAM, payload)
            return
        job = self.ls.services.jobs.get(str(payload.get("jobId")))
        view = self._view(job, presentation)
        if view is not None and job is not None:
            view.update(job, presentation)

    def show_again(self, job: Job) -> None:
        """The user asked again for what `job` is already doing: show its document again."""
        presentation = self.ls.presentation
        view = self._view(job, presentation)
        if view is not None:
            view.show_again(job, presentation)

    def show_error(self, message: str) -> None:
        self.ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))

    def show_info(self, message: str) -> None:
        self.ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=message))

    def _upstream(self) -> str:
        """Who the job waits for, for people: `deepseek-chat at api.deepseek.com`."""
        services = self.ls.services
        host = urlsplit(services.settings.base_url).netloc or services.settings.base_url
        return f"{services.current_model or 'DeepSeek'} at {host}"

    def _waiting(self) -> str:
        """The progress message until text flows: DeepSeek, or the other server by its host."""
        profile = self.ls.services.profile
        return "Waiting for DeepSeek" if profile.deepseek else f"Waiting for {profile.host}"

    def progress_begin(self, job: Job) -> None:
        presentation = self.ls.presentation
        if presentation.messages:  # no progress to show that something happens
            self.show_info(f"{job.title} — waiting for {self._upstream()}…")
        if not presentation.progress:
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
            types.WorkDoneProgressBegin(title=job.title, cancellable=True, message=self._waiting()),
        )
        future = self.ls.work_done_progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: f.cancelled() and self.ls.services.jobs.cancel(job.id))
        self._last_report[job.id] = 0.0
        if job.finished or job.state == "review":  # it ended (or waits) before the client acknowledged
            self._progress_end(job, END_MESSAGES[job.state])

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
        """The job ended (or waits for review): complete its document, then end its progress
        and tell a client without progress, unless it failed (its error was shown already)."""
        presentation = self.ls.presentation
        view = self._view(job, presentation)
        if view is not None and job.finished:
            self.ls.background(self._end_view(job, view, message, presentation))
            return
        self._progress_end(job, message)
        if presentation.messages and job.state != "failed":
            self.show_info(f"{job.title} — {message[:1].lower()}{message[1:]}")

    async def _end_view(self, job: Job, view: JobView, message: str, presentation: Presentation) -> None:
        """Nobody is told the job ended before its document says so too."""
        try:
            note = await asyncio.wait_for(view.finish(job, presentation), VIEW_TIMEOUT)
        except Exception:  # a document that cannot be completed must not keep progress going
            log.warning("could not complete the %s document of %s", job.kind, job.id, exc_info=True)
            note = None
        self._progress_end(job, message)
        if note is not None and presentation.messages and job.state != "failed":
            self.show_info(f"{job.title} — {note}")

    def _progress_end(self, job: Job, message: str) -> None:
        if job.progress_token and self._last_report.pop(job.id, None) is not None:
            self.ls.work_done_progress.end(job.progress_token, types.WorkDoneProgressEnd(message=message))
            self.ls.work_done_progress.tokens.pop(job.progress_token, None)


class DeepSeekLanguageServer(LanguageServer):
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__("deepseek-lsp", __version__, protocol_cls=DeepSeekProtocol)
        self.services = Services(host=LspJobHost(self), env=env)
        self.services.jobs.max_running = lambda: self.services.settings.max_concurrent_jobs
        self._reported: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._warming = False
        self.diagnostics: dict[str, list[LspDiagnostic]] = {}  # from code action requests
        self.recent_uris: list[str] = []  # least recently edited first
        self.change_listeners: list[Callable[[types.DidChangeTextDocumentParams], None]] = []
        self.initialized_hooks: list[Callable[[], Coroutine[Any, Any, Any]]] = []  # run after `initialized`
        # run at `initialize` once its settings are applied, before the capabilities are built
        self.initialize_hooks: list[Callable[[], None]] = []
        self.settings_listeners: list[Callable[[], None]] = []  # run after settings changed
        self.client_info: types.ClientInfo | None = None  # from `initialize` (pygls keeps none)
        self._presentation: tuple[types.ClientCapabilities, Any, Presentation] | None = None

    @property
    def job_host(self) -> LspJobHost:
        host = self.services.host
        assert isinstance(host, LspJobHost)
        return host

    # -- the stdio transport ----------------------------------------------------------------
    def serve_stdio(self, stdin: BinaryIO, stdout: BinaryIO) -> int:
        """Serve LSP over stdio until `exit` or the end of stdin; returns the exit status.

        Instead of pygls's read loop (deaf after a bad header, see `framing`): bad frames are
        skipped with one log line and reading goes on at the next frame; `exit` ends the process
        with 0 after `shutdown`, 1 without; the end of stdin ends it too (1 without `shutdown`).
        """
        protocol = self.protocol
        assert isinstance(protocol, DeepSeekProtocol)
        protocol.own_loop = True
        self._stop_event = threading.Event()
        protocol.set_writer(StdoutWriter(stdout))
        try:
            return asyncio.run(self._read_loop(MessageReader(stdin), protocol))
        except BrokenPipeError:
            log.error("the client closed its end of stdout; exiting")
            return 1
        except KeyboardInterrupt:
            return 1
        finally:
            self.shutdown()

    async def _read_loop(self, reader: MessageReader, protocol: DeepSeekProtocol) -> int:
        loop = asyncio.get_running_loop()
        executor = self.thread_pool
        while protocol.exit_code is None:
            event = await loop.run_in_executor(executor, reader.read)
            if isinstance(event, Message):
                try:
                    protocol.dispatch(event.payload)
                except Exception:  # a bug of ours with one message must not end the session
                    log.exception("could not handle a message from the client")
            elif isinstance(event, Skipped):
                log.warning("bad input from the client: %s; reading on at the next message", event.reason)
            elif isinstance(event, End):
                code = 0 if protocol.shutdown_received else 1
                if event.reason:
                    log.error("%s; exiting", event.reason)
                elif code:
                    log.warning("the client closed stdin without shutdown and exit; exiting")
                return code
        return protocol.exit_code

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A notification that failed (e.g. didChange for a document never opened) is logged in
        one line, not shown as "Error in server: KeyError" (requests answer their own errors)."""
        if source is FeatureRequestError:
            return
        cause = error.__cause__ or error.__context__ or error
        log.error("could not handle a notification from the client: %s: %s", type(cause).__name__, cause)

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
    def presentation(self) -> Presentation:
        """How jobs reach this client (see `presentation.py`): the one place that decides.

        Decided again only when the capabilities or the settings change (read on every delta).
        """
        caps, settings = self.client_capabilities, self.services.settings
        cached = self._presentation
        if cached is None or cached[0] is not caps or cached[1] is not settings:
            decision = decide(client_facts(caps, self.client_info), settings.presentation)
            if cached is None or cached[2] != decision:
                name = self.client_info.name if self.client_info else "the client"
                log.info("presentation for %s: %s", name, decision.describe())
            cached = self._presentation = (caps, settings, decision)
        return cached[2]

    @property
    def supports_progress(self) -> bool:
        return self.presentation.progress

    @property
    def encoding(self) -> Encoding:
        enc = self.workspace.position_encoding
        value = str(getattr(enc, "value", enc) or "utf-16")
        return value if value in ("utf-8", "utf-16", "utf-32") else "utf-16"  # type: ignore[return-value]

    def offsets(self, text: str, rng: types.Range) -> tuple[int, int]:
        """The range as offsets in `text`; a range outside the document is refused (InvalidParams).

        As the LSP says, a character past a line's end means the line's end; the end may be the
        start of the line after the last one (how editors select to the end of a file). A
        range given backwards (end before start) is taken as it is meant.
        """
        last = len(line_starts(text)) - 1
        for name, p in (("start", rng.start), ("end", rng.end)):
            if p.line < 0 or p.character < 0:
                raise JsonRpcInvalidParams(f"The range's {name} is negative ({p.line}:{p.character}).")
        lines = f"the document has {last + 1:,} line{'s' if last else ''} (0 to {last:,})"
        if min(rng.start.line, rng.end.line) > last or max(rng.start.line, rng.end.line) > last + 1:
            raise JsonRpcInvalidParams(
                f"The range (lines {rng.start.line:,} to {rng.end.line:,}) is outside the document: "
                f"{lines}. Send a range from the document as the editor has it now."
            )
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
        if not problems:
            for listener in list(self.settings_listeners):
                listener()

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


def client_facts(caps: types.ClientCapabilities, info: types.ClientInfo | None = None) -> ClientFacts:
    """The facts `presentation.decide` needs, read off the client's `initialize`."""
    experimental = caps.experimental if isinstance(caps.experimental, Mapping) else {}
    ours = experimental.get("deepseek")
    window, ws, td = caps.window, caps.workspace, caps.text_document
    hover = td.hover if td else None
    formats = hover.content_format if hover else None
    return ClientFacts(
        name=info.name if info else None,
        stream=isinstance(ours, Mapping) and ours.get("stream") is True,
        work_done_progress=bool(window and window.work_done_progress),
        show_document=bool(window and window.show_document and window.show_document.support),
        text_document_content=bool(ws and getattr(ws, "text_document_content", None)),
        hover_markdown=not formats or types.MarkupKind.Markdown in formats,
        apply_edit=not (ws is not None and ws.apply_edit is False),
    )


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
    from .features import chat, code_actions, completion, explain, rewrite, status

    ls = DeepSeekLanguageServer(env)

    @ls.feature(types.INITIALIZE)
    def on_initialize(ls: DeepSeekLanguageServer, params: types.InitializeParams) -> None:
        documents.install(ls.workspace)  # didChange in O(change) (pygls re-splits the whole text)
        ls.client_info = params.client_info
        ls.apply_settings("init", params.initialization_options)
        for hook in ls.initialize_hooks:
            hook()

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
        for hook in ls.initialized_hooks:
            ls.background(hook())

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_config(ls: DeepSeekLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, Mapping) and "deepseek" in settings:
            ls.apply_settings("workspace", settings["deepseek"])
        else:
            await ls.pull_settings()

    @ls.feature(types.SHUTDOWN)
    async def on_shutdown(ls: DeepSeekLanguageServer, params: None) -> None:
        ls.services.shutting_down = True
        await ls.services.aclose()

    for feature in (explain, rewrite, chat, status, code_actions, completion):
        feature.register(ls)
    return ls
