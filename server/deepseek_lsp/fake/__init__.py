"""The fake DeepSeek API server used by tests, `deepseek-lsp demo` and benchmarks."""

from deepseek_lsp.fake.script import Reply
from deepseek_lsp.fake.server import FakeDeepSeek, RecordedRequest

__all__ = ["FakeDeepSeek", "RecordedRequest", "Reply"]
