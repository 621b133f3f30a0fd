"""The README's "Other editors" snippets: the Emacs ones are exactly the files tests/emacs loads
into a real Emacs; the others (Helix TOML, Sublime Text, Kate and Zed JSON) at least parse and
start `deepseek-lsp`, so a broken snippet fails here."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SNIPPETS = ROOT / "tests" / "emacs" / "snippets"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    """The README's `## title` section, up to the next `## ` heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def subsection(title: str) -> str:
    text = section("Other editors")
    start = text.index(f"\n### {title}\n")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_emacs_snippets_are_the_ones_the_emacs_tests_load() -> None:
    assert blocks(subsection("Emacs with eglot"), "elisp") == [(SNIPPETS / "eglot.el").read_text()]
    assert blocks(subsection("Emacs with lsp-mode"), "elisp") == [(SNIPPETS / "lsp-mode.el").read_text()]


def test_the_emacs_snippets_are_balanced_lisp() -> None:
    for path in SNIPPETS.glob("*.el"):
        depth = 0
        in_string = False
        for line in path.read_text().splitlines():
            code = line.split(";", 1)[0] if not in_string else line
            for i, ch in enumerate(code):
                if ch == '"' and (i == 0 or code[i - 1] != "\\"):
                    in_string = not in_string
                elif not in_string:
                    depth += {"(": 1, ")": -1}.get(ch, 0)
                    assert depth >= 0, f"{path.name}: unbalanced ')' in {line!r}"
        assert depth == 0 and not in_string, path.name


def test_helix_languages_toml() -> None:
    (snippet,) = blocks(subsection("Helix"), "toml")
    config = tomllib.loads(snippet)
    server = config["language-server"]["deepseek"]
    assert server["command"] == "deepseek-lsp"
    assert set(server["environment"]) == {"DEEPSEEK_API_KEY"}
    (python,) = [lang for lang in config["language"] if lang["name"] == "python"]
    assert python["language-servers"][-1] == "deepseek" and len(python["language-servers"]) > 1


def _json(title: str) -> dict[str, Any]:
    (snippet,) = blocks(subsection(title), "json")
    value = json.loads(snippet)
    assert isinstance(value, dict)
    return value


def test_sublime_text_lsp_settings() -> None:
    client = _json("Sublime Text (LSP package)")["clients"]["deepseek-lsp"]
    assert client["enabled"] is True
    assert client["command"] == ["deepseek-lsp"]
    assert client["selector"] == "source.python"
    assert set(client["env"]) == {"DEEPSEEK_API_KEY"}


def test_kate_lsp_client_settings() -> None:
    server = _json("Kate")["servers"]["python"]
    assert server["command"] == ["deepseek-lsp"]
    assert re.fullmatch(server["highlightingModeRegex"], "Python")


def test_zed_settings() -> None:
    settings = _json("Zed")
    assert settings["languages"]["Python"]["language_servers"] == ["deepseek-lsp", "..."]
    binary = settings["lsp"]["deepseek-lsp"]["binary"]
    assert binary["path"].endswith("/deepseek-lsp") and binary["arguments"] == []


def test_every_snippet_of_the_section_is_checked() -> None:
    counts = {lang: len(blocks(section("Other editors"), lang)) for lang in ("elisp", "toml", "json")}
    assert counts == {"elisp": 2, "toml": 1, "json": 3}
    assert {lang for lang, _ in FENCE.findall(section("Other editors"))} == {"elisp", "toml", "json"}
