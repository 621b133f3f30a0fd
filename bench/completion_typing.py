"""Inline completion while typing: `.venv/bin/python -m bench.completion_typing [--json PATH]`.

Issue 13's acceptance, measured through the real server process over stdio (`bench/lsp.py`)
against the fake DeepSeek in its own process (`bench/fake.py`). A user retypes stretches of a
real source file of this repository (`server/deepseek_lsp/positions.py`) at 10
characters a second: bursts of 3 to 12 keystrokes 100 ms apart, a hesitation of 250-450 ms now
and then, and a pause of 0.5-1.0 s after each burst (a seeded random script: every run types
the same). Every keystroke is a `didChange` and an automatic `textDocument/inlineCompletion`
request at the new cursor, sent without waiting for the previous answer (as Neovim does).

Two phases, each on a fresh server with the default settings (debounce 75 ms):

- **at once**: the fake answers every FIM request at once. Reported: the server's overhead
  from the client's request to its response, without the debounce and the fake's own time
  (for an answer that needed DeepSeek: (the fake saw the request - the client sent it - the
  wait the server's `Rhythm` gives, replayed on the client's send times) + (the client read the
  response - the fake wrote its last byte); for an answer from the cache or without a
  request: the whole time); upstream requests per pause and during typing; the share of prompt
  tokens that were cache hits by the fake's accounting (64-token units, as DeepSeek).
- **slow upstream**: the fake starts answering 300 ms after a request, as DeepSeek may.
  Reported: superseded requests (typing resumed while one was in flight) and how fast the fake
  saw each one's connection closed after the client sent the request that superseded it.

Targets (issue 13): overhead p50 <= 5 ms and p99 <= 15 ms; at most one upstream request per
pause; every superseded request closed upstream within 20 ms; >= 70% of prompt tokens cache
hits. `--scale 0.5` runs the same script twice as fast (the server's debounce and the fake's
latency scaled too: the debounce relative to the keystrokes is what matters).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fake import FakeProcess
from .lsp import LspClient
from .run import BENCH, ROOT, dist_ms, server_cmd, server_env

sys.path.insert(0, str(ROOT / "server"))

from deepseek_lsp.completion.engine import Rhythm
from deepseek_lsp.completion.quality import literal_at

SOURCE = ROOT / "server/deepseek_lsp/positions.py"
URI = "file:///tmp/deepseek-bench/project/positions.py"
DEBOUNCE_MS = 75
KEY_GAP = 0.1  # 10 characters a second
PAUSE_GAP = 0.25  # a gap at least this long is a pause (a hesitation or the end of a burst)
SLOW_FIRST_TOKEN = 0.3
TARGETS = {"p50_ms": 5.0, "p99_ms": 15.0, "per_pause": 1, "close_ms": 20.0, "hit_share": 0.70}


@dataclass
class Key:
    """One keystroke: the gap before it, the character, and what the client saw."""

    gap: float
    char: str
    sent: float = 0.0
    answered: float = 0.0
    items: list[str] = field(default_factory=list)
    before: str = ""  # the document's text before the cursor after this keystroke (last chars)


def places(text: str, count: int, longest: int = 70, shift: float = 0.0) -> list[int]:
    """Where typing starts: the code (after the indentation) of indented lines of 20 to
    `longest` characters spread through the file, outside docstrings and comments."""
    found: list[int] = []
    for i in range(1, count + 1):
        pos = text.rfind("\n", 0, int(len(text) * (i + shift) / (count + 1))) + 1
        while pos < len(text):
            end = text.find("\n", pos)
            line = text[pos:end]
            body = line.lstrip()
            code = pos + len(line) - len(body)
            if (
                line.startswith("        ")
                and body[:1].isalpha()
                and 20 <= len(body) <= longest
                and not body.startswith(("return", "#"))
                and literal_at(text, code + 1, "python") == ""
            ):
                break
            pos = end + 1
        found.append(code)
    return found


def stretch(text: str, at: int, chars: int) -> int:
    """The end of the whole lines from `at` (without the last line end) that hold at most
    `chars` characters (at least one line): what is retyped, so the code after the cursor stays
    whole, as when someone writes new lines."""
    end = text.find("\n", at)
    while True:
        following = text.find("\n", end + 1)
        if following < 0 or following - at > chars:
            return end
        end = following


def script(text: str, at: int, end: int, rng: random.Random) -> list[Key]:
    """The keystrokes that retype text[at:end], with bursts, hesitations and pauses."""
    keys: list[Key] = []
    left = 0
    for ch in text[at:end]:
        if left == 0:
            left = rng.randint(3, 12)
            gap = rng.uniform(0.5, 1.0)
        elif rng.random() < 0.12:
            gap = rng.uniform(0.25, 0.45)
        else:
            gap = KEY_GAP
        keys.append(Key(gap, ch))
        left -= 1
    return keys


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def position(text: str, offset: int) -> dict[str, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return {"line": text.count("\n", 0, offset), "character": utf16(text[line_start:offset])}


async def type_session(
    client: LspClient, original: str, at: int, keys: list[Key], scale: float, version: list[int]
) -> list[asyncio.Future[tuple[float, Any]]]:
    """Delete the stretch the keys retype (one edit), then type it, one request per keystroke."""
    chars = len(keys)
    text = original
    end = at + chars
    version[0] += 1
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": URI, "version": version[0]},
            "contentChanges": [
                {"range": {"start": position(text, at), "end": position(text, end)}, "text": ""}
            ],
        },
    )
    text = text[:at] + text[end:]
    futures = []
    cursor = at
    loop = asyncio.get_running_loop()
    next_time = loop.time()
    for key in keys:
        next_time += key.gap * scale
        await asyncio.sleep(max(0.0, next_time - loop.time()))
        pos = position(text, cursor)
        version[0] += 1
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": URI, "version": version[0]},
                "contentChanges": [{"range": {"start": pos, "end": pos}, "text": key.char}],
            },
        )
        text = text[:cursor] + key.char + text[cursor:]
        cursor += 1
        key.before = text[max(0, cursor - 120) : cursor]
        key.sent, fut = client.send_request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": URI},
                "position": position(text, cursor),
                "context": {"triggerKind": 2},
            },
        )
        futures.append(fut)
    await asyncio.sleep(1.5 * scale)  # the last pause
    # put the original back (one edit) for the next place
    version[0] += 1
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": URI, "version": version[0]}, "contentChanges": [{"text": original}]},
    )
    return futures


async def phase(
    fake: FakeProcess,
    log: Any,
    sessions: list[tuple[int, list[Key]]],
    original: str,
    scale: float,
    slow: bool = False,
    oracle: bool = False,
) -> dict[str, Any]:
    await fake.reset()
    if slow:
        await fake.enqueue({"first_delay": SLOW_FIRST_TOKEN * scale, "repeat": 100_000})
    if oracle:  # FIM answers what the file really holds next: a model that guesses right
        assert fake.http is not None
        (await fake.http.post("/_fake/config", json={"fim_oracle": original})).raise_for_status()
    client = LspClient(server_cmd(), server_env(fake.base_url), stderr=log)
    await client.spawn()
    debounce = max(1, round(DEBOUNCE_MS * scale))
    await client.initialize({"completion": {"debounce": debounce}})
    client.open(URI, original)
    version = [1]
    all_keys: list[Key] = []
    starts: list[float] = []
    try:
        for at, keys in sessions:
            starts.append(time.perf_counter())
            futures = await type_session(client, original, at, keys, scale, version)
            for key, fut in zip(keys, futures, strict=True):
                key.answered, result = await asyncio.wait_for(fut, 30)
                key.items = [i["insertText"] for i in (result or {}).get("items", [])]
            all_keys.extend(keys)
        _, status = await client.request(
            "workspace/executeCommand", {"command": "deepseek.status", "arguments": [{}]}
        )
    finally:
        await client.close()
    records = [r for r in await fake.requests() if r["path"].endswith("/beta/completions")]
    return analyse(all_keys, records, debounce / 1000, status["completion"], starts)


def analyse(
    keys: list[Key],
    records: list[dict[str, Any]],
    debounce: float,
    status: dict[str, Any],
    starts: list[float],
) -> dict[str, Any]:
    """The figures of one phase from the client's keystrokes and the fake's records; `starts`
    are the times typing began at each place."""
    sends = [k.sent for k in keys]
    firsts = {min((r["started"] for r in records if r["started"] >= s), default=-1.0) for s in starts}
    # the wait the server gave each request, replayed (the same pure code, the client's times)
    rhythm = Rhythm()
    waits = []
    for k in keys:
        rhythm.observe(URI, k.sent)
        waits.append(rhythm.wait(debounce))

    def record_for(i: int) -> dict[str, Any] | None:
        k = keys[i]
        for r in records:
            if k.sent < r["started"] < k.answered and r["body"]["prompt"].endswith(k.before[-60:]):
                return r
        return None

    overhead: list[float] = []
    before_fake: list[float] = []  # request -> the fake, without the wait
    after_fake: list[float] = []  # the fake's last byte -> the response
    cached: list[float] = []
    cached_shown: list[int] = []
    superseded = 0
    for i, k in enumerate(keys):
        if i + 1 < len(keys) and k.answered > keys[i + 1].sent:
            superseded += 1  # answered when the next keystroke's request came: not overhead
            continue
        r = record_for(i)
        if r is None:
            cached.append(k.answered - k.sent)
            if k.items:
                cached_shown.append(i)
            overhead.append(k.answered - k.sent)
        else:
            last = r["chunk_times"][-1] if r["chunk_times"] else r["ended"]
            before_fake.append(r["started"] - k.sent - waits[i])
            after_fake.append(k.answered - last)
            overhead.append(before_fake[-1] + after_fake[-1])
    # upstream requests by the gap they started in: a pause (>= PAUSE_GAP) or typing
    per_pause: list[int] = []
    during_typing = 0
    for i in range(len(keys)):
        lo = sends[i]
        hi = sends[i + 1] if i + 1 < len(keys) else float("inf")
        n = sum(1 for r in records if lo <= r["started"] < hi)
        gap = (hi - lo) if i + 1 < len(keys) else float("inf")
        if gap >= PAUSE_GAP:
            per_pause.append(n)
        else:
            during_typing += n
    # superseded upstream requests: closed by the client, how long after the newer request
    closes: list[float] = []
    not_closed = 0
    for r in records:
        newer = next((s for s in sends if s > r["started"]), None)
        if r["disconnected"]:
            closes.append(r["disconnected_at"] - (newer if newer is not None else r["started"]))
        elif newer is not None and r["ended"] is not None and r["ended"] > newer + 0.05:
            not_closed += 1  # answered in full although a newer request had come
    hit = sum((r.get("usage") or {}).get("prompt_cache_hit_tokens", 0) for r in records)
    total = sum((r.get("usage") or {}).get("prompt_tokens", 0) for r in records)
    # the same without each place's first request (a new place: a new prompt, nothing to share)
    later = [r for r in records if r["started"] not in firsts]
    hit_later = sum((r.get("usage") or {}).get("prompt_cache_hit_tokens", 0) for r in later)
    total_later = sum((r.get("usage") or {}).get("prompt_tokens", 0) for r in later)
    return {
        "keystrokes": len(keys),
        "pauses": len(per_pause),
        "upstream": len(records),
        "upstream_per_pause": {
            "max": max(per_pause, default=0),
            "mean": round(sum(per_pause) / len(per_pause), 3) if per_pause else 0,
            "histogram": {str(n): per_pause.count(n) for n in sorted(set(per_pause))},
        },
        "upstream_during_typing": during_typing,
        "superseded_answers": superseded,
        "overhead_ms": dist_ms(overhead),
        "overhead_all_s": overhead,
        "overhead_cache_ms": dist_ms(cached),
        "overhead_to_fake_ms": dist_ms(before_fake),
        "overhead_from_fake_ms": dist_ms(after_fake),
        "closed_upstream": len(closes),
        "close_ms": dist_ms(closes),
        "superseded_not_closed": not_closed,
        "prompt_tokens": total,
        "cache_hit_share": round(hit / total, 4) if total else None,
        "cache_hit_share_after_first": round(hit_later / total_later, 4) if total_later else None,
        "suggestions_shown": sum(1 for k in keys if k.items),
        # keystrokes answered at once with the rest of a suggestion the user was typing
        "typed_through": len(cached_shown),
        "server_status": status,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=3, help="places retyped in the 'at once' phase")
    parser.add_argument("--slow-places", type=int, default=2, help="places retyped in the slow phase")
    parser.add_argument("--oracle-places", type=int, default=2, help="places retyped with right guesses")
    parser.add_argument(
        "--chars", type=int, default=50, help="characters retyped at each place (whole lines)"
    )
    parser.add_argument("--slow-chars", type=int, default=30, help="the same in the slow phase")
    parser.add_argument("--scale", type=float, default=1.0, help="time scale (0.5: twice as fast)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


async def run(args: argparse.Namespace) -> int:
    original = SOURCE.read_text(encoding="utf-8")
    rng = random.Random(args.seed)
    spots = (
        places(original, args.places)
        + places(original, args.slow_places, args.slow_chars, shift=0.5)
        + places(original, args.oracle_places, args.chars, shift=0.25)
    )
    n, m = args.places, args.places + args.slow_places
    sessions = []
    for i, at in enumerate(spots):
        chars = args.slow_chars if n <= i < m else args.chars
        sessions.append((at, script(original, at, stretch(original, at, chars), rng)))
    started = time.perf_counter()
    with open(BENCH / "last-server.log", "wb") as log:  # noqa: ASYNC230 (before anything runs)
        async with FakeProcess() as fake:
            fast = await phase(fake, log, sessions[:n], original, args.scale)
            slow = await phase(fake, log, sessions[n:m], original, args.scale, slow=True)
            right = await phase(fake, log, sessions[m:], original, args.scale, oracle=True)
            await fake.reset()
            streaming = await stream_or_whole(fake, original)
    results = {
        "stream_or_whole": streaming,
        "at_once": fast,
        "slow_upstream": slow,
        "guessed_right": right,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(report(results, args))
    if args.json:
        payload = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "scale": args.scale,
            **results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


async def stream_or_whole(fake: FakeProcess, text: str, n: int = 40) -> dict[str, Any]:
    """The FIM client alone (`complete_fim`, no server) against the fake answering at once: its
    own time (request -> the fake, and the fake's last byte -> the answer) for a streamed and a
    whole (non-streamed) answer, short (a line) and long (~200 tokens)."""
    from deepseek_lsp.client import ClientConfig, DeepSeekClient
    from deepseek_lsp.completion.prompt import build_fim, fim_request

    from .fake import KEY

    client = DeepSeekClient(ClientConfig(base_url=fake.base_url, api_key=KEY))
    at = len(text) // 2
    fim = build_fim(text, at, "python", "positions.py")
    assert fim is not None
    out: dict[str, Any] = {}
    try:
        for label, content in (("short", "x = 1"), ("long", text[at : at + 700])):
            for stream in (True, False):
                times = []
                for i in range(n):
                    await fake.enqueue({"content": content})
                    body = fim_request(fim, model="deepseek-flash", max_tokens=4096, stream=stream)
                    body["prompt"] += f"# {i}\n"
                    sent = time.perf_counter()
                    await client.complete_fim(body)
                    times.append((sent, time.perf_counter()))
                records = [r for r in await fake.requests() if r["path"].endswith("/beta/completions")][-n:]
                own = [
                    (r["started"] - a) + (b - r["chunk_times"][-1])
                    for (a, b), r in zip(times, records, strict=True)
                ]
                out[f"{label}_{'stream' if stream else 'whole'}_ms"] = dist_ms(own[5:])
    finally:
        await client.aclose()
    return out


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    fast, slow, right = r["at_once"], r["slow_upstream"], r["guessed_right"]
    o, c, oc = fast["overhead_ms"], slow["close_ms"], right["overhead_cache_ms"]
    everything = fast["overhead_all_s"] + right["overhead_all_s"]
    both = dist_ms(everything)
    per_pause = [p["upstream_per_pause"] for p in (fast, slow, right)]
    worst_pause = max(p["max"] for p in per_pause)
    share = fast["cache_hit_share"] or 0.0
    later = fast["cache_hit_share_after_first"] or 0.0
    closed_ok = slow["superseded_not_closed"] == 0 and (c.get("n", 0) == 0 or c["max"] <= TARGETS["close_ms"])

    def ok(flag: bool) -> str:
        return "ok" if flag else "MISS"

    def three(key: str) -> str:
        return " / ".join(str(p[key]) for p in (fast, slow, right))

    rows = [
        (
            "keystrokes; pauses (at once / slow / guessed right)",
            f"{three('keystrokes')}; {three('pauses')}",
            "",
        ),
        (
            "server overhead ms p50 / p99 / max (n), at once and guessed right",
            f"{both['p50']} / {both['p99']} / {both['max']} ({both['n']})",
            f"p50 <= 5, p99 <= 15: {ok(both['p50'] <= 5 and both['p99'] <= 15)}",
        ),
        ("  answers that needed DeepSeek (at once)", f"{o['p50']} / {o['p99']} / {o['max']} ({o['n']})", ""),
        (
            "  answers from the cache (guessed right)",
            f"{oc.get('p50')} / {oc.get('p99')} / {oc.get('max')} ({oc.get('n', 0)})",
            "",
        ),
        (
            "upstream requests per pause, max (mean)",
            " / ".join(f"{p['max']} ({p['mean']})" for p in per_pause),
            f"<= 1: {ok(worst_pause <= 1)}",
        ),
        ("upstream requests started while typing (gap < 250 ms)", three("upstream_during_typing"), ""),
        (
            "slow upstream: superseded requests closed; ms to close p50 / max",
            f"{slow['closed_upstream']}; {c.get('p50')} / {c.get('max')}",
            f"<= 20 ms: {ok(closed_ok)}",
        ),
        ("slow upstream: superseded but answered in full", f"{slow['superseded_not_closed']}", ""),
        (
            "prompt tokens that were cache hits (at once): all / after each place's first",
            f"{share:.1%} / {later:.1%} of {fast['prompt_tokens']:,}",
            f">= 70%: {ok(share >= 0.7)}",
        ),
        ("suggestions shown", three("suggestions_shown"), ""),
        (
            "guessed right: keystrokes answered by typing through, no request",
            f"{right['typed_through']} of {right['keystrokes']}",
            "",
        ),
        (
            "FIM client's own time ms p50, short answer: stream / whole",
            f"{r['stream_or_whole']['short_stream_ms']['p50']} / {r['stream_or_whole']['short_whole_ms']['p50']}",
            "",
        ),
        (
            "  long answer (~200 tokens, all at once): stream / whole",
            f"{r['stream_or_whole']['long_stream_ms']['p50']} / {r['stream_or_whole']['long_whole_ms']['p50']}",
            "",
        ),
        ("run time, s", f"{r['seconds']}", ""),
    ]
    width = max(len(a) for a, _, _ in rows)
    lines = [f"inline completion while typing (scale {args.scale}, {SOURCE.relative_to(ROOT)}):"]
    lines += [f"  {a:<{width}}  {b:<30} {t}" for a, b, t in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
