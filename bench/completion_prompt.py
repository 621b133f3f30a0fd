"""Per-keystroke cost of inline completion's pure core: `.venv/bin/python -m bench.completion_prompt`.

Issue 13's acceptance: server overhead p50 <= 5 ms, p99 <= 15 ms per completion request, so the
prompt and the post-processing must cost far less. In process (no server, no network), on large
real files: the standard library's `_pydecimal.py` (6,400 lines of Python) and, when
editors/vscode/node_modules has it, TypeScript's `typescript.js` (200,000 lines of JavaScript),
or `--file PATH [--language ID]`. At each of `--places` places spread through the file, the 200
characters that follow are deleted and typed again one by one; each keystroke runs

- `build_fim` with the previous prompt's anchor (what the glue does on every request),
- `analyze` (the mode: tree-sitter on a bounded window at the cursor),
- `clean` of a scripted answer: the rest of the 200 characters (a perfect prediction) followed by
  the document's next 400 characters, which repeat the suffix and run past the block (the work
  for every trimming rule),

and the times are reported as p50/p95/p99/max per step and for the three together (wall time),
and the CPU time of the three (the thread's own clock, which a busy machine does not inflate). The prompts
of each typing session also go through the fake DeepSeek's cache accounting (64-token units from
the start of the prompt): the share of prompt tokens that would be cache hits.

    .venv/bin/python -m bench.completion_prompt [--places 5] [--chars 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from .run import ROOT, pct

sys.path.insert(0, str(ROOT / "server"))

from deepseek_lsp.completion.prompt import PREFIX_TOKENS, SUFFIX_TOKENS, Anchor, build_fim
from deepseek_lsp.completion.quality import analyze, clean, literal_at
from deepseek_lsp.fake.cache import PromptCache, render_fim
from deepseek_lsp.syntax import language_of

# Wall time of each step and of the three together, and the CPU time of the three (what the
# process itself spent: on a busy machine the wall time also counts the wait for a CPU).
STEPS = ("build_fim", "analyze", "clean", "total", "total_cpu")
TYPESCRIPT_JS = ROOT / "editors/vscode/node_modules/typescript/lib/typescript.js"


def default_files() -> list[tuple[Path, str]]:
    files = [(Path(sysconfig.get_paths()["stdlib"]) / "_pydecimal.py", "python")]
    if TYPESCRIPT_JS.is_file():
        files.append((TYPESCRIPT_JS, "javascript"))
    return [(path, lang) for path, lang in files if path.is_file()]


def places(text: str, count: int, lang: str) -> list[int]:
    """Starts of indented code lines (inside a function, not in a docstring or comment) spread
    evenly through the file."""
    found = []
    for i in range(1, count + 1):
        pos = text.rfind("\n", 0, len(text) * i // (count + 1)) + 1
        while pos < len(text) and not (
            text.startswith(("        ", "\t\t"), pos)
            and text[pos : pos + 12].strip()[:1].isalpha()
            and literal_at(text, len(text[pos:]) - len(text[pos:].lstrip()) + pos + 1, lang) == ""
        ):
            pos = text.find("\n", pos) + 1 or len(text)
        if pos < len(text):
            found.append(pos)
    return found


def dist(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(pct(values, 50), 3),
        "p95": round(pct(values, 95), 3),
        "p99": round(pct(values, 99), 3),
        "max": round(max(values), 3),
    }


def session(
    text: str, at: int, chars: int, lang: str, path: str, modes: dict[str, int]
) -> tuple[dict[str, list[float]], float]:
    """Type the `chars` characters at `at` again, one by one; times in ms and the hit share
    (and the modes seen counted in `modes`)."""
    typed = text[at : at + chars]
    base = text[:at] + text[at + chars :]
    times: dict[str, list[float]] = {name: [] for name in STEPS}
    cache = PromptCache()
    hits = total = 0
    hint: Anchor | None = None
    for k in range(len(typed) + 1):
        doc = base[:at] + typed[:k] + base[at:]
        cursor = at + k
        # a perfect prediction (what is left to type), then the suffix repeated and overrun
        answer = typed[k:] + base[at : at + 400]
        c0, t0 = time.thread_time(), time.perf_counter()
        fim = build_fim(doc, cursor, lang, path, anchor_hint=hint)
        t1 = time.perf_counter()
        ctx = analyze(doc, cursor, lang)
        t2 = time.perf_counter()
        shown = clean(answer, ctx)
        t3, c3 = time.perf_counter(), time.thread_time()
        assert fim is not None
        hint = fim.anchor
        kind = ctx.mode or ctx.literal
        modes[kind] = modes.get(kind, 0) + 1
        modes["shown"] = modes.get("shown", 0) + (shown is not None)
        for name, value in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t3 - t0, c3 - c0), strict=True):
            times[name].append(value * 1000)
        tokens = render_fim(fim.prompt, fim.suffix)
        hits += cache.lookup_and_store("bench", tokens)
        total += len(tokens)
    return times, hits / total


def main() -> int:
    gc.collect()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="a source file instead of the default ones")
    parser.add_argument("--language", help="its LSP languageId (default: from the extension)")
    parser.add_argument("--places", type=int, default=5)
    parser.add_argument("--chars", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    files = [(args.file, args.language or "")] if args.file else default_files()
    results: list[dict[str, Any]] = []
    for path, language in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lang = language_of(language, str(path))
        # warm up once: grammar import, the first parser, the first tokenizer-free estimates
        build_fim(text, len(text) // 2, lang, path.name)
        analyze(text, len(text) // 2, lang)
        times: dict[str, list[float]] = {}
        shares = []
        modes: dict[str, int] = {}
        for at in places(text, args.places, lang):
            got, share = session(text, at, args.chars, lang, path.name, modes)
            shares.append(share)
            for name, values in got.items():
                times.setdefault(name, []).extend(values)
        results.append(
            {
                "file": str(path),
                "language": lang,
                "lines": text.count("\n"),
                "keystrokes": len(times["total"]),
                "cache_hit_share": round(sum(shares) / len(shares), 4),
                "cache_hit_share_min": round(min(shares), 4),
                "modes": modes,
                **{name: dist(values) for name, values in times.items()},
            }
        )

    print(
        f"prefix {PREFIX_TOKENS} tokens, suffix {SUFFIX_TOKENS} tokens, {args.chars} characters typed a place"
    )
    for row in results:
        print(f"\n{row['file']} ({row['language']}, {row['lines']:,} lines, {row['keystrokes']} keystrokes)")
        print(f"  {'ms':<10} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}")
        for name in STEPS:
            d = row[name]
            print(f"  {name:<10} {d['p50']:>7.3f} {d['p95']:>7.3f} {d['p99']:>7.3f} {d['max']:>7.3f}")
        print(f"  keystrokes by mode: {row['modes']}")
        print(
            f"  cache-hit share of prompt tokens: {row['cache_hit_share']:.1%}"
            f" (worst place {row['cache_hit_share_min']:.1%})"
        )
    if args.json:
        payload = {"python": platform.python_version(), "machine": platform.machine(), "results": results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
