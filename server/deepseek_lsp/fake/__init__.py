"""The fake DeepSeek API server used by tests, `deepseek-lsp demo` and benchmarks.

In process (pytest)::

    async with FakeDeepSeek(api_key="sk-test", default_delay=0) as fake:
        fake.enqueue(Reply(content="Hello", reasoning="Hmm", hold_after=1))
        ...  # point the client at fake.base_url
        await fake.wait_for_held()
        fake.release()
        record = fake.requests[-1]  # body, headers, timings, disconnected, completed

`FakeDeepSeek(profile="openai")` (or `--profile openai`) plays a generic OpenAI-compatible server
instead (llama-cpp-python's: /v1 only, no key, no /beta, no balance, usage only when asked).

Out of process: `deepseek-lsp fake-server --port 0 [--script replies.json] [--api-key K|--any-key]`
prints `fake DeepSeek listening on http://127.0.0.1:PORT`; script it over HTTP with
`POST /_fake/enqueue` (a Reply object or a list), `POST /_fake/release`, `POST /_fake/reset`,
`POST /_fake/config` (`api_key`, `balance`, `default_delay`; the generic mode's `profile`, `models`,
`usage`, `overflow`, `context_limit`), `GET /_fake/requests[?kind=info]`,
`POST /_fake/wait_for_requests {"n", "timeout"}` and
`POST /_fake/wait_for_disconnect {"index", "timeout"}` (408 on timeout).
"""

from deepseek_lsp.fake.script import Reply
from deepseek_lsp.fake.server import FakeDeepSeek, RecordedRequest

__all__ = ["FakeDeepSeek", "RecordedRequest", "Reply"]
