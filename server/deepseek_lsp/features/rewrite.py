"""Rewrite: `deepseek.rewrite`, `deepseek.accept`, `deepseek.reject` (issue 3 fills this in)."""

from __future__ import annotations

from ..server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations


def register(ls: DeepSeekLanguageServer) -> None:
    pass
