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
    def rewrite(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, str]:
        a = parse_args(RewriteArgs, args, REWRITE)
        return {"jobId": feature.start(a).id}

    @ls.command(ACCEPT)
    def accept(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        return feature.accept(parse_args(JobArgs, args, ACCEPT).job_id)

    @ls.command(REJECT)
    async def reject(ls: DeepSeekLanguageServer, *args: Any) -> dict[str, Any]:
        return await feature.reject(parse_args(JobArgs, args, REJECT).job_id)

    recover.register(ls)
