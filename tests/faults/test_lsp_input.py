"""Bad LSP input: wrong params, bad frames, requests before `initialize` and after `shutdown`,
wrong arguments for every command, ranges outside the document, unknown and closed documents.

Every case must be answered (or dropped, for notifications) with a clear error, never an
internal error with a traceback, never silence; and the server must still serve afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.contract.conftest import check_invariants
from tests.contract.fakeds import FakeDeepSeek
from tests.contract.lsp import Client, LspError

from .conftest import Start, server_env

CODE = "def add(a, b):\n    return a + b\n"
INVALID_REQUEST, INVALID_PARAMS, INTERNAL, NOT_INITIALIZED = -32600, -32602, -32603, -32002


def frame(msg: Any) -> bytes:
    body = json.dumps(msg).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


Raw = Callable[[], Awaitable[Client]]


@pytest_asyncio.fixture
async def raw(fake: FakeDeepSeek, tmp_path: Path) -> AsyncIterator[Raw]:
    """The real server over stdio, not initialized: the test writes what it likes. On teardown
    the same invariants as `start`: only LSP frames on stdout, the key nowhere."""
    clients: list[Client] = []
    data_dir = tmp_path / "raw-data"
    data_dir.mkdir()

    async def go() -> Client:
        client = await Client.spawn(server_env(fake, data_dir))
        clients.append(client)
        return client

    yield go
    for client in clients:
        if client.proc.returncode is None:
            client.proc.kill()
            await client.proc.wait()
        for task in client._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
        check_invariants(client, data_dir)


async def initialize(client: Client) -> None:
    await client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.notify("initialized", {})


async def exit_code(client: Client, timeout: float = 30) -> int:
    """The process's exit status; it must come without any further input."""
    try:
        return await asyncio.wait_for(client.proc.wait(), timeout)
    except TimeoutError:
        raise AssertionError("the server did not exit: it hangs") from None


async def error_of(client: Client, method: str, params: Any) -> dict[str, Any]:
    """The error answer to a request (a result, or no answer in time, fails the test)."""
    with pytest.raises(LspError) as info:
        await client.request(method, params, timeout=20)
    err = info.value.error
    assert "traceback" not in json.dumps(err).lower(), err
    return err


async def alive(client: Client) -> None:
    status = await client.command("deepseek.status", {}, timeout=20)
    assert isinstance(status, dict) and "jobs" in status


async def write(client: Client, data: bytes) -> None:
    assert client.proc.stdin is not None
    client.proc.stdin.write(data)
    await client.proc.stdin.drain()


def stderr_lines(client: Client, word: str) -> list[str]:
    return [line for line in client.stderr.decode(errors="replace").splitlines() if word in line]


# -- params that do not fit the LSP types ---------------------------------------------------------
async def test_execute_command_with_null_params_is_invalid_params(start: Start) -> None:
    client = await start()
    for params in (None, {}, {"command": 7}, {"arguments": []}):
        err = await error_of(client, "workspace/executeCommand", params)
        assert err["code"] == INVALID_PARAMS, err
        assert "command" in err["message"].lower(), err  # it says what was expected
    await alive(client)


async def test_code_action_with_a_negative_range_is_invalid_params(start: Start, py_uri: str) -> None:
    client = await start()
    client.open(py_uri, CODE)
    params = {
        "textDocument": {"uri": py_uri},
        "range": {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 3}},
        "context": {"diagnostics": []},
    }
    err = await error_of(client, "textDocument/codeAction", params)
    assert err["code"] == INVALID_PARAMS and "range.start" in err["message"], err
    hover = {"textDocument": {"uri": py_uri}, "position": {"line": 0, "character": "x"}}
    assert (await error_of(client, "textDocument/hover", hover))["code"] == INVALID_PARAMS
    await alive(client)


async def test_malformed_notifications_and_non_objects_do_not_stop_the_server(
    start: Start, py_uri: str
) -> None:
    client = await start()
    client.notify("textDocument/didOpen", None)
    client.notify("textDocument/didChange", {"textDocument": {"uri": py_uri}})
    client.notify("$/cancelRequest", {"id": {"not": "an id"}})
    await write(client, frame([1, 2, 3]))  # a batch: LSP has none
    await write(client, frame({"jsonrpc": "1.0", "id": 99, "method": "shutdown"}))
    answers = await client.wait_for(
        lambda: (
            [m for m in client.messages if "error" in m and m.get("id") in (None, 99)] or None
            if len([m for m in client.messages if "error" in m and m.get("id") in (None, 99)]) == 2
            else None
        ),
        what="answers to the batch and the JSON-RPC 1.0 request",
    )
    assert {a["error"]["code"] for a in answers} == {INVALID_REQUEST}
    await alive(client)  # the "shutdown" of the 1.0 message did not count


# -- the lifecycle --------------------------------------------------------------------------------
async def test_before_initialize_requests_get_32002_and_notifications_are_dropped(
    raw: Raw, py_uri: str
) -> None:
    client = await raw()
    err = await error_of(client, "workspace/executeCommand", {"command": "deepseek.status", "arguments": []})
    assert err["code"] == NOT_INITIALIZED and "initialize" in err["message"], err
    assert (await error_of(client, "textDocument/hover", {}))["code"] == NOT_INITIALIZED
    client.open(py_uri, CODE)  # dropped: the server knows no document yet
    await initialize(client)
    rewrite = {"uri": py_uri, "range": client.range(py_uri, 0, 5)}
    err = await error_of(
        client, "workspace/executeCommand", {"command": "deepseek.rewrite", "arguments": [rewrite]}
    )
    assert err["code"] == INVALID_PARAMS and "not open" in err["message"], err
    again = await error_of(client, "initialize", {"processId": None, "capabilities": {}})
    assert again["code"] == INVALID_REQUEST
    await client.request("shutdown", None)
    client.notify("exit", None)
    assert await exit_code(client) == 0


async def test_exit_before_initialize_ends_the_process_with_1(raw: Raw) -> None:
    client = await raw()
    client.notify("exit", None)
    assert await exit_code(client) == 1


async def test_after_shutdown_requests_get_invalid_request_and_exit_ends_with_0(
    start: Start, py_uri: str
) -> None:
    client = await start()
    client.open(py_uri, CODE)
    assert await client.request("shutdown", None) is None
    for method, params in (
        ("workspace/executeCommand", {"command": "deepseek.status", "arguments": []}),
        ("textDocument/hover", {"textDocument": {"uri": py_uri}, "position": {"line": 0, "character": 0}}),
        ("shutdown", None),
    ):
        err = await error_of(client, method, params)
        assert err["code"] == INVALID_REQUEST and "shut" in err["message"], err
    client.notify("exit", None)
    assert await exit_code(client) == 0


async def test_exit_without_shutdown_ends_with_1(raw: Raw) -> None:
    client = await raw()
    await initialize(client)
    client.notify("exit", None)
    assert await exit_code(client) == 1


async def test_stdin_closed_without_shutdown_exits_with_a_clear_line(raw: Raw) -> None:
    client = await raw()
    await initialize(client)
    assert client.proc.stdin is not None
    client.proc.stdin.close()
    assert await exit_code(client) == 1
    assert stderr_lines(client, "closed stdin without shutdown"), client.stderr.decode()[-2000:]


# -- bad frames -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (
            b"Content-Length: abc\r\n\r\n"
            + json.dumps({"jsonrpc": "2.0", "id": 77, "method": "shutdown"}).encode(),
            "'abc'",
        ),
        (
            b"Content-Type: application/json\r\n\r\n"
            + json.dumps({"jsonrpc": "2.0", "id": 78, "method": "shutdown"}).encode(),
            "without a Content-Length",
        ),
        (b"this is not a header\r\n", "not an LSP header"),
        (b"Content-Length: 12\r\n\r\n{not json!!}", "not JSON"),
    ],
    ids=["length-abc", "no-length", "garbage-line", "not-json"],
)
async def test_a_bad_frame_is_skipped_and_the_next_one_served(start: Start, bad: bytes, said: str) -> None:
    client = await start()
    await write(client, bad)
    await alive(client)  # the very next frame is answered
    await alive(client)
    lines = stderr_lines(client, "bad input from the client")
    assert len(lines) == 1 and said in lines[0], lines
    assert not any(m.get("id") in (77, 78) for m in client.messages)  # the skipped body was not run


async def test_stdin_closed_in_the_middle_of_a_body_exits_with_a_clear_line(raw: Raw) -> None:
    client = await raw()
    await initialize(client)
    body = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}).encode()
    await write(client, b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    assert client.proc.stdin is not None
    client.proc.stdin.close()
    assert await exit_code(client) == 1
    lines = stderr_lines(client, "in the middle of a message")
    assert lines and f"10 of {len(body)} bytes" in lines[0], client.stderr.decode()[-2000:]


# -- command arguments ------------------------------------------------------------------------------
NO_ARGUMENT_NEEDED = {"deepseek.status", "deepseek.chat.sessions", "deepseek.recover"}


async def test_every_command_answers_wrong_and_missing_arguments_with_invalid_params(
    start: Start, fake: FakeDeepSeek
) -> None:
    client = await start()
    commands = client.init_result["capabilities"]["executeCommandProvider"]["commands"]
    assert "deepseek.explain" in commands and "deepseek.rewrite" in commands
    bad_arguments: list[Any] = [None, [], [None], [5], ["text"], [{}], [{}, {}], [{"uri": 5, "range": "x"}]]
    for command in commands:
        for arguments in bad_arguments:
            params: dict[str, Any] = {"command": command}
            if arguments is not None:
                params["arguments"] = arguments
            try:
                result = await client.request("workspace/executeCommand", params, timeout=10)
            except LspError as exc:
                assert exc.code == INVALID_PARAMS, (command, arguments, exc.error)
                assert "traceback" not in json.dumps(exc.error).lower()
                assert exc.error["message"].strip(), (command, arguments)
                continue
            except TimeoutError:
                raise AssertionError(f"{command} {arguments}: no answer") from None
            assert command in NO_ARGUMENT_NEEDED, (command, arguments, result)
    assert fake.completions == [], "a bad command reached DeepSeek"
    await alive(client)


async def command_error(client: Client, name: str, arg: dict[str, Any]) -> dict[str, Any]:
    return await error_of(client, "workspace/executeCommand", {"command": name, "arguments": [arg]})


async def test_ranges_outside_the_document_are_invalid_params(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    client = await start()
    client.open(py_uri, CODE)  # lines 0, 1 and an empty line 2
    far = {"start": {"line": 40, "character": 0}, "end": {"line": 41, "character": 0}}
    negative = {"start": {"line": 0, "character": -2}, "end": {"line": 0, "character": 3}}
    for name in ("deepseek.explain", "deepseek.rewrite"):
        err = await command_error(client, name, {"uri": py_uri, "range": far})
        assert err["code"] == INVALID_PARAMS and "outside the document" in err["message"], err
        assert "3 lines" in err["message"], err
        err = await command_error(client, name, {"uri": py_uri, "range": negative})
        assert err["code"] == INVALID_PARAMS and "range.start.character" in err["message"], err
    err = await command_error(client, "deepseek.chat", {"message": "hi", "uri": py_uri, "range": far})
    assert err["code"] == INVALID_PARAMS and "outside the document" in err["message"], err
    assert fake.completions == []
    # a character past a line's end means the line's end (LSP), and an end one line past the
    # last line is how editors select to the end of a file: both are fine
    fine = {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 99}}
    job = await client.command("deepseek.explain", {"uri": py_uri, "range": fine})
    await client.wait_done(job["jobId"])


async def test_unknown_and_closed_documents_are_invalid_params(
    start: Start, fake: FakeDeepSeek, py_uri: str, tmp_path: Path
) -> None:
    client = await start()
    zero = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 5}}
    cases = {
        "untitled:Untitled-1": "only file: URIs",
        "nonsense": "only file: URIs",
        "http://example.com/x.py": "only file: URIs",
        (tmp_path / "missing.py").as_uri(): "cannot be read",
        tmp_path.as_uri(): "not a regular file",  # a directory
        "file:///dev/zero": "not a regular file",  # pygls would read it for ever
    }
    for uri, said in cases.items():
        for name, arg in (
            ("deepseek.explain", {"uri": uri, "range": zero}),
            ("deepseek.chat", {"message": "what is this?", "uri": uri}),
        ):
            err = await command_error(client, name, arg)
            assert err["code"] == INVALID_PARAMS and said in err["message"], (uri, name, err)
        err = await command_error(client, "deepseek.rewrite", {"uri": uri, "range": zero})
        assert err["code"] == INVALID_PARAMS and "not open" in err["message"], err
    client.open(py_uri, CODE)
    client.notify("textDocument/didClose", {"textDocument": {"uri": py_uri}})
    err = await command_error(client, "deepseek.rewrite", {"uri": py_uri, "range": zero})
    assert err["code"] == INVALID_PARAMS and "not open" in err["message"], err
    assert fake.completions == []
    await alive(client)


async def test_a_malformed_initialize_is_invalid_params_and_a_good_one_still_works(raw: Raw) -> None:
    client = await raw()
    err = await error_of(client, "initialize", {"processId": None})
    assert err["code"] == INVALID_PARAMS and "capabilities" in err["message"], err
    await initialize(client)
    await alive(client)
    await client.request("shutdown", None)
    client.notify("exit", None)
    assert await exit_code(client) == 0
