"""Rewrite: `deepseek.rewrite`, `deepseek.accept`, `deepseek.reject`, and `deepseek.recover`.

`job.py` streams the new code into the document and keeps the original safe (journal,
verified restore); `edits.py` sends the edits; `recover.py` puts back what a crash interrupted.
"""

from __future__ import annotations

from typing import Any

from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ..common import parse_args
from . import recover
from .job import ACCEPT, REJECT, REWRITE, JobArgs, RewriteArgs, RewriteFeature


def register(ls: DeepSeekLanguageServer) -> None:
    feature = RewriteFeature(ls)

    @ls.command(REWRITE)
    async def rewrite(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        # async for dryRun; a real rewrite takes its snapshot and starts before the first await,
        # so the range still refers to the text the editor had when it sent the command
        a = parse_args(RewriteArgs, args, REWRITE)
        plan = feature.plan(a)
        if a.dry_run:
            return await feature.dry_run(plan)
        return {"jobId": feature.start(plan).id}

    @ls.command(ACCEPT)
    def accept(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        return feature.accept(parse_args(JobArgs, args, ACCEPT).job_id)

    @ls.command(REJECT)
    async def reject(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        return await feature.reject(parse_args(JobArgs, args, REJECT).job_id)

    recover.register(ls)
