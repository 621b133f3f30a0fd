"""FIM prompts: windows sized in tokens, a stable anchor, context first, secrets kept home.

The cache test types 200 characters through a real module of this repository and counts, as
DeepSeek does (and as the fake's accounting in deepseek_lsp.fake.cache does), the prompt tokens
that are cache hits in whole 64-token units from the start of the prompt.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from deepseek_lsp.completion.prompt import (
    GRID_CHARS,
    PREFIX_TOKENS,
    SUFFIX_TOKENS,
    Anchor,
    FimPrompt,
    build_fim,
    choose_anchor,
    fim_request,
)
from deepseek_lsp.fake.cache import PromptCache, render_fim
from deepseek_lsp.tokens import estimate_tokens

ROOT = Path(__file__).resolve().parents[2]
MODULE = (ROOT / "server/deepseek_lsp/context.py").read_text(encoding="utf-8")
OTHER = (ROOT / "server/deepseek_lsp/tokens.py").read_text(encoding="utf-8")
PATH = "server/deepseek_lsp/context.py"


def body_of(fim: FimPrompt) -> str:
    return fim.prompt[len(fim.header) :]


def typing_session(text: str, at: int, typed: str, other_context: list[tuple[str, str]]) -> list[FimPrompt]:
    """A prompt per keystroke while `typed` is typed at `at`, each given the last anchor."""
    prompts: list[FimPrompt] = []
    hint: Anchor | None = None
    for k in range(len(typed) + 1):
        doc = text[:at] + typed[:k] + text[at:]
        fim = build_fim(doc, at + k, "python", PATH, anchor_hint=hint, other_context=other_context)
        assert fim is not None
        prompts.append(fim)
        hint = fim.anchor
    return prompts


def hit_share(prompts: list[FimPrompt]) -> float:
    cache = PromptCache()
    hits = total = 0
    for fim in prompts:
        tokens = render_fim(fim.prompt, fim.suffix)
        hits += cache.lookup_and_store("user", tokens)
        total += len(tokens)
    return hits / total


def middle_line(text: str) -> int:
    return text.rfind("\n", 0, len(text) // 2) + 1


def test_typing_through_a_real_module_hits_the_cache() -> None:
    at = middle_line(MODULE)
    typed = MODULE[at : at + 200]
    base = MODULE[:at] + MODULE[at + 200 :]
    snippets = [("server/deepseek_lsp/tokens.py", OTHER[:1500])]
    prompts = typing_session(base, at, typed, other_context=snippets)
    share = hit_share(prompts)
    assert share >= 0.70, f"cache-hit share {share:.1%}"
    assert len({p.anchor.offset for p in prompts}) == 1  # typing never moved the anchor
    assert len({p.header for p in prompts}) == 1
    # every prompt extends the one before it: typing only appends
    for before, after in itertools.pairwise(prompts):
        assert after.prompt.startswith(before.prompt)


def test_the_anchor_stays_put_without_a_hint_while_typing_in_one_block() -> None:
    at = middle_line(MODULE)
    typed = "    x = compute(a, b)\n    y = x * 2\n"
    anchors = {
        choose_anchor(MODULE[:at] + typed[:k] + MODULE[at:], at + k, PREFIX_TOKENS).offset
        for k in range(len(typed) + 1)
    }
    assert len(anchors) == 1


def test_the_anchor_is_a_block_boundary_and_the_window_fits() -> None:
    at = middle_line(MODULE)
    fim = build_fim(MODULE, at, "python", PATH)
    assert fim is not None
    start = fim.anchor.offset
    assert 0 < start < at
    assert MODULE[start - 2 : start] == "\n\n" and not MODULE[start].isspace()
    assert body_of(fim) == MODULE[start:at]
    assert estimate_tokens(body_of(fim)) <= PREFIX_TOKENS


def test_the_anchor_is_kept_until_the_window_outgrows_the_budget() -> None:
    at = middle_line(MODULE)
    first = build_fim(MODULE, at, "python", PATH)
    assert first is not None
    kept = build_fim(MODULE, at + 1000, "python", PATH, anchor_hint=first.anchor)
    assert kept is not None and kept.anchor == first.anchor
    far = build_fim(MODULE, len(MODULE) - 10, "python", PATH, anchor_hint=first.anchor)
    assert far is not None and far.anchor != first.anchor
    assert estimate_tokens(body_of(far)) <= PREFIX_TOKENS


def test_a_hint_whose_text_moved_is_not_trusted() -> None:
    at = middle_line(MODULE)
    first = build_fim(MODULE, at, "python", PATH)
    assert first is not None
    edited = "# one more line\n" + MODULE
    again = build_fim(edited, at + 16, "python", PATH, anchor_hint=first.anchor)
    assert again is not None
    assert edited.startswith(again.anchor.line, again.anchor.offset)
    assert again.anchor.offset == first.anchor.offset + 16


def test_the_suffix_is_whole_lines_within_its_budget() -> None:
    at = middle_line(MODULE) + 4
    fim = build_fim(MODULE, at, "python", PATH)
    assert fim is not None
    assert MODULE[at:].startswith(fim.suffix)
    assert fim.suffix.endswith("\n")
    assert estimate_tokens(fim.suffix) <= SUFFIX_TOKENS
    assert estimate_tokens(MODULE[at : at + len(fim.suffix) + 200]) > SUFFIX_TOKENS - 40


def test_a_small_file_is_sent_whole() -> None:
    doc = "import os\n\n\ndef main():\n    print(os.getcwd())\n\n\nmain()\n"
    at = doc.index("print")
    fim = build_fim(doc, at, "python", "app.py")
    assert fim is not None
    assert fim.anchor.offset == 0
    assert fim.prompt == "# Path: app.py\n" + doc[:at]
    assert fim.suffix == doc[at:]


GENERATED = "import json\nimport os\n\nfrom .base import Base\n\n" + "".join(
    f"\ndef handler_{i}(event):\n    data = json.loads(event)\n    return os.path.join(data, '{i}')\n\n"
    for i in range(400)
)


def test_the_header_comes_first_with_other_files_and_imports() -> None:
    at = GENERATED.index("def handler_300")
    snippets = [("b/util.py", "def helper():\n    return 1\n"), ("a/base.py", "class Base:\n    pass\n")]
    fim = build_fim(GENERATED, at, "python", "pkg/handlers.py", other_context=snippets)
    assert fim is not None
    assert fim.prompt.startswith(
        "# Path: a/base.py\n# class Base:\n#     pass\n\n"
        "# Path: b/util.py\n# def helper():\n#     return 1\n\n"
        "# Path: pkg/handlers.py\n"
        "import json\nimport os\nfrom .base import Base\n\n"  # the file's imports, above the window
        "def handler_"
    )
    assert fim.anchor.offset > GENERATED.index("def handler_0")
    # the priority order of the snippets does not change the bytes
    swapped = build_fim(GENERATED, at, "python", "pkg/handlers.py", other_context=snippets[::-1])
    assert swapped is not None and swapped.prompt == fim.prompt


def test_other_context_is_bounded_by_its_budget() -> None:
    big = "\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(500))
    fim = build_fim("x = 1\n", 6, "python", "a.py", other_context=[("big.py", big)], context_tokens=300)
    assert fim is not None
    assert estimate_tokens(fim.header) <= 300 + 20
    assert "# def f0(x):" in fim.header


def test_secret_files_get_no_prompt_and_are_not_quoted() -> None:
    assert build_fim("API_KEY=1\n", 3, "dotenv", "/w/.env") is None
    fim = build_fim(
        "x = 1\n", 6, "python", "a.py", other_context=[("/w/.env", "API_KEY=1"), ("b.py", "y = 2")]
    )
    assert fim is not None
    assert ".env" not in fim.prompt and "# y = 2" in fim.prompt


def test_secrets_are_masked_everywhere() -> None:
    key = "sk-" + "a1b2c3d4e5" * 4
    doc = f'KEY = "{key}"\n\ndef f():\n    return \n\nOTHER = "{key}"\n'
    at = doc.index("return ") + 7
    fim = build_fim(doc, at, "python", "a.py", other_context=[("b.py", f'T = "{key}"')])
    assert fim is not None
    assert key not in fim.prompt and key not in fim.suffix
    assert fim.prompt.count("<masked:sk>") == 2 and "<masked:sk>" in fim.suffix
    assert fim.masked == 3
    plain = build_fim(doc, at, "python", "a.py", mask_secrets=False)
    assert plain is not None and key in plain.prompt


def test_crlf_documents_keep_crlf() -> None:
    doc = "import os\r\n\r\n\r\ndef main():\r\n    return 1\r\n"
    fim = build_fim(doc, doc.index("return"), "python", "a.py", other_context=[("b.py", "x = 1\r\ny = 2")])
    assert fim is not None
    assert "\n" not in fim.prompt.replace("\r\n", "")
    assert fim.prompt.startswith("# Path: b.py\r\n# x = 1\r\n# y = 2\r\n\r\n# Path: a.py\r\n")


def test_a_file_without_block_boundaries_falls_back_to_a_fixed_grid() -> None:
    doc = "".join(f"    value_{i} = compute(value_{i - 1}, {i})\n" for i in range(3000))
    cursor = len(doc) - 200
    anchor = choose_anchor(doc, cursor, PREFIX_TOKENS)
    start = anchor.offset
    assert doc[start - 1] == "\n"
    assert (
        doc.rfind("\n", 0, start - 1) < start // GRID_CHARS * GRID_CHARS
    )  # the first line after a grid point
    assert estimate_tokens(doc[start:cursor]) <= PREFIX_TOKENS
    for k in range(50):  # typing keeps it
        typed = doc[:cursor] + "x" * k + doc[cursor:]
        assert choose_anchor(typed, cursor + k, PREFIX_TOKENS, anchor) == anchor


def test_a_minified_line_is_cut_not_sent_whole() -> None:
    doc = "var a=" + ",".join(f"b{i}=c{i}" for i in range(40000)) + ";\n"
    fim = build_fim(doc, len(doc) - 2, "javascript", "app.min.js")
    assert fim is not None
    assert estimate_tokens(body_of(fim)) <= PREFIX_TOKENS


def test_non_ascii_text_is_budgeted_by_its_tokens() -> None:
    doc = "# 注释\n\n" + "".join(f"x{i} = '中文字符串{i}'\n\n" for i in range(3000))
    fim = build_fim(doc, len(doc) - 1, "python", "a.py")
    assert fim is not None
    assert estimate_tokens(body_of(fim)) <= PREFIX_TOKENS
    assert estimate_tokens(fim.suffix) <= SUFFIX_TOKENS


def test_the_key_names_a_position() -> None:
    doc = "def f():\n    return 1\n"
    a = build_fim(doc, 13, "python", "a.py")
    b = build_fim(doc, 13, "python", "a.py")
    c = build_fim(doc, 14, "python", "a.py")
    assert a is not None and b is not None and c is not None
    assert a.key == b.key != c.key


def test_fim_request_body() -> None:
    fim = build_fim("x = \n", 4, "python", "a.py")
    assert fim is not None
    body = fim_request(fim, model="deepseek-flash", max_tokens=10_000, stop=[f"s{i}" for i in range(20)])
    assert body["model"] == "deepseek-flash"
    assert body["prompt"] == fim.prompt and body["suffix"] == fim.suffix
    assert body["max_tokens"] == 4096
    assert len(body["stop"]) == 16
    assert body["stream"] is True
