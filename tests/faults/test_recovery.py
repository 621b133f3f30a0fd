"""A rewrite's original survives a crash, a runaway model and a broken answer.

The journal is written before the first edit and removed when the job ends cleanly; after a
kill -9, `deepseek.recover` (and `deepseek-lsp recover`) put the original back, checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.contract.fakeds import FakeDeepSeek, Reply
from tests.contract.lsp import Client
from tests.contract.test_rewrite import DOC, END, MODEL_CODE, START, TARGET

from .conftest import Start, server_env


def journal(data_dir: Path) -> list[dict]:
    folder = data_dir / "journal"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


async def start_rewrite(client: Client, uri: str, **extra: str) -> str:
    arg = {"uri": uri, "range": client.range(uri, START, END), "action": "refactor", **extra}
    return (await client.command("deepseek.rewrite", arg))["jobId"]


async def crash_mid_rewrite(fake: FakeDeepSeek, data: Path, root: Path, uri: str) -> str:
    """A server killed (SIGKILL) with the model's half-written code in the document; returns
    that document text, as the editor still holds it."""
    fake.enqueue(Reply(code=MODEL_CODE * 3, delay=0.01, hang_after=3, release=asyncio.Event()))
    doomed = await Client.start(server_env(fake, data), root=str(root))
    doomed.open(uri, DOC)
    await start_rewrite(doomed, uri)
    await doomed.wait_for(lambda: doomed.docs[uri].text != DOC, what="a first edit")
    await doomed.wait_for(lambda: doomed.in_flight == 0, what="the edit answered")
    half_written = doomed.docs[uri].text
    doomed.proc.kill()  # no cleanup of any kind
    await doomed.proc.wait()
    return half_written


async def test_journal_is_written_before_the_first_edit_and_removed_after(
    start: Start, fake: FakeDeepSeek, py_uri: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    fake.enqueue(Reply(code=MODEL_CODE, delay=0.005))
    client = await start()
    seen_at_first_edit: list[list[dict]] = []
    client.apply.before = lambda params: seen_at_first_edit.append(journal(data))
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    assert (await client.wait_done(job))["state"] == "done"
    assert seen_at_first_edit, "no edit"
    first = seen_at_first_edit[0]
    assert len(first) == 1 and first[0]["original"] == TARGET and first[0]["uri"] == py_uri
    assert journal(data) == []  # ended cleanly


async def test_crash_mid_rewrite_then_recover(
    start: Start, fake: FakeDeepSeek, py_uri: str, tmp_path: Path
) -> None:
    """kill -9 with the model's half-written code in the document; the next server puts the
    original back through the editor, checked, when asked."""
    data = tmp_path / "data"
    half_written = await crash_mid_rewrite(fake, data, tmp_path, py_uri)
    assert len(journal(data)) == 1

    client = await start()
    client.open(py_uri, half_written)
    # the new server offers it at start (standard showMessageRequest)
    await client.wait_for(
        lambda: any(
            m.get("method") == "window/showMessageRequest" and "interrupted" in m["params"]["message"]
            for m in client.messages
        ),
        what="the offer to recover",
    )
    listed = await client.command("deepseek.recover", {"dryRun": True})
    assert [e["status"] for e in listed["entries"]] == ["pending"]
    entry = listed["entries"][0]
    assert entry["original"] == TARGET and entry["uri"] == py_uri
    assert entry["range"]["start"] == {"line": 4, "character": 0}
    result = await client.command("deepseek.recover", {})
    assert [e["status"] for e in result["entries"]] == ["restored"], result
    await client.command("deepseek.status", {})
    assert client.docs[py_uri].text == DOC
    assert journal(data) == []
    again = await client.command("deepseek.recover", {})
    assert again["entries"] == []


async def test_recover_when_the_user_edited_around_it(
    start: Start, fake: FakeDeepSeek, py_uri: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    half_written = await crash_mid_rewrite(fake, data, tmp_path, py_uri)

    client = await start()
    client.open(py_uri, "#!/usr/bin/env python\r\n" + half_written)  # edited above since
    result = await client.command("deepseek.recover", {})
    assert [e["status"] for e in result["entries"]] == ["restored"], result
    await client.command("deepseek.status", {})
    assert client.docs[py_uri].text == "#!/usr/bin/env python\r\n" + DOC

    # a region that cannot be told safely is left alone, and the original is handed over
    await crash_mid_rewrite(fake, data, tmp_path, py_uri)
    client.notify("textDocument/didClose", {"textDocument": {"uri": py_uri}})
    client.open(py_uri, "print('rewritten from scratch')\n")
    result = await client.command("deepseek.recover", {})
    assert [e["status"] for e in result["entries"]] == ["conflict"]
    assert result["entries"][0]["original"] == TARGET
    assert client.docs[py_uri].text == "print('rewritten from scratch')\n"
    assert len(journal(data)) == 1  # kept for the user


async def test_cli_recover_on_disk(fake: FakeDeepSeek, tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = tmp_path / "app.py"
    path.write_bytes(DOC.encode())
    uri = path.as_uri()
    half_written = await crash_mid_rewrite(fake, data, tmp_path, uri)
    path.write_bytes(half_written.encode())  # the editor had auto-saved the half-written code

    env = {**os.environ, "DEEPSEEK_LSP_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "deepseek_lsp", "recover"]
    listed = await asyncio.to_thread(
        subprocess.run, [*cmd, "--list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0 and "app.py:5" in listed.stdout, listed
    done = await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    assert "[restored]" in done.stdout
    assert path.read_bytes() == DOC.encode()  # CRLF kept, byte for byte
    assert journal(data) == []


async def test_runaway_rewrite_stops_and_restores(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """A model that never stops: the stream is closed (the bill stops) and the original is back."""
    runaway = "".join(f"    value_{i} = compute({i})\n" for i in range(3000))
    fake.enqueue(Reply(code=runaway, delay=0.0005))
    client = await start()
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    final = await client.wait_done(job, timeout=30)
    await client.command("deepseek.status", {})
    assert final["state"] == "failed"
    assert final["error"]["code"] == "truncated"
    assert "rewriteMaxGrowth" in final["error"]["message"]
    assert client.docs[py_uri].text == DOC
    seen = fake.completions[-1]
    await asyncio.wait_for(seen.closed.wait(), 5)
    assert seen.disconnected is not None  # we hung up: nothing more is generated or billed
    assert seen.body["max_tokens"] <= 2 * 40 + 1024  # derived from the selection


async def test_syntax_error_ends_in_review(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    broken = "def size(self:\n    return len(self.items)\n"
    fake.enqueue(Reply(code=broken), Reply(code=broken))
    client = await start()  # review is off
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    note = await client.wait_state(job, "review")
    assert note["warnings"] and "syntax error" in note["warnings"][0]
    diags = await client.wait_for(
        lambda: [p for p in client.notifications("textDocument/publishDiagnostics") if p["diagnostics"]],
        what="a diagnostic at the error",
    )
    assert diags[-1]["uri"] == py_uri
    assert diags[-1]["diagnostics"][0]["range"]["start"]["line"] == 4
    await client.command("deepseek.reject", {"jobId": job})
    final = await client.wait_done(job)
    assert final["state"] == "cancelled"
    await client.command("deepseek.status", {})
    assert client.docs[py_uri].text == DOC
    assert client.notifications("textDocument/publishDiagnostics")[-1]["diagnostics"] == []
    # accepting keeps it: the user decides
    job = await start_rewrite(client, py_uri)
    await client.wait_state(job, "review")
    await client.command("deepseek.accept", {"jobId": job})
    assert (await client.wait_done(job))["state"] == "done"
    assert "def size(self:" in client.docs[py_uri].text
