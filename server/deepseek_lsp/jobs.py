"""Jobs: every request to DeepSeek runs as one, as docs/protocol.md's "Jobs and cancellation" says.

A job numbers its `deepseek/stream` notifications (`seq` from 0, no gaps) and ends exactly once.
The registry keeps a strong reference to every running task (asyncio only keeps weak ones)
and is the one place that cancels. Sending is delegated to a `JobHost`, so this module knows
nothing of pygls and can be tested alone.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .errors import DeepSeekError
from .limits import too_many_jobs

log = logging.getLogger(__name__)

State = Literal["streaming", "review", "done", "cancelled", "failed"]
FINAL_STATES = frozenset({"done", "cancelled", "failed"})


class JobHost(Protocol):
    """What a job needs from the outside world (the LSP glue, or a test double)."""

    def send_stream(self, payload: dict[str, Any]) -> None: ...
    def progress_begin(self, job: Job) -> None: ...
    def progress_report(self, job: Job, message: str) -> None: ...
    def progress_end(self, job: Job, message: str) -> None: ...
    def show_error(self, message: str) -> None: ...


@dataclass
class Job:
    id: str
    kind: str
    host: JobHost
    uri: str | None = None
    range: dict[str, Any] | None = None
    title: str = "DeepSeek"
    state: State = "streaming"
    seq: int = 0
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    error: DeepSeekError | None = None
    started: float = field(default_factory=time.monotonic)
    request_id: int | str | None = None
    progress_token: str | None = None
    task: asyncio.Task[None] | None = None
    data: dict[str, Any] = field(default_factory=dict)  # feature-owned state (e.g. a rewrite's original text)
    _first: bool = True

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def text(self) -> str:
        return "".join(self.content)

    def emit(self, *, content: str | None = None, reasoning: str | None = None, **extra: Any) -> None:
        """Send one `deepseek/stream` notification; deltas are kept so the full text is known."""
        if self.finished:
            return
        if content:
            self.content.append(content)
        if reasoning:
            self.reasoning.append(reasoning)
        self._send(content=content or None, reasoning=reasoning or None, **extra)
        if content or reasoning:
            self.host.progress_report(self, "Writing…" if self.content else "Thinking…")

    def review(self, **extra: Any) -> None:
        """A rewrite waiting for accept/reject: state `review`, not yet done."""
        self.state = "review"
        self._send(**extra)
        self.host.progress_end(self, END_MESSAGES["review"])  # waiting for the user is not work

    def finish(
        self,
        state: Literal["done", "cancelled", "failed"],
        *,
        finish_reason: str | None = None,
        error: DeepSeekError | None = None,
        **extra: Any,
    ) -> None:
        """The single `done: true` notification; later calls are ignored."""
        if self.finished:
            return
        self.state = state
        self.error = error
        self._send(done=True, finishReason=finish_reason, error=error.to_json() if error else None, **extra)
        self.host.progress_end(self, END_MESSAGES[state])

    def _send(self, done: bool = False, **fields: Any) -> None:
        payload: dict[str, Any] = {
            "jobId": self.id,
            "kind": self.kind,
            "seq": self.seq,
            "state": self.state,
            "done": done,
        }
        if self.uri is not None:
            payload["uri"] = self.uri
        if self.range is not None:
            payload["range"] = self.range
        if done and self.usage is not None:
            payload["usage"] = self.usage
        payload.update((k, v) for k, v in fields.items() if v is not None)
        self.seq += 1
        self.host.send_stream(payload)

    def to_status(self) -> dict[str, Any]:
        return {
            "jobId": self.id,
            "kind": self.kind,
            "state": self.state,
            "uri": self.uri,
            "elapsed": round(time.monotonic() - self.started, 3),
        }


# What a job's work-done progress says when it ends (a rewrite in review is not work either).
END_MESSAGES = {
    "done": "Done",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "review": "Review: accept or reject",
}

Runner = Callable[[Job], Awaitable[None]]


class JobRegistry:
    """Starts, finds and cancels jobs; remembers the last finished ones (hover, accept, status)."""

    def __init__(
        self, host: JobHost, keep_finished: int = 64, max_running: Callable[[], int | None] | None = None
    ) -> None:
        self.host = host
        self._ids = itertools.count(1)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._keep = keep_finished
        self._tasks: set[asyncio.Task[None]] = set()
        # How many jobs may stream at once (`deepseek.maxConcurrentJobs`), read at each start.
        self.max_running = max_running

    def start(
        self,
        kind: str,
        runner: Runner,
        *,
        uri: str | None = None,
        range: dict[str, Any] | None = None,
        title: str = "DeepSeek",
        request_id: int | str | None = None,
    ) -> Job:
        job = Job(
            id=f"j{next(self._ids)}",
            kind=kind,
            host=self.host,
            uri=uri,
            range=range,
            title=title,
            request_id=request_id,
        )
        limit = self.max_running() if self.max_running is not None else None
        streaming = sum(1 for j in self._jobs.values() if j.state == "streaming")
        self._jobs[job.id] = job
        self._trim()
        work = self._run(job, runner)
        if limit is not None and streaming >= limit:
            work.close()  # never started: refused at once, on the next turn of the loop
            work = self._refuse(job, too_many_jobs(streaming, limit))
        job.task = asyncio.get_running_loop().create_task(work, name=job.id)
        self._tasks.add(job.task)
        job.task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job, runner: Runner) -> None:
        self.host.progress_begin(job)
        try:
            await runner(job)
        except asyncio.CancelledError:
            job.finish("cancelled", error=DeepSeekError("cancelled"))
        except DeepSeekError as err:
            job.finish("failed", error=err)
            if err.code not in ("cancelled",):
                self.host.show_error(f"DeepSeek {job.kind} failed: {err.message}")
        except Exception as exc:  # a bug of ours: the job still ends, once, and says so
            log.exception("job %s crashed", job.id)
            crash = DeepSeekError(
                "server_error",
                f"Internal error in deepseek-lsp: {type(exc).__name__}. See the server log.",
            )
            job.finish("failed", error=crash)
            self.host.show_error(f"DeepSeek {job.kind} failed: {crash.message}")
        else:
            if job.state == "streaming":
                job.finish("done")

    async def _refuse(self, job: Job, err: DeepSeekError) -> None:
        """End a job that may not run, after its command's response (a task, not a direct call)."""
        job.finish("failed", error=err)
        self.host.show_error(f"DeepSeek {job.kind} refused: {err.message}")

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def by_request(self, request_id: int | str) -> Job | None:
        return next((j for j in self._jobs.values() if j.request_id == request_id), None)

    def cancel(self, job_id: str) -> bool:
        """Cancel a running job; its task's CancelledError closes the HTTP stream at once."""
        job = self._jobs.get(job_id)
        if job is None or job.finished or job.task is None or job.task.done():
            return False
        job.task.cancel()
        return True

    def running(self) -> list[Job]:
        return [j for j in self._jobs.values() if not j.finished]

    def latest(self, kind: str | None = None) -> list[Job]:
        """Newest first."""
        return [j for j in reversed(self._jobs.values()) if kind is None or j.kind == kind]

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.finished]
        for key in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[key]

    async def cancel_all(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
