"""The fault suite: the real server over stdio, driven by the contract suite's independent raw
client and fake DeepSeek, under faults a hostile world produces.

The fixtures are the contract suite's: on teardown each checks that the server exited cleanly,
that nothing but LSP frames reached stdout, and that the API key appears in no byte the server
wrote (stdout, stderr, the data folder).
"""

from __future__ import annotations

from tests.contract.conftest import KEY, Start, fake, py_uri, server_env, start

__all__ = ["KEY", "Start", "fake", "py_uri", "server_env", "start"]
