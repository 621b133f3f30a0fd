"""Conformance checks written from the contract (docs/protocol.md) alone.

`lsp.py` is a small raw JSON-RPC/LSP client over stdio (no pygls), `fakeds.py` a minimal fake
DeepSeek written from DeepSeek's published API documentation (not `deepseek_lsp.fake`): the real
server (`python -m deepseek_lsp`) is checked against a second, independent implementation of
both of its peers. Every test's teardown checks that stdout carried only LSP frames, that the
API key never reached stdout, stderr or the data directory, that the server exited cleanly, and
that every request DeepSeek received was well-formed.
"""
