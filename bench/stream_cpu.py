"""Server CPU per streamed token, short reply against long: `.venv/bin/python -m bench.stream_cpu`.

Issue 11's acceptance: a 200k-token reply costs at most 2x the CPU per token of a 20k-token one
(stream handling linear in the reply). The real server runs over stdio (bench/lsp.py) against the
fake DeepSeek in its own process (bench/fake.py), which sends the chunks as fast as it can; the
server's CPU is read from the scheduler's accounting (/proc/<pid>/task/*/schedstat) around each
job, so the client's and the fake's work are not counted.

Cases: explain 20k and 200k tokens, and a rewrite streamed into a document, 20k and 200k tokens
(the rewrite's selection is as long as its answer, so no output bound cuts it short).
`--profile DIR` runs the server under cProfile and writes DIR/server.prof at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from .fake import FakeProcess
from .lsp import LspClient
from .run import cpu_seconds, rng, sample_text, server_cmd, server_env

URI = "file:///tmp/deepseek-bench/project/stream_cpu.py"
REWRITE_URI = "file:///tmp/deepseek-bench/project/stream_cpu_rewrite_{}.py"


class QuietClient(LspClient):
    """Applies edits like an editor but keeps no copy of each version (a 200k-token rewrite
    makes thousands of megabyte-sized versions)."""

    def _apply(self, t: float, edit: dict[str, Any]) -> dict[str, Any]:
        result = super()._apply(t, edit)
        for versions in self.edits.values():
            del versions[:-1]
        return result


def reply_tokens(n: int, tag: str) -> list[str]:
    """n word-sized tokens of prose, a newline every 12 tokens (an explanation's shape)."""
    return [f" {tag}{i}" + ("\n" if i % 12 == 11 else "") for i in range(n)]


def code_tokens(n: int, tag: str) -> tuple[list[str], str]:
    """n tokens of code, six a line as DeepSeek splits code, and the original it rewrites."""
    toks: list[str] = []
    lines: list[str] = []
    for i in range(n // 6):
        toks += [f"v{tag}{i}", " =", f" compute{i}(", "a", ", b", ")\n"]
        lines.append(f"v{tag}{i} = old{i}(a, b)\n")
    return toks, "".join(lines)


async def run_job(c: LspClient, fake: FakeProcess, kind: str, n: int, timeout: float) -> dict[str, Any]:
    tag = f"{kind[0]}{n}x"
    if kind == "explain":
        toks = reply_tokens(n, tag)
        await fake.enqueue({"chunks": toks, "delay": 0})
        arg: dict[str, Any] = {"uri": URI, "range": rng(4, 0, 14, 15)}
        command = "deepseek.explain"
    else:
        toks, original = code_tokens(n, tag)
        uri = REWRITE_URI.format(tag)
        c.open(uri, original)
        await c.command("deepseek.status", {})  # a round trip: the document is open
        await fake.enqueue({"chunks": toks, "delay": 0})
        lines = original.count("\n")
        arg = {"uri": uri, "range": rng(0, 0, lines, 0), "instruction": "rename"}
        command = "deepseek.rewrite"
    run0, wait0 = cpu_seconds(c.pid)
    t0 = time.perf_counter()
    _, _, result = await c.command(command, arg)
    final = await c.wait_done(result["jobId"], timeout=timeout)
    wall = time.perf_counter() - t0
    run1, wait1 = cpu_seconds(c.pid)
    cpu = run1 - run0
    return {
        "kind": kind,
        "tokens": len(toks),
        "chars": sum(map(len, toks)),
        "state": final.get("state"),
        "error": (final.get("error") or {}).get("message"),
        "server_cpu_s": round(cpu, 3),
        "cpu_us_per_token": round(cpu / len(toks) * 1e6, 2),
        "wall_s": round(wall, 2),
        "runqueue_wait_s": round(wait1 - wait0, 3),
        "notifications": len(c.by_job.get(result["jobId"], [])),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cmd = server_cmd()
    if args.profile:  # the directory is made by main(), before the loop runs
        cmd = [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(Path(args.profile) / "server.prof"),
            "-m",
            "deepseek_lsp",
        ]
    async with FakeProcess() as fake:
        env = {**server_env(fake.base_url), "DEEPSEEK_MODEL": "deepseek-v4-flash"}  # 384K output
        c = QuietClient(cmd, env)
        await c.spawn()
        # room for a 200k-token rewrite: the guards against runaway rewrites are not measured here
        await c.initialize(
            {
                "review": False,
                "rewriteMaxTokens": 393_216,  # the V4 models' output limit
                "maxSelectionChars": 100_000_000,
                "contextWindow": 100_000_000,
            }
        )
        c.open(URI, sample_text())
        try:
            await run_job(c, fake, "explain", 2_000, 60)  # warm: imports, pools, caches
            kinds = [k for k in ("explain", "rewrite") if k in args.kinds.split(",")]
            for kind in kinds:
                small = await run_job(c, fake, kind, args.small, 600)
                large = await run_job(c, fake, kind, args.large, 1800)
                ratio = large["cpu_us_per_token"] / small["cpu_us_per_token"]
                out[kind] = {"small": small, "large": large, "ratio": round(ratio, 2)}
        finally:
            await c.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--small", type=int, default=20_000, help="tokens in the short reply")
    p.add_argument("--large", type=int, default=200_000, help="tokens in the long reply")
    p.add_argument("--kinds", default="explain,rewrite", help="comma list: explain,rewrite")
    p.add_argument("--profile", help="run the server under cProfile; write DIR/server.prof")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    out = asyncio.run(main_async(args))
    for kind, r in out.items():
        for size in ("small", "large"):
            x = r[size]
            print(
                f"{kind:8} {x['tokens']:>7} tokens: {x['server_cpu_s']:7.2f} s server CPU, "
                f"{x['cpu_us_per_token']:7.1f} µs/token, wall {x['wall_s']:6.1f} s, "
                f"{x['notifications']} notifications, {x['state']}"
                + (f" ({x['error']})" if x["error"] else "")
            )
        verdict = "ok" if r["ratio"] <= 2 else "OVER the 2x target"
        print(f"{kind:8} CPU per token, large / small: {r['ratio']:.2f}x ({verdict})")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0 if all(r["ratio"] <= 2 for r in out.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
