"""What one `didChange` costs the server on a large document:
`.venv/bin/python -m bench.didchange [--lines 20000] [--changes 10000] [--only plain,explain,rewrite,both]`.

The real server process over stdio (bench/lsp.py) and the fake DeepSeek in its own process.
Each scenario opens a 20,000-line document in a fresh server, optionally with 8 explanations
tracked on it (`explain`) and/or a rewrite holding mid-stream (`rewrite`: the fake holds its
reply, so the rewrite's region follows every change), then types: single-character inserts
before every tracked range (so each one moves), a line break every 40 characters.

Two measures, both net of a `deepseek.status` request's own cost (its median, measured alone):
- per change: batches of 10 changes then a request; (the server's CPU for the batch and the
  answer) / 10, from the kernel's scheduler accounting (/proc/PID/task/*/schedstat), and the
  wall time from the batch's first byte to the answer / 10. p50/p99 over the batches.
- burst: N changes at once, then a request: how long the server is deaf (the issue's "a burst
  of 10,000 changes stalls the server 30 s"), and its CPU / N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .fake import FakeProcess
from .lsp import LspClient
from .run import cpu_seconds, pct, rng, sample_text, server_cmd, server_env

BENCH = Path(__file__).resolve().parent
URI = "file:///tmp/deepseek-bench/project/big.py"
BATCH = 10
LINE = 40  # a line break every LINE characters


class Typist:
    """Single-character didChange events at a moving cursor, as an editor sends them."""

    def __init__(self, c: LspClient, uri: str, line: int) -> None:
        self.c, self.uri, self.line, self.col = c, uri, line, 0
        self.typed: list[str] = []
        self.version = c.docs[uri].version

    def send(self, n: int) -> None:
        for _ in range(n):
            k = len(self.typed)
            ch = "\n" if k % LINE == LINE - 1 else "abcdefghijklmnopqrstuvwxyz"[k % 26]
            self.version += 1
            pos = {"line": self.line, "character": self.col}
            self.c.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": self.uri, "version": self.version},
                    "contentChanges": [{"range": {"start": pos, "end": pos}, "rangeLength": 0, "text": ch}],
                },
            )
            self.typed.append(ch)
            if ch == "\n":
                self.line, self.col = self.line + 1, 0
            else:
                self.col += 1

    def sync(self, original: str, at: int) -> None:
        """The client's copy of the document: everything typed went in at offset `at`."""
        doc = self.c.docs[self.uri]
        doc.text = original[:at] + "".join(self.typed) + original[at:]
        doc.version = self.version


async def status(c: LspClient) -> float:
    """Send a cheap request and wait for its answer; returns when it was answered."""
    t, _ = await c.request("workspace/executeCommand", {"command": "deepseek.status", "arguments": []}, 120)
    return t


def dist(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(pct(values, 50), 4),
        "p90": round(pct(values, 90), 4),
        "p99": round(pct(values, 99), 4),
        "max": round(max(values), 4),
        "mean": round(statistics.fmean(values), 4),
    }


async def scenario(fake: FakeProcess, name: str, lines: int, changes: int, log: Any) -> dict[str, Any]:
    type_at = lines // 10  # the line typed on: before every tracked range
    first_explained = lines // 4
    explains = name in ("explain", "both")
    rewriting = name in ("rewrite", "both")
    c = LspClient(server_cmd(), server_env(fake.base_url), stderr=log)
    await c.spawn()
    try:
        await c.initialize()
        text = sample_text(lines)
        c.open(URI, text)
        await status(c)
        if explains:  # 8 explanations spread over the document after the typing
            for k in range(8):
                await fake.enqueue({"chunks": [f" explanation {k}."]})
                first = first_explained + k * (lines // 2) // 8
                _, _, r = await c.command(
                    "deepseek.explain", {"uri": URI, "range": rng(first, 0, first + 5, 10)}
                )
                await c.wait_done(r["jobId"])
        rewrite_job = None
        if rewriting:  # a rewrite that has written two lines, then waits for the model
            await fake.enqueue({"chunks": ["new_a = 1\n", "new_b = 2\n", "new_c = 3\n"], "hold_after": 2})
            mid = lines // 2
            _, _, r = await c.command(
                "deepseek.rewrite", {"uri": URI, "range": rng(mid, 0, mid + 3, 0), "instruction": "rewrite"}
            )
            rewrite_job = r["jobId"]
            await c.wait(lambda: "new_b = 2" in c.docs[URI].text, 30)
        original = c.docs[URI].text
        at = sum(len(x) for x in original.splitlines(True)[:type_at])
        edits0 = sum(len(v) for v in c.edits.values())

        # the cost of the probe request alone
        base_wall, base_cpu = [], []
        for _ in range(200):
            cpu0 = cpu_seconds(c.pid)[0]
            t0 = time.perf_counter()
            t1 = await status(c)
            base_cpu.append(cpu_seconds(c.pid)[0] - cpu0)
            base_wall.append(t1 - t0)
        bw, bc = statistics.median(base_wall), statistics.median(base_cpu)

        typist = Typist(c, URI, type_at)
        per_wall, per_cpu = [], []
        for _ in range(max(1, changes // BATCH)):
            cpu0 = cpu_seconds(c.pid)[0]
            t0 = time.perf_counter()
            typist.send(BATCH)
            t1 = await status(c)
            per_cpu.append((cpu_seconds(c.pid)[0] - cpu0 - bc) / BATCH * 1000)
            per_wall.append((t1 - t0 - bw) / BATCH * 1000)

        cpu0, wait0 = cpu_seconds(c.pid)
        t0 = time.perf_counter()
        typist.send(changes)
        t1 = await status(c)
        cpu1, wait1 = cpu_seconds(c.pid)
        burst_cpu = cpu1 - cpu0 - bc
        burst_wall = t1 - t0 - bw

        moved = sum(len(v) for v in c.edits.values()) != edits0
        typist.sync(original, at)
        result: dict[str, Any] = {
            "lines": lines,
            "explanations": 8 if explains else 0,
            "rewrite_running": rewriting,
            "probe_request_ms": {"wall": round(bw * 1000, 3), "cpu": round(bc * 1000, 3)},
            "per_change_cpu_ms": dist(per_cpu),
            "per_change_wall_ms": dist(per_wall),
            "burst": {
                "changes": changes,
                "deaf_s": round(burst_wall, 3),
                "cpu_ms_per_change": round(burst_cpu / changes * 1000, 4),
                # time the server was runnable but another process had the CPU (a busy machine)
                "runqueue_wait_s": round(wait1 - wait0, 3),
            },
        }
        if moved:
            result["note"] = "the server edited the document during the burst: the figures mix in its edits"
        if rewrite_job is not None:
            await fake.release()
            final = await c.wait_done(rewrite_job, 60)
            result["rewrite_state"] = final.get("state")
            doc = c.docs[URI].text
            result["rewrite_kept_typing"] = "".join(typist.typed) in doc and "new_c = 3" in doc
        if explains:
            _, hover = await c.request(
                "textDocument/hover",
                {
                    "textDocument": {"uri": URI},
                    "position": {"line": first_explained + typist.line - type_at, "character": 2},
                },
            )
            result["hover_followed"] = bool(hover) and "explanation 0" in json.dumps(hover)
        return result
    finally:
        await c.close()


async def run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    names = args.only.split(",") if args.only else ["plain", "explain", "rewrite", "both"]
    out: dict[str, Any] = {}
    async with FakeProcess() as fake:
        for name in names:
            t0 = time.perf_counter()
            out[name] = await scenario(fake, name, args.lines, args.changes, log)
            out[name]["bench_s"] = round(time.perf_counter() - t0, 1)
            print(f"{name}: {json.dumps(out[name])}", file=sys.stderr)
    return out


def table(results: dict[str, Any]) -> str:
    rows = [
        f"{'scenario':<10} {'cpu p50':>9} {'cpu p99':>9} {'wall p50':>9} {'wall p99':>9} "
        f"{'burst N':>8} {'deaf s':>8} {'waited s':>8} {'cpu/chg':>8}   (ms per change)"
    ]
    for name, r in results.items():
        pc, pw, b = r["per_change_cpu_ms"], r["per_change_wall_ms"], r["burst"]
        rows.append(
            f"{name:<10} {pc['p50']:>9.3f} {pc['p99']:>9.3f} {pw['p50']:>9.3f} {pw['p99']:>9.3f} "
            f"{b['changes']:>8} {b['deaf_s']:>8.2f} {b['runqueue_wait_s']:>8.2f} {b['cpu_ms_per_change']:>8.3f}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.didchange", description=__doc__)
    p.add_argument("--lines", type=int, default=20_000)
    p.add_argument("--changes", type=int, default=10_000, help="changes per phase (batched, then one burst)")
    p.add_argument("--only", help="comma list: plain,explain,rewrite,both")
    p.add_argument("--json", default=str(BENCH / "didchange.json"), help="where to write the results")
    args = p.parse_args(argv)
    with open(BENCH / "last-server.log", "wb") as log:  # the servers' stderr, for a post-mortem
        results = asyncio.run(run(args, log))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
