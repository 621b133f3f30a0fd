"""deepseek-lsp benchmarks: `.venv/bin/python -m bench [--json PATH] [--quick] [--only NAMES]`.

The real server process (`deepseek-lsp`, stdio) and a real LSP client (bench/lsp.py) against the
fake DeepSeek in its own process on 127.0.0.1. Prints a table and writes JSON
(bench/results.json by default). See docs/benchmarks.md for the method.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .fake import KEY, FakeProcess
from .lsp import LspClient, Stamped

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
URI = "file:///tmp/deepseek-bench/project/graph.py"

TARGETS = {
    "stream_p99_ms": 5.0,
    "hover_p99_ms": 20.0,
    "cold_start_ms": 400.0,
    "idle_rss_mb": 60.0,
}


# ---------------------------------------------------------------------------------------------
# helpers


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank on sorted data, in the values' own unit."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def dist_ms(values_s: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values_s]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": round(pct(ms, 50), 3),
        "p95": round(pct(ms, 95), 3),
        "p99": round(pct(ms, 99), 3),
        "max": round(max(ms), 3),
        "mean": round(statistics.fmean(ms), 3),
    }


def rss_mb(pid: int) -> float:
    try:
        import psutil

        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except ImportError:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU seconds the process ran, seconds it waited runnable for a CPU) so far, from the
    scheduler's own nanosecond accounting: the first is what the server costs, the second what
    a busy machine added to the wall time."""
    run = wait = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError):
            r, w, _ = stat.read_text().split()
            run += int(r)
            wait += int(w)
    return run / 1e9, wait / 1e9


def sample_text(lines: int = 240) -> str:
    """A plausible Python module, ASCII only."""
    out = ["import heapq", "import itertools", "", ""]
    i = 0
    while len(out) < lines:
        out += [
            f"def shortest_{i}(graph, source):",
            f'    """Dijkstra number {i}."""',
            "    dist = {source: 0}",
            "    queue = [(0, source)]",
            "    while queue:",
            "        d, node = heapq.heappop(queue)",
            "        for nxt, w in graph[node].items():",
            "            if d + w < dist.get(nxt, float('inf')):",
            "                dist[nxt] = d + w",
            "                heapq.heappush(queue, (d + w, nxt))",
            "    return dist",
            "",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def rng(l1: int, c1: int, l2: int, c2: int) -> dict[str, Any]:
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}


def tokens(n: int, tag: str = "") -> list[str]:
    """n distinct word-sized tokens (a DeepSeek token is ~4 characters)."""
    return [f" w{tag}{i}" for i in range(n)]


def content_overheads(notes: list[Stamped], chunk_times: list[float], toks: list[str]) -> list[float]:
    """Per token: when the client held it (first notification reaching its last char) minus when
    it left the fake (chunk_times[0] is the role-only chunk)."""
    out: list[float] = []
    ends = []
    total = 0
    for t in toks:
        total += len(t)
        ends.append(total)
    cum = 0
    j = 0
    for s in notes:
        c = s.params.get("content")
        if not c:
            continue
        cum += len(c)
        while j < len(ends) and ends[j] <= cum:
            out.append(s.t - chunk_times[1 + j])
            j += 1
    return out


def lag_growth(overheads: list[float]) -> float:
    """Median lag of the last quarter minus that of the first quarter (seconds): a server that
    falls behind shifts the whole tail, one stall of the machine does not move a median."""
    k = max(1, len(overheads) // 4)
    return statistics.median(overheads[-k:]) - statistics.median(overheads[:k])


def server_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("deepseek-lsp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "deepseek_lsp"]


def server_env(base_url: str) -> dict[str, str]:
    # no real key or URL may leak in; the server's own switches (DEEPSEEK_LSP_*) may
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("DEEPSEEK_") or k.startswith("DEEPSEEK_LSP_")
    }
    env.update(
        {
            "DEEPSEEK_BASE_URL": base_url,
            "DEEPSEEK_MODEL": "deepseek-chat",
            "DEEPSEEK_API_KEY": KEY,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick: bool = args.quick
        self.results: dict[str, Any] = {}
        self.notes: list[str] = []
        self.fake: FakeProcess
        self.client: LspClient
        # the servers' stderr, kept for a post-mortem: bench/last-server.log
        self.log = open(BENCH / "last-server.log", "wb")  # noqa: SIM115 (closed at the end of run())

    async def new_client(self) -> LspClient:
        c = LspClient(server_cmd(), server_env(self.fake.base_url), stderr=self.log)
        await c.spawn()
        await c.initialize()
        return c

    def has(self, command: str) -> bool:
        return command in self.client.commands

    async def record_for(self, job_tag: str, before: int) -> dict[str, Any]:
        """The fake's record of the request whose reply carries `job_tag` in its chunks."""
        for r in (await self.fake.requests())[before:]:
            chunks = (r.get("reply") or {}).get("chunks") or []
            if chunks and job_tag in chunks[0]:
                return r
        raise RuntimeError(f"no fake record for {job_tag}")

    # -- cold start -------------------------------------------------------------------------
    async def cold_start(self) -> None:
        n = 5 if self.quick else 12
        times, cpu = [], []
        for _ in range(n):
            c = LspClient(server_cmd(), server_env(self.fake.base_url), stderr=self.log)
            await c.spawn()
            times.append(await c.initialize())
            cpu.append(cpu_seconds(c.pid))
            await c.close()
        self.results["cold_start"] = {
            **dist_ms(times),
            "min": round(min(times) * 1000, 1),
            "cpu_ms": dist_ms([x[0] for x in cpu]),  # the server's CPU time when initialize answered
            "runqueue_wait_ms": dist_ms([x[1] for x in cpu]),  # time it was runnable but not running
        }

    # -- explain / chat: stream overhead and time to first text --------------------------------
    async def stream_kind(self, kind: str) -> None:
        c = self.client
        n = 150 if self.quick else 400
        toks = tokens(n, tag=f"{kind[0]}")
        before = len(await self.fake.requests())
        await self.fake.enqueue({"chunks": toks, "delay": 0.01})
        run0, wait0 = cpu_seconds(c.pid)
        t0 = time.perf_counter()
        sent, answered, result = await self.start(kind, c)
        job = result["jobId"]
        await c.wait_done(job)
        run1, wait1 = cpu_seconds(c.pid)
        wall = time.perf_counter() - t0
        rec = await self.record_for(toks[0], before)
        notes = c.by_job[job]
        over = content_overheads(notes, rec["chunk_times"], toks)
        first = next(s.t for s in notes if s.params.get("content"))
        # time to first visible text: the command, context, the request, the fake's first token
        ttft = []
        for i in range(3 if self.quick else 8):
            short = [f" t{kind[0]}{i}x{j}" for j in range(3)]
            await self.fake.enqueue({"chunks": short})
            s2, _, r2 = await self.start(kind, c)
            await c.wait_done(r2["jobId"])
            f2 = next(s.t for s in c.by_job[r2["jobId"]] if s.params.get("content"))
            ttft.append(f2 - s2)
        self.results[f"{kind}"] = {
            "tokens": n,
            "upstream_rate_tps": round((n - 1) / (rec["chunk_times"][n] - rec["chunk_times"][1]), 1),
            "overhead_ms": dist_ms(over),
            "command_response_ms": round((answered - sent) * 1000, 2),
            "first_text_ms": dist_ms(ttft),
            "first_text_first_run_ms": round((first - sent) * 1000, 2),
            "notifications": len(notes),
            # how busy the server was, and how long it sat runnable waiting for a CPU (the
            # machine's other load): per second of the stream
            "server_cpu_ms_per_s": round((run1 - run0) / wall * 1000, 1),
            "server_runqueue_wait_ms_per_s": round((wait1 - wait0) / wall * 1000, 2),
        }

    async def start(self, kind: str, c: LspClient, **extra: Any) -> tuple[float, float, Any]:
        if kind == "explain":
            arg = {"uri": URI, "range": extra.get("range") or rng(4, 0, 14, 15)}
            return await c.command("deepseek.explain", arg)
        if kind == "chat":
            arg = {"message": extra.get("message", "How does this work?")}
            if extra.get("session"):
                arg["sessionId"] = extra["session"]
            return await c.command("deepseek.chat", arg)
        raise ValueError(kind)

    # -- rewrite -------------------------------------------------------------------------------
    async def rewrite(self) -> None:
        c = self.client
        out: dict[str, Any] = {}
        for label, n_lines, delay in (("paced", 25 if self.quick else 70, 0.01), ("fast", 170, 0.001)):
            uri = f"file:///tmp/deepseek-bench/project/rewrite_{label}.py"
            original = "def old():\n    return 1\n\n\nprint(old())\n"
            c.open(uri, original)
            toks: list[str] = []
            for i in range(n_lines):  # six tokens a line, as DeepSeek splits code
                toks += [f"v{label[0]}{i}", " =", f" compute{i}(", "a", ", b", ")\n"]
            before = len(await self.fake.requests())
            await self.fake.enqueue({"chunks": toks, "delay": delay})
            sent, _, result = await c.command(
                "deepseek.rewrite", {"uri": uri, "range": rng(0, 0, 2, 0), "instruction": "rename"}
            )
            job = result["jobId"]
            final = await c.wait_done(job, timeout=90)
            rec = await self.record_for(toks[0], before)
            edits = c.edits.get(uri, [])
            # token k is in the document once the region (at its start) holds the code up to it
            prefixes = []
            acc = ""
            for t in toks:
                acc += t
                prefixes.append(acc.rstrip("\n"))
            over: list[float] = []
            over_eol: list[float] = []  # tokens that end a line: "every completed line" goes at once
            k = 0
            first_visible = None
            for e in edits:
                while k < len(toks) and e.text.startswith(prefixes[k]):
                    over.append(e.t - rec["chunk_times"][1 + k])
                    if toks[k].endswith("\n"):
                        over_eol.append(over[-1])
                    if first_visible is None:
                        first_visible = e.t
                    k += 1
            out[label] = {
                "tokens": len(toks),
                "upstream_rate_tps": round(
                    (len(toks) - 1) / (rec["chunk_times"][len(toks)] - rec["chunk_times"][1]), 1
                ),
                "state": final.get("state"),
                "tokens_seen_in_edits": k,
                "apply_edits": len(edits),
                "edits_per_1000_tokens": round(len(edits) / len(toks) * 1000, 1),
                "overhead_ms": dist_ms(over),
                "overhead_line_end_ms": dist_ms(over_eol),
                "first_text_ms": round((first_visible - sent) * 1000, 2) if first_visible else None,
            }
        self.results["rewrite"] = out

    # -- throughput ----------------------------------------------------------------------------
    async def throughput(self) -> None:
        c = self.client
        runs = []
        runs_multi = []
        delays = (0.004, 0.002, 0.001, 0.0)
        for d in delays:
            n = 3000 if d == 0 else min(2000 if not self.quick else 800, int(1.5 / d))
            toks = tokens(n, tag=f"r{int(d * 1e4)}_")
            before = len(await self.fake.requests())
            await self.fake.enqueue({"chunks": toks, "delay": d})
            _, _, result = await self.start("explain", c)
            job = result["jobId"]
            await c.wait_done(job, timeout=120)
            rec = await self.record_for(toks[0], before)
            ct = rec["chunk_times"]
            over = content_overheads(c.by_job[job], ct, toks)
            arrivals = [s.t for s in c.by_job[job] if s.params.get("content")]
            up = (n - 1) / (ct[n] - ct[1])
            growth = lag_growth(over)
            runs.append(
                {
                    "delay_s": d,
                    "tokens": n,
                    "upstream_tps": round(up, 1),
                    "delivered_tps": round((n - 1) / (arrivals[-1] - arrivals[0]), 1)
                    if len(arrivals) > 1
                    else None,
                    "lag_ms": dist_ms(over),
                    "lag_growth_ms": round(growth * 1000, 3),
                    "follows": growth < 0.002,
                    "notifications": len(c.by_job[job]),
                }
            )
        # One paced stream tops out near 850 tok/s (the fake sleeps between chunks and asyncio
        # sleeps in whole milliseconds), so higher rates are k such streams at once.
        for k in (2, 4) if self.quick else (2, 3, 6):
            n = 800 if self.quick else 1500
            tags = [f"m{k}_{j}_" for j in range(k)]
            before = len(await self.fake.requests())
            await self.fake.enqueue(*({"chunks": tokens(n, tag=t), "delay": 0.001} for t in tags))
            jobs = []
            for j in range(k):
                _, _, result = await self.start("explain", c, range=rng(4 + 13 * j, 0, 14 + 13 * j, 15))
                jobs.append(result["jobId"])
            for job in jobs:
                await c.wait_done(job, timeout=120)
            recs = (await self.fake.requests())[before:]
            growth, over_all, first, last = [], [], [], []
            for tag, job in zip(tags, jobs, strict=True):
                rec = next(r for r in recs if tag in ((r.get("reply") or {}).get("chunks") or [""])[0])
                ct = rec["chunk_times"]
                over = content_overheads(c.by_job[job], ct, tokens(n, tag=tag))
                over_all += over
                growth.append(lag_growth(over))
                first.append(ct[1])
                last.append(ct[n])
            up = k * (n - 1) / (max(last) - min(first))
            runs_multi.append(
                {
                    "streams": k,
                    "tokens_each": n,
                    "upstream_tps": round(up, 1),
                    "lag_ms": dist_ms(over_all),
                    "lag_growth_ms": round(max(growth) * 1000, 3),
                    "follows": max(growth) < 0.002,
                }
            )
        followed = [r["upstream_tps"] for r in runs + runs_multi if r["follows"]]
        self.results["throughput"] = {
            "runs": runs,
            "concurrent": runs_multi,
            "fastest_followed_tps": max(followed) if followed else 0.0,
            "saturated_delivery_tps": runs[-1]["delivered_tps"],
        }

    # -- 20 jobs: memory and responsiveness -----------------------------------------------------
    async def load(self) -> None:
        c = self.client
        gc.collect()
        idle_hover = []
        for _ in range(50):
            dt, _ = await c.timed("textDocument/hover", self.hover_params(0))
            idle_hover.append(dt)
        n_jobs, n_tok, delay = 20, (200 if self.quick else 300), 0.02
        before = len(await self.fake.requests())
        cpu0, wait0 = cpu_seconds(c.pid)
        t_load = time.perf_counter()
        tags = [f"J{k:02d}_" for k in range(n_jobs)]
        await self.fake.enqueue(*({"chunks": tokens(n_tok, tag=t), "delay": delay} for t in tags))
        jobs = []
        for k in range(n_jobs):
            r0 = 4 + 13 * k
            _, _, result = await self.start("explain", c, range=rng(r0, 0, r0 + 10, 15))
            jobs.append(result["jobId"])
        await c.wait(lambda: all(any(s.params.get("content") for s in c.by_job.get(j, [])) for j in jobs), 30)
        hover, actions, rss = [], [], []
        k = 0
        while not all(c.final(j) for j in jobs):
            dt, _ = await c.timed("textDocument/hover", self.hover_params(k % n_jobs))
            hover.append(dt)
            dt, _ = await c.timed(
                "textDocument/codeAction",
                {
                    "textDocument": {"uri": URI},
                    "range": rng(4 + 13 * (k % n_jobs), 0, 8 + 13 * (k % n_jobs), 10),
                    "context": {"diagnostics": []},
                },
            )
            actions.append(dt)
            if k % 5 == 0:
                rss.append(rss_mb(c.pid))
            k += 1
            await asyncio.sleep(0.02)
        cpu1, wait1 = cpu_seconds(c.pid)
        cpu = cpu1 - cpu0
        wall_load = time.perf_counter() - t_load
        records = await self.fake.requests()
        over: list[float] = []
        for tag, job in zip(tags, jobs, strict=True):
            rec = next(
                r for r in records[before:] if tag in ((r.get("reply") or {}).get("chunks") or [""])[0]
            )
            over += content_overheads(c.by_job[job], rec["chunk_times"], tokens(n_tok, tag=tag))
        self.results["load"] = {
            "jobs": n_jobs,
            "aggregate_upstream_tps": round(n_jobs / delay, 1),
            "hover_idle_ms": dist_ms(idle_hover),
            "hover_ms": dist_ms(hover),
            "code_action_ms": dist_ms(actions),
            "stream_overhead_ms": dist_ms(over),
            "rss_peak_mb": round(max(rss), 1) if rss else None,
            # the server's CPU time for the whole phase (20 jobs, their hovers and code actions)
            "server_cpu_s": round(cpu, 3),
            "server_cpu_us_per_token": round(cpu / (n_jobs * n_tok) * 1e6, 1),
            "server_runqueue_wait_ms_per_s": round((wait1 - wait0) / wall_load * 1000, 2),
        }

    def hover_params(self, k: int) -> dict[str, Any]:
        return {"textDocument": {"uri": URI}, "position": {"line": 6 + 13 * k, "character": 4}}

    # -- cost --------------------------------------------------------------------------------------
    async def cost(self) -> None:
        c = self.client
        out: dict[str, Any] = {}
        await self.fake.reset()
        usage = []
        for i in range(20):
            await self.fake.enqueue({"chunks": [f" explained {i}."]})
            _, _, r = await self.start("explain", c, range=rng(4, 0, 14, 15))
            final = await c.wait_done(r["jobId"])
            usage.append(final.get("usage") or {})
        out["explain_x20"] = _cache_share(usage)
        if self.has("deepseek.chat"):
            await self.fake.reset()
            usage = []
            session = None
            for i in range(20):
                await self.fake.enqueue({"chunks": [f" reply {i}", " with a few words."]})
                _, _, r = await self.start("chat", c, message=f"question {i}: and why?", session=session)
                session = r.get("sessionId", session)
                final = await c.wait_done(r["jobId"])
                usage.append(final.get("usage") or {})
            out["chat_20_turns"] = _cache_share(usage)
        else:
            out["chat_20_turns"] = {"skipped": "deepseek.chat is not advertised by the server yet"}
        self.results["cost"] = out

    # -- context -----------------------------------------------------------------------------------
    async def context(self) -> None:
        script = BENCH / "bench_context.py"
        if not script.exists():
            self.results["context"] = {"skipped": "bench/bench_context.py is not there yet"}
            return
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            path = f.name
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            "--json",
            path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=ROOT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 300)
        text = out.decode(errors="replace")
        data: Any = None
        try:
            data = json.loads(await asyncio.to_thread(Path(path).read_text) or "null")
        except (OSError, ValueError):
            data = None
        self.results["context"] = {"rc": proc.returncode, "data": data, "output": text[-4000:]}

    # -- the session ---------------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        only = set(self.args.only.split(",")) if self.args.only else None

        def want(name: str) -> bool:
            return only is None or name in only

        async with FakeProcess() as fake:
            self.fake = fake
            if want("cold"):
                await self.step("cold_start", self.cold_start)
            self.client = await self.new_client()
            c = self.client
            self.results["commands"] = c.commands
            spy = None
            if self.args.profile:
                fmt = "raw" if self.args.profile.endswith(".txt") else "flamegraph"
                spy = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "-r",
                    "500",
                    "-f",
                    fmt,
                    "-o",
                    self.args.profile,
                    "--pid",
                    str(c.pid),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            c.open(URI, sample_text())
            await c.timed("textDocument/hover", self.hover_params(0))  # the document is in
            await asyncio.sleep(1.0)
            self.results["idle_rss_mb"] = round(rss_mb(c.pid), 1)
            # the user selects code: the editor asks for code actions (the server loads its
            # tokenizer then, in the background); a second later, the resident set
            await c.timed(
                "textDocument/codeAction",
                {"textDocument": {"uri": URI}, "range": rng(4, 0, 14, 15), "context": {"diagnostics": []}},
            )
            await asyncio.sleep(1.5)
            self.results["rss_after_selection_mb"] = round(rss_mb(c.pid), 1)
            if want("explain"):
                await self.step("explain", lambda: self.stream_kind("explain"))
            if want("chat"):
                if self.has("deepseek.chat"):
                    await self.step("chat", lambda: self.stream_kind("chat"))
                else:
                    self.results["chat"] = {"skipped": "deepseek.chat is not advertised by the server yet"}
            if want("rewrite"):
                if self.has("deepseek.rewrite"):
                    await self.step("rewrite", self.rewrite)
                else:
                    self.results["rewrite"] = {
                        "skipped": "deepseek.rewrite is not advertised by the server yet"
                    }
            if want("throughput"):
                await self.step("throughput", self.throughput)
            if want("load"):
                await self.step("load", self.load)
            if want("cost"):
                await self.step("cost", self.cost)
            if spy is not None:
                spy.send_signal(2)
                await spy.wait()
            await c.close()
        if want("context"):
            await self.step("context", self.context)
        self.log.close()
        self.results["machine"] = machine()
        self.results["notes"] = self.notes
        return self.results

    async def step(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        # The client's own GC pauses would show up as server latency: collect between steps only.
        gc.collect()
        gc.disable()
        t = time.perf_counter()
        print(f"  {name}...", end="", flush=True, file=sys.stderr)
        try:
            await fn()
        except Exception as exc:  # one failing scenario must not lose the others
            self.results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            self.notes.append(f"{name} failed: {type(exc).__name__}: {exc}")
        gc.enable()
        print(f" {time.perf_counter() - t:.1f}s", file=sys.stderr, flush=True)


def _cache_share(usage: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = sum(u.get("promptTokens", 0) for u in usage)
    hit = sum(u.get("promptCacheHitTokens", 0) for u in usage)
    later = usage[1:]
    p2 = sum(u.get("promptTokens", 0) for u in later)
    h2 = sum(u.get("promptCacheHitTokens", 0) for u in later)
    return {
        "requests": len(usage),
        "prompt_tokens": prompt,
        "cache_hit_tokens": hit,
        "cache_hit_share": round(hit / prompt, 4) if prompt else None,
        "cache_hit_share_after_first": round(h2 / p2, 4) if p2 else None,
        "cost_usd": round(sum(u.get("cost", 0.0) for u in usage), 6),
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
            mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
    }


# ---------------------------------------------------------------------------------------------
# the table


def table(r: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []

    def ok(value: float | None, target: float) -> str:
        if value is None:
            return ""
        return "ok" if value <= target else "MISS"

    def d(x: dict[str, Any] | None) -> str:
        if not x or not x.get("n"):
            return "-"
        return f"{x['p50']:.2f} / {x['p95']:.2f} / {x['p99']:.2f}"

    cs = r.get("cold_start", {})
    if "p50" in cs:
        rows.append(
            (
                "cold start to initialize result, ms (p50, min)",
                f"{cs['p50']:.0f}, {cs['min']:.0f}",
                f"<= 400: {ok(cs['p50'], TARGETS['cold_start_ms'])}",
            )
        )
        rows.append(
            (
                "cold start: server CPU time / wait for a CPU until then, ms (p50)",
                f"{cs['cpu_ms']['p50']:.0f} / {cs['runqueue_wait_ms']['p50']:.0f}",
                "",
            )
        )
    if "idle_rss_mb" in r:
        rows.append(
            (
                "idle RSS (files open, nothing asked), MB",
                f"{r['idle_rss_mb']:.1f}",
                f"<= 60: {ok(r['idle_rss_mb'], 60)}",
            )
        )
    if "rss_after_selection_mb" in r:
        rows.append(
            ("RSS once code was selected (tokenizer loaded), MB", f"{r['rss_after_selection_mb']:.1f}", "")
        )
    for kind in ("explain", "chat"):
        x = r.get(kind, {})
        if "skipped" in x or "error" in x:
            rows.append((f"{kind}: stream overhead", f"skipped: {x.get('skipped') or x.get('error')}", ""))
            continue
        if x:
            o = x["overhead_ms"]
            rows.append(
                (
                    f"{kind}: stream overhead ms p50/p95/p99 ({x['upstream_rate_tps']:.0f} tok/s)",
                    d(o),
                    f"p99 <= 5: {ok(o.get('p99'), 5)}",
                )
            )
            rows.append(
                (
                    f"{kind}: server CPU / wait for a CPU during the stream, ms per s",
                    f"{x['server_cpu_ms_per_s']:.0f} / {x['server_runqueue_wait_ms_per_s']:.1f}",
                    "",
                )
            )
            rows.append(
                (
                    f"{kind}: first visible text after the command, ms p50 (the session's first)",
                    f"{x['first_text_ms']['p50']:.1f} ({x['first_text_first_run_ms']:.0f})",
                    "",
                )
            )
    rw = r.get("rewrite", {})
    if "skipped" in rw or "error" in rw:
        rows.append(("rewrite: stream overhead", f"skipped: {rw.get('skipped') or rw.get('error')}", ""))
    for label, x in rw.items() if isinstance(rw, dict) and "skipped" not in rw and "error" not in rw else ():
        rows.append(
            (
                f"rewrite ({label}, {x['upstream_rate_tps']:.0f} tok/s): any token -> applyEdit ms p50/p95/p99",
                d(x["overhead_ms"]),
                f"p99 <= 5: {ok(x['overhead_ms'].get('p99'), 5)} (mid-line text may wait 50 ms)",
            )
        )
        rows.append(
            (
                f"rewrite ({label}): line-ending token -> applyEdit ms p50/p95/p99",
                d(x["overhead_line_end_ms"]),
                f"p99 <= 5: {ok(x['overhead_line_end_ms'].get('p99'), 5)}",
            )
        )
        rows.append((f"rewrite ({label}): edits per 1,000 tokens", f"{x['edits_per_1000_tokens']:.0f}", ""))
        if x.get("first_text_ms") is not None:
            rows.append(
                (f"rewrite ({label}): first text in the document, ms", f"{x['first_text_ms']:.1f}", "")
            )
    tp = r.get("throughput", {})
    for run in tp.get("runs", []):
        rows.append(
            (
                f"throughput: upstream {run['upstream_tps']:.0f} tok/s -> lag p50/p99 ms, growth",
                f"{run['lag_ms']['p50']:.2f} / {run['lag_ms']['p99']:.2f}, {run['lag_growth_ms']:+.2f}",
                "follows" if run["follows"] else "falls behind",
            )
        )
    for run in tp.get("concurrent", []):
        rows.append(
            (
                f"throughput: {run['streams']} streams, {run['upstream_tps']:.0f} tok/s in all -> lag p50/p99 ms, growth",
                f"{run['lag_ms']['p50']:.2f} / {run['lag_ms']['p99']:.2f}, {run['lag_growth_ms']:+.2f}",
                "follows" if run["follows"] else "falls behind",
            )
        )
    if tp.get("runs"):
        rows.append(
            (
                "throughput: fastest upstream rate followed, tok/s",
                f"{tp['fastest_followed_tps']:.0f}",
                f">= 1000: {'ok' if tp['fastest_followed_tps'] >= 1000 else 'MISS'}",
            )
        )
        rows.append(
            ("throughput: delivery rate when saturated, tok/s", f"{tp['saturated_delivery_tps']:.0f}", "")
        )
    ld = r.get("load", {})
    if "hover_ms" in ld:
        rows.append(("hover ms p50/p95/p99, idle", d(ld["hover_idle_ms"]), ""))
        rows.append(
            (
                f"hover ms p50/p95/p99, {ld['jobs']} jobs streaming",
                d(ld["hover_ms"]),
                f"p99 <= 20: {ok(ld['hover_ms'].get('p99'), 20)}",
            )
        )
        rows.append((f"code action ms p50/p95/p99, {ld['jobs']} jobs streaming", d(ld["code_action_ms"]), ""))
        rows.append(
            (
                f"stream overhead ms p50/p95/p99, {ld['jobs']} jobs ({ld['aggregate_upstream_tps']:.0f} tok/s)",
                d(ld["stream_overhead_ms"]),
                "",
            )
        )
        rows.append((f"RSS with {ld['jobs']} jobs streaming, MB (peak)", f"{ld['rss_peak_mb']:.1f}", ""))
        rows.append(
            (
                "server CPU per streamed token (20 jobs, with the hovers), us; its wait for a CPU, ms/s",
                f"{ld['server_cpu_us_per_token']:.0f}; {ld['server_runqueue_wait_ms_per_s']:.1f}",
                "",
            )
        )
    cost = r.get("cost", {})
    for key, label in (("explain_x20", "20 explains of one range"), ("chat_20_turns", "20-turn chat")):
        x = cost.get(key)
        if not x:
            continue
        if "skipped" in x:
            rows.append((f"cache-hit share, {label}", f"skipped: {x['skipped']}", ""))
        else:
            rows.append(
                (
                    f"cache-hit share, {label} (all / after the first)",
                    f"{x['cache_hit_share']:.1%} / {x['cache_hit_share_after_first']:.1%}",
                    "",
                )
            )
    ctx = r.get("context", {})
    if "skipped" in ctx:
        rows.append(("context building", f"skipped: {ctx['skipped']}", ""))
    elif ctx:
        for label, value in _context_rows(ctx):
            rows.append((label, value, ""))
    w1 = max(len(a) for a, _, _ in rows)
    w2 = max(len(b) for _, b, _ in rows)
    lines = [
        f"| {'metric'.ljust(w1)} | {'value'.ljust(w2)} | target |",
        f"|{'-' * (w1 + 2)}|{'-' * (w2 + 2)}|--------|",
    ]
    lines += [f"| {a.ljust(w1)} | {b.ljust(w2)} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _context_rows(ctx: dict[str, Any]) -> list[tuple[str, str]]:
    data = ctx.get("data")
    if ctx.get("rc") not in (0, None) and not data:
        return [("context building", f"bench_context.py exited {ctx.get('rc')}")]
    rows: list[tuple[str, str]] = []
    items: list[Any] = []
    if isinstance(data, dict):
        items = (
            data.get("results")
            or data.get("runs")
            or [
                dict(v, lines=k) if isinstance(v, dict) else {"lines": k, "value": v} for k, v in data.items()
            ]
        )
    elif isinstance(data, list):
        items = data
    for it in items:
        if not isinstance(it, dict):
            continue
        lines = it.get("lines") or it.get("n_lines") or it.get("size")
        ms = {
            k: v
            for k, v in it.items()
            if isinstance(v, int | float) and ("ms" in k or k in ("p50", "p99", "median"))
        }
        case = f" ({it['case']})" if it.get("case") else ""
        rows.append(
            (
                f"context building, {lines:,} lines{case}, ms"
                if isinstance(lines, int)
                else f"context building, {lines} lines{case}, ms",
                ", ".join(f"{k} {v:.1f}" for k, v in ms.items()) or json.dumps(it)[:60],
            )
        )
    return rows or [("context building", "see JSON (context.output)")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--json", default=str(BENCH / "results.json"), help="where to write the results")
    p.add_argument("--quick", action="store_true", help="fewer tokens and repeats (a smoke run)")
    p.add_argument("--only", help="comma list: cold,explain,chat,rewrite,throughput,load,cost,context")
    p.add_argument("--profile", help="py-spy the main server process into this file (.svg, or raw with .txt)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    print(f"deepseek-lsp benchmarks (load average {os.getloadavg()[0]:.2f} at start)", file=sys.stderr)
    load0 = os.getloadavg()
    results = asyncio.run(Bench(args).run())
    results["loadavg_at_start"] = [round(x, 2) for x in load0]
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    for note in results.get("notes", []):
        print(f"note: {note}")
    print(f"\nJSON: {args.json}  ({results['wall_s']} s)")
    return 0
