"""Editors that ask the user to confirm every server edit (Emacs eglot with
`eglot-confirm-server-initiated-edits`), and two rewrites asked for on the same lines.

A client without our plugin (`presentation: "standard"`) gets a rewrite as ONE versioned
`workspace/applyEdit`, sent once the model's code is complete and checked: a "Proceed?" prompt is
asked once, a "no" ends the job with nothing to undo, and a person may take their time to answer.
Such a client sees no `deepseek/stream`: these tests watch what it does see, standard LSP only
(the job's `$/progress` end, `window/showMessage`, the edits).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.contract.fakeds import FakeDeepSeek, Reply
from tests.contract.lsp import Client, span
from tests.contract.test_rewrite import DOC, END, EXPECTED, MODEL_CODE, START, TARGET, rewritten

from .conftest import Start

STANDARD = {"presentation": "standard"}
INSERTED = '"""How many items the box holds."""\r\n        '  # the docstring's minimal edit
SLOW = {"DEEPSEEK_LSP_APPLY_TIMEOUTS": "0.5,10"}  # a streamed edit's answer: 0.5 s; the one edit: 10 s


def progress_end(client: Client, job: str) -> str | None:
    """The message of the job's work-done progress end (token `deepseek-<jobId>`)."""
    token = f"deepseek-{job}"
    for p in client.notifications("$/progress"):
        if p["token"] == token and p["value"]["kind"] == "end":
            return str(p["value"].get("message", ""))
    return None


async def ended(client: Client, job: str, timeout: float = 30) -> str:
    message: str = await client.wait_for(lambda: progress_end(client, job), timeout, f"job {job} to end")
    return message


async def shown(client: Client, text: str) -> str:
    """The error message holding `text` (a failed job's message follows its progress end)."""
    found: str = await client.wait_for(
        lambda: next((m for m in client.errors_shown() if text in m), None), what=f"a message with {text!r}"
    )
    return found


async def told(client: Client, text: str) -> str:
    """The information message holding `text`."""

    def find() -> str | None:
        infos = [p["message"] for p in client.notifications("window/showMessage") if p.get("type") == 3]
        return next((m for m in infos if text in m), None)

    found: str = await client.wait_for(find, what=f"an information message with {text!r}")
    return found


async def settled(client: Client) -> None:
    """No edit in flight, and a round trip: every didChange the client sent has arrived."""
    await client.wait_for(lambda: client.in_flight == 0, timeout=30, what="no edit in flight")
    await client.command("deepseek.status", {})


async def start_rewrite(client: Client, uri: str, action: str = "docstring", **extra: Any) -> str:
    arg = {"uri": uri, "range": client.range(uri, START, END), "action": action, **extra}
    job: str = (await client.command("deepseek.rewrite", arg))["jobId"]
    return job


def applied(client: Client) -> int:
    return sum(1 for r in client.apply_results if r.get("applied"))


# -- one edit -------------------------------------------------------------------------------
async def test_one_minimal_edit_once_the_code_is_complete(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    fake.enqueue(Reply(code=MODEL_CODE, delay=0.02))
    client = await start(init_options=STANDARD)
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    assert await ended(client, job) == "Done"
    await settled(client)
    assert client.docs[py_uri].text == rewritten()  # byte for byte, CRLF kept
    [params] = client.applies
    [change] = params["edit"]["documentChanges"]
    assert change["textDocument"]["version"] == 1
    [edit] = change["edits"]
    assert edit["range"]["start"] == edit["range"]["end"]  # only the changed part: an insertion
    assert edit["newText"] == INSERTED
    assert client.notifications("deepseek/stream") == []  # standard LSP only
    assert client.errors_shown() == []


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply(code=MODEL_CODE, finish_reason="length"), "token limit"),
        (Reply(code=MODEL_CODE, cut=True), "cut off"),
        (Reply(code="x = 1\n" * 3000), "rewriteMaxGrowth"),
        (Reply(content=["I cannot help with that."]), "without any code"),
    ],
)
async def test_nothing_touches_the_document_until_the_code_is_checked(
    start: Start, fake: FakeDeepSeek, py_uri: str, reply: Reply, code: str
) -> None:
    """An answer cut by its token limit, cut off, outgrowing its bound or holding no code: the
    streamed edits would have shown part of it and put the original back; one edit never goes."""
    fake.enqueue(reply)
    client = await start(init_options={**STANDARD, "rewritePrefix": False, "maxRetries": 0})
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri, action="refactor")
    assert await ended(client, job) == "Failed"
    await shown(client, code)
    await settled(client)
    assert client.applies == []
    assert client.docs[py_uri].text == DOC


async def test_write_tests_is_one_insertion(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    tests = "def test_size():\n    assert Box().size() == 0\n"
    fake.enqueue(Reply(code=tests))
    client = await start(init_options=STANDARD)
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri, action="tests")
    assert await ended(client, job) == "Done"
    await settled(client)
    [params] = client.applies
    [edit] = params["edit"]["documentChanges"][0]["edits"]
    assert edit["range"]["start"] == edit["range"]["end"]
    text = client.docs[py_uri].text
    assert text.startswith(DOC) and text.endswith("\r\ndef test_size():\r\n    assert Box().size() == 0\r\n")


async def test_a_refusal_is_asked_once_and_keeps_the_original(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    """eglot's "Proceed?" answered `n`: one applyEdit, no second, nothing to put back; the job
    fails, told as information (the person's own choice), not as an error."""
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options=STANDARD)
    client.apply.reject = True
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    assert await ended(client, job) == "Failed"
    await settled(client)
    assert len(client.applies) == 1, "asked more than once"
    assert client.docs[py_uri].text == DOC
    message = await told(client, "did not apply the rewrite")
    assert message == (
        "DeepSeek: Add docstring: The editor did not apply the rewrite (it said: rejected by the test), "
        "so your code is unchanged."
    )
    assert client.errors_shown() == []


@pytest.mark.parametrize("late", ["apply", "answer"])
async def test_a_slow_confirmation_still_gives_one_exact_edit(
    start: Start, fake: FakeDeepSeek, py_uri: str, late: str
) -> None:
    """The person reads the prompt for 2 s, four times what a streamed edit is given here: the
    one edit waits for them (`apply`: it lands when they answer; `answer`: it lands at once and
    the answer comes late)."""
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options=STANDARD, env=SLOW)
    if late == "apply":
        client.apply.delay = 2.0
    else:
        client.apply.answer_delay = 2.0
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    assert await ended(client, job) == "Done"
    await settled(client)
    assert len(client.applies) == 1
    assert client.docs[py_uri].text == rewritten()


@pytest.mark.parametrize("answer", ["yes", "no"])
async def test_cancel_while_the_confirmation_is_open(
    start: Start, fake: FakeDeepSeek, py_uri: str, answer: str
) -> None:
    """Cancelled with the prompt open: `cancelled` at once (nothing landed); a "yes" given later
    lands the edit, which is then undone (asked once more); a "no" leaves nothing to undo."""
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options=STANDARD, env=SLOW)
    client.apply.delay = 3.0
    client.apply.reject = answer == "no"
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    await client.wait_for(lambda: client.in_flight == 1, what="the prompt open")
    assert await client.command("deepseek.cancel", {"jobId": job}) == {"cancelled": True}
    assert await ended(client, job, timeout=10) == "Cancelled"
    assert client.in_flight == 1, "the cancel waited for the person to answer"
    assert client.docs[py_uri].text == DOC
    if answer == "yes":
        await client.wait_for(lambda: len(client.applies) == 2, timeout=15, what="the late edit undone")
    await client.wait_for(
        lambda: len(client.apply_results) == len(client.applies), timeout=15, what="answers"
    )
    await settled(client)
    assert client.docs[py_uri].text == DOC
    assert len(client.applies) == (2 if answer == "yes" else 1)
    assert not [m for m in client.errors_shown() if "rewrite" in m]


async def test_an_edit_never_answered_ends_the_job_with_the_original(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options=STANDARD, env={"DEEPSEEK_LSP_APPLY_TIMEOUTS": "0.5,1"})
    client.apply.silent = True
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    assert await ended(client, job) == "Failed"
    assert len(client.applies) == 1
    assert client.docs[py_uri].text == DOC
    assert "unchanged" in await shown(client, "did not answer")


async def test_typing_elsewhere_before_the_edit(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """The user types above and below while the model writes: the one edit carries the version
    the client has and lands where the code now stands."""
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE, hang_after=2, release=release))
    client = await start(init_options=STANDARD)
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    await fake.wait_requests(1)
    client.type_text(py_uri, 0, 0, "# 注释 😀\r\n")
    client.type_text(py_uri, len(client.docs[py_uri].text), len(client.docs[py_uri].text), "x = 1\r\n")
    release.set()
    assert await ended(client, job) == "Done"
    await settled(client)
    assert client.docs[py_uri].text == "# 注释 😀\r\n" + rewritten() + "x = 1\r\n"
    [params] = client.applies
    assert params["edit"]["documentChanges"][0]["textDocument"]["version"] == 3


async def test_typing_while_the_prompt_is_open(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """The user typed just before the edit arrived: the editor refuses it for its stale version,
    and the edit goes again on the current one (a refusal the document explains is no "no")."""
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options=STANDARD)
    typed: list[bool] = []

    def type_first(params: dict[str, Any]) -> None:
        if not typed:
            typed.append(True)
            client.type_text(py_uri, 0, 0, "# typed\r\n")

    client.apply.before = type_first
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    assert await ended(client, job) == "Done"
    await settled(client)
    assert client.docs[py_uri].text == "# typed\r\n" + rewritten()
    assert client.apply_results == [{"applied": False, "failureReason": "stale version"}, {"applied": True}]


async def test_typing_inside_the_selection_before_the_edit(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE, hang_after=2, release=release))
    client = await start(init_options=STANDARD)
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    await fake.wait_requests(1)
    at = DOC.index("len(self.items)")
    client.type_text(py_uri, at, at, "USER ")
    typed = client.docs[py_uri].text
    release.set()
    assert await ended(client, job) == "Failed"
    await settled(client)
    assert client.applies == [], "nothing may touch the user's text"
    assert client.docs[py_uri].text == typed
    await shown(client, "You edited the text being rewritten")


async def test_closing_the_document_before_the_edit(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE, hang_after=2, release=release))
    client = await start(init_options=STANDARD)
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    await fake.wait_requests(1)
    client.notify("textDocument/didClose", {"textDocument": {"uri": py_uri}})
    await client.command("deepseek.status", {})  # the server has taken the didClose
    release.set()
    assert await ended(client, job) == "Failed"
    await shown(client, "The document was closed")
    assert client.applies == []


async def test_a_syntax_error_is_one_edit_then_review(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """Checked before the edit: the code goes in (the user decides), with the diagnostic, and
    the job waits for accept or reject, which the code action menu offers."""
    fake.enqueue(Reply(code="def size(self:\n    return len(self.items)\n"))
    client = await start(init_options=STANDARD)
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri, action="refactor")
    assert (await ended(client, job)).startswith("Review")
    await settled(client)
    assert len(client.applies) == 1
    assert "    def size(self:\r\n" in client.docs[py_uri].text
    [published] = [p for p in client.notifications("textDocument/publishDiagnostics") if p["diagnostics"]]
    assert published["diagnostics"][0]["source"] == "deepseek"
    at = client.docs[py_uri].text.index("def size")
    actions = await client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": py_uri},
            "range": client.range(py_uri, at, at),
            "context": {"diagnostics": []},
        },
    )
    [reject] = [a for a in actions if a["command"]["command"] == "deepseek.reject"]
    assert await client.request("workspace/executeCommand", reject["command"], timeout=30) == {
        "jobId": job,
        "rejected": True,
    }
    await settled(client)
    assert client.docs[py_uri].text == DOC


@pytest.mark.parametrize("decision", ["accept", "reject"])
async def test_review_through_code_actions(
    start: Start, fake: FakeDeepSeek, py_uri: str, decision: str
) -> None:
    """With `review` on, the one edit waits for accept or reject, which a client without our
    plugin finds in the code action menu of the rewritten lines."""
    fake.enqueue(Reply(code=MODEL_CODE))
    client = await start(init_options={**STANDARD, "review": True})
    client.open(py_uri, DOC)
    job = await start_rewrite(client, py_uri)
    assert (await ended(client, job)).startswith("Review")
    await settled(client)
    assert client.docs[py_uri].text == rewritten()
    at = client.docs[py_uri].text.index("How many")
    actions = await client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": py_uri},
            "range": client.range(py_uri, at, at),
            "context": {"diagnostics": []},
        },
    )
    titles = [a["title"] for a in actions]
    assert titles == [
        f"DeepSeek: Accept rewrite (Add docstring, {job})",
        f"DeepSeek: Reject rewrite (Add docstring, {job})",
    ]
    [chosen] = [a for a in actions if a["command"]["command"] == f"deepseek.{decision}"]
    assert chosen["command"]["arguments"] == [{"jobId": job}]
    result = await client.request("workspace/executeCommand", chosen["command"], timeout=30)
    await settled(client)
    if decision == "accept":
        assert result == {"jobId": job, "accepted": True}
        assert client.docs[py_uri].text == rewritten()
    else:
        assert result == {"jobId": job, "rejected": True}
        assert client.docs[py_uri].text == DOC
    assert len(client.applies) == (1 if decision == "accept" else 2)


# -- two rewrites on one range ----------------------------------------------------------------
def busy(client: Client) -> list[str]:
    return [m for m in client.errors_shown() if "of these lines" in m]


@pytest.mark.parametrize("presentation", ["stream", "standard"])
async def test_two_quick_rewrites_on_one_range(
    start: Start, fake: FakeDeepSeek, py_uri: str, presentation: str
) -> None:
    """The second is refused at once with the truth, never a false "you edited"; the first one
    goes on and lands exactly; only the first is sent to DeepSeek (and billed)."""
    release = asyncio.Event()
    fake.enqueue(Reply(code=MODEL_CODE, hang_after=2, release=release))
    client = await start(init_options={"presentation": presentation})
    client.open(py_uri, DOC)
    arg = {"uri": py_uri, "range": client.range(py_uri, START, END), "action": "docstring"}
    # the second right behind the first: it arrives while the first waits for the model
    one = (await client.command("deepseek.rewrite", arg))["jobId"]
    two = (await client.command("deepseek.rewrite", {**arg, "action": "refactor"}))["jobId"]
    assert await ended(client, two) == "Failed"
    assert await shown(client, "of these lines") == (
        f"DeepSeek rewrite refused: A DeepSeek rewrite of these lines is already running "
        f"(Add docstring, job {one}): wait for it, or cancel it first."
    )
    release.set()
    assert await ended(client, one) == "Done"
    await settled(client)
    assert client.docs[py_uri].text == rewritten()
    assert len(fake.completions) == 1
    assert not [m for m in client.errors_shown() if "You edited" in m]
    if presentation == "stream":
        refused = client.final(two)
        assert refused is not None and refused["error"]["code"] == "bad_request"
        assert client.final(one)["state"] == "done"  # type: ignore[index]


async def test_a_second_rewrite_while_the_first_waits_in_review(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    """Refused while the first waits for review; once it is accepted, the same request runs on
    the rewritten text and lands exactly."""
    fake.enqueue(Reply(code=MODEL_CODE), Reply(code="def size(self):\n    return len(self.items or ())\n"))
    client = await start(init_options={**STANDARD, "review": True})
    client.open(py_uri, DOC)
    one = await start_rewrite(client, py_uri)
    assert (await ended(client, one)).startswith("Review")
    await settled(client)
    region = (
        client.docs[py_uri].text.index(EXPECTED),
        client.docs[py_uri].text.index(EXPECTED) + len(EXPECTED),
    )
    arg = {"uri": py_uri, "range": client.range(py_uri, *region), "action": "refactor"}
    two = (await client.command("deepseek.rewrite", arg))["jobId"]
    assert await ended(client, two) == "Failed"
    assert await shown(client, "of these lines") == (
        f"DeepSeek rewrite refused: A DeepSeek rewrite of these lines is waiting for review "
        f"(Add docstring, job {one}): accept or reject it first."
    )
    assert await client.command("deepseek.accept", {"jobId": one}) == {"jobId": one, "accepted": True}
    three = (await client.command("deepseek.rewrite", arg))["jobId"]
    assert (await ended(client, three)).startswith("Review")
    assert (await client.command("deepseek.accept", {"jobId": three}))["accepted"] is True
    await settled(client)
    assert client.docs[py_uri].text == DOC.replace(
        TARGET, "    def size(self):\r\n        return len(self.items or ())\r\n"
    )
    assert len(fake.completions) == 2


@pytest.mark.parametrize("presentation", ["stream", "standard"])
async def test_a_second_rewrite_right_after_the_first_ended(
    start: Start, fake: FakeDeepSeek, py_uri: str, presentation: str
) -> None:
    """The other order: the first has ended, so the lines are free; the second runs on its text."""
    fake.enqueue(Reply(code=MODEL_CODE), Reply(code="def size(self):\n    return len(self.items or ())\n"))
    client = await start(init_options={"presentation": presentation})
    client.open(py_uri, DOC)
    one = await start_rewrite(client, py_uri)
    assert await ended(client, one) == "Done"
    text = client.docs[py_uri].text
    arg = {
        "uri": py_uri,
        "range": client.range(py_uri, text.index(EXPECTED), text.index(EXPECTED) + len(EXPECTED)),
    }
    two = (await client.command("deepseek.rewrite", {**arg, "action": "refactor"}))["jobId"]
    assert await ended(client, two) == "Done"
    await settled(client)
    assert client.docs[py_uri].text == DOC.replace(
        TARGET, "    def size(self):\r\n        return len(self.items or ())\r\n"
    )
    assert busy(client) == [] and client.errors_shown() == []


async def test_a_rewrite_still_putting_its_original_back_holds_its_lines(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    """Cancelled, but the slow editor has not taken the original back yet: a new rewrite of the
    lines is refused (its edits would meet the restore's); once it is back, the lines are free."""
    release = asyncio.Event()
    fake.enqueue(
        Reply(code=MODEL_CODE * 4, delay=0.01, hang_after=3, release=release), Reply(code=MODEL_CODE)
    )
    client = await start()  # streamed: edits are in the document when it is cancelled
    client.open(py_uri, DOC)
    one = await start_rewrite(client, py_uri, action="refactor")
    await client.wait_for(
        lambda: client.docs[py_uri].text != DOC and client.in_flight == 0, what="a first edit"
    )
    client.apply.delay = 1.0
    assert await client.command("deepseek.cancel", {"jobId": one}) == {"cancelled": True}
    text = client.docs[py_uri].text
    start_at = text.index("    def size")
    arg = {"uri": py_uri, "range": client.range(py_uri, start_at, start_at + 10), "action": "docstring"}
    two = (await client.command("deepseek.rewrite", arg))["jobId"]
    assert await ended(client, two) == "Failed"
    assert await shown(client, "of these lines") == (
        f"DeepSeek rewrite refused: A DeepSeek rewrite of these lines is still putting its original back "
        f"(Refactor, job {one}): try again in a moment."
    )
    assert (await client.wait_done(one))["state"] == "cancelled"
    await settled(client)
    assert client.docs[py_uri].text == DOC
    client.apply.delay = 0.0
    three = await start_rewrite(client, py_uri)
    assert (await client.wait_done(three))["state"] == "done"
    assert client.docs[py_uri].text == rewritten()


async def test_rewrites_of_separate_lines_run_together(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """Regions that do not overlap both run at once, each one's edits moving the other."""
    release = asyncio.Event()
    fake.enqueue(
        Reply(code=MODEL_CODE, delay=0.01, hang_after=1, release=release),
        Reply(code="def empty(self):\n    return len(self.items) == 0\n", delay=0.01),
    )
    client = await start()
    client.open(py_uri, DOC)
    one = await start_rewrite(client, py_uri)
    await client.wait_for(lambda: client.docs[py_uri].text != DOC, what="a first edit")
    other = client.docs[py_uri].text.index("    def empty")
    arg = {
        "uri": py_uri,
        "range": client.range(py_uri, other, len(client.docs[py_uri].text)),
        "instruction": "len",
    }
    two = (await client.command("deepseek.rewrite", arg))["jobId"]
    assert (await client.wait_done(two))["state"] == "done"
    release.set()
    assert (await client.wait_done(one))["state"] == "done"
    await settled(client)
    assert client.docs[py_uri].text == rewritten().replace(
        "return not self.items", "return len(self.items) == 0"
    )
    assert busy(client) == []


def test_doc_constants() -> None:
    """The tests above lean on the contract suite's document: the docstring is inserted."""
    a, b = span(DOC, {"start": {"line": 4, "character": 0}, "end": {"line": 6, "character": 0}}, "utf-16")
    assert DOC[a:b] == TARGET and DOC[START:END] == TARGET
    assert EXPECTED.replace(INSERTED, "", 1) == TARGET
