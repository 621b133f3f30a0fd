"""The job registry alone, with a recording host: seq, single end, cancellation, crashes."""

from __future__ import annotations

import asyncio
from typing import Any

from deepseek_lsp.errors import DeepSeekError
from deepseek_lsp.jobs import Job, JobRegistry


class Host:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.progress: list[tuple[str, str]] = []

    def send_stream(self, payload: dict[str, Any]) -> None:
        self.sent.append(payload)

    def progress_begin(self, job: Job) -> None:
        self.progress.append((job.id, "begin"))

    def progress_report(self, job: Job, message: str) -> None:
        self.progress.append((job.id, message))

    def progress_end(self, job: Job, message: str) -> None:
        self.progress.append((job.id, "end:" + message))

    def show_error(self, message: str) -> None:
        self.errors.append(message)


async def test_seq_without_gaps_and_one_done() -> None:
    host = Host()
    jobs = JobRegistry(host)

    async def run(job: Job) -> None:
        job.emit(content="a")
        job.emit(reasoning="r")
        job.emit(content="b")
        job.finish("done", finish_reason="stop")
        job.finish("failed")  # ignored: a job ends once

    job = jobs.start("explain", run, uri="file:///x", range={"start": {}, "end": {}})
    assert job.task is not None
    await job.task
    assert [p["seq"] for p in host.sent] == [0, 1, 2, 3]
    assert [p["done"] for p in host.sent] == [False, False, False, True]
    assert host.sent[-1]["finishReason"] == "stop" and job.text == "ab"
    assert host.progress[0] == (job.id, "begin") and host.progress[-1] == (job.id, "end:Done")


async def test_cancel_running_job() -> None:
    host = Host()
    jobs = JobRegistry(host)
    started = asyncio.Event()

    async def run(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    job = jobs.start("chat", run)
    await started.wait()
    assert jobs.cancel(job.id) is True
    assert job.task is not None
    await asyncio.gather(job.task, return_exceptions=True)
    assert job.state == "cancelled" and host.sent[-1]["error"]["code"] == "cancelled"
    assert jobs.cancel(job.id) is False and host.errors == []


async def test_errors_and_crashes_end_the_job_and_tell_the_user() -> None:
    host = Host()
    jobs = JobRegistry(host)

    async def fails(job: Job) -> None:
        raise DeepSeekError("rate_limited")

    async def crashes(job: Job) -> None:
        raise KeyError("bug")

    for runner in (fails, crashes):
        job = jobs.start("explain", runner)
        assert job.task is not None
        await job.task
        assert job.state == "failed"
    assert [p["error"]["code"] for p in host.sent] == ["rate_limited", "server_error"]
    assert len(host.errors) == 2 and "KeyError" in host.errors[1]


async def test_review_state_is_not_done() -> None:
    host = Host()
    jobs = JobRegistry(host)

    async def run(job: Job) -> None:
        job.emit(content="x")
        job.review()

    job = jobs.start("rewrite", run)
    assert job.task is not None
    await job.task
    assert job.state == "review" and not job.finished
    assert host.sent[-1] == {**host.sent[-1], "state": "review", "done": False}
    job.finish("done")
    assert host.sent[-1]["done"] is True and [p["seq"] for p in host.sent] == [0, 1, 2]


async def test_jobs_over_the_limit_are_refused_at_once() -> None:
    host = Host()
    limit = [2]
    jobs = JobRegistry(host, max_running=lambda: limit[0])
    hold = asyncio.Event()
    ran: list[str] = []

    async def run(job: Job) -> None:
        ran.append(job.id)
        await hold.wait()
        job.finish("done")

    first, second = jobs.start("explain", run), jobs.start("explain", run)
    refused = jobs.start("explain", run)
    assert refused.task is not None
    await refused.task
    assert refused.state == "failed" and refused.error is not None and refused.error.code == "bad_request"
    assert "2 DeepSeek requests are already running" in refused.error.message
    assert "deepseek.maxConcurrentJobs allows 2" in refused.error.message
    assert host.errors == [f"DeepSeek explain refused: {refused.error.message}"]
    assert refused.id not in ran and (refused.id, "begin") not in host.progress  # never started
    assert [p["seq"] for p in host.sent if p["jobId"] == refused.id] == [0]  # one final notification

    limit[0] = 3  # the setting is read at each start
    third = jobs.start("explain", run)
    hold.set()
    for job in (first, second, third):
        assert job.task is not None
        await job.task
        assert job.state == "done"


async def test_jobs_in_review_do_not_count_against_the_limit() -> None:
    host = Host()
    jobs = JobRegistry(host, max_running=lambda: 1)

    async def review(job: Job) -> None:
        job.review()

    async def done(job: Job) -> None:
        job.finish("done")

    waiting = jobs.start("rewrite", review)
    assert waiting.task is not None
    await waiting.task
    assert waiting.state == "review"
    job = jobs.start("explain", done)
    assert job.task is not None
    await job.task
    assert job.state == "done"


async def test_no_limit_by_default() -> None:
    jobs = JobRegistry(Host())
    hold = asyncio.Event()

    async def run(job: Job) -> None:
        await hold.wait()

    started = [jobs.start("chat", run) for _ in range(50)]
    assert len(jobs.running()) == 50
    hold.set()
    await asyncio.gather(*(j.task for j in started if j.task is not None))
    assert all(j.state == "done" for j in started)
