"""The repository owns its contract: nothing in it points at a protocol file it does not hold.

`docs/protocol.md` is the whole client protocol. These tests fail when any file of the
repository (tracked, or new and not ignored) names a protocol or contract document that is not
in the repository (a bare `PROTOCOL.md`, a path into a folder beside the checkout), or when a
relative Markdown link (or its `#anchor`) in a `.md` file does not resolve.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS = PurePosixPath("tests/unit/test_docs.py")  # it spells out the names it looks for

# A protocol or contract document named by path or file name (`docs/protocol.md`, `CONTRACT.md`).
DOC_NAME = re.compile(r"[\w./~-]*(?:protocol|contract)[\w.-]*\.(?:md|markdown|rst|txt)\b", re.IGNORECASE)
# Places outside the checkout that documents have pointed at: the folder beside it.
OUTSIDE = re.compile(r"(?:\.\./)+shared/|/work/shared\b|(?<![\w/.-])shared/(?:reference|PROTOCOL)")
# Inline links and images `[text](target "title")`, and reference definitions `[label]: target`.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def repository_files(root: Path) -> list[PurePosixPath]:
    """The files a clone would hold: tracked ones and new ones not ignored (deleted ones left out)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"`git ls-files` failed in {root} ({exc}); these checks need a git checkout")
    names = {PurePosixPath(n) for n in out.decode().split("\0") if n}
    return sorted(n for n in names if (root / n).is_file())


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _read(root: Path, rel: PurePosixPath) -> str | None:
    try:
        return (root / rel).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # a binary file names nothing


def _inside(root: Path, path: Path) -> PurePosixPath | None:
    """`path` relative to the repository root, or None when it leaves the repository."""
    try:
        return PurePosixPath(path.resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        return None


def _resolves(root: Path, here: PurePosixPath, target: str, present: set[PurePosixPath]) -> bool:
    """Whether `target`, named in file `here`, is a file or folder of the repository: relative to
    `here`'s folder, or to the repository root."""
    dirs = {p for f in present for p in f.parents}
    for base in (root / here.parent, root):
        rel = _inside(root, base / target.lstrip("/"))
        if rel is not None and (rel in present or rel in dirs):
            return True
    return False


def foreign_references(root: Path, files: Iterable[PurePosixPath]) -> list[Problem]:
    """Every mention of a protocol/contract document the repository lacks, or of a place outside it."""
    files = list(files)
    present = set(files)
    problems = []
    for rel in files:
        if rel == THIS:
            continue
        text = _read(root, rel)
        if text is None:
            continue
        for m in OUTSIDE.finditer(text):
            problems.append(
                Problem(str(rel), _line_of(text, m.start()), f"points outside the repository: {m[0]!r}")
            )
        for m in DOC_NAME.finditer(text):
            name = m[0]
            if SCHEME.match(name) or not _resolves(root, rel, name, present):
                problems.append(
                    Problem(
                        str(rel),
                        _line_of(text, m.start()),
                        f"names {name!r}, which is not in the repository (the contract is docs/protocol.md)",
                    )
                )
    return problems


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text, not its target
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings (repeats get `-1`, `-2`, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for m in HEADING.finditer(FENCE.sub("", markdown)):
        base = slug(m[1])
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _blank(m: re.Match[str]) -> str:
    """Blank out code, keeping the line count so line numbers stay right."""
    return re.sub(r"[^\n]", " ", m[0])


def broken_links(root: Path, files: Iterable[PurePosixPath]) -> list[Problem]:
    """Every relative link of a `.md` file whose target, or its anchor, does not exist."""
    files = list(files)
    present = set(files)
    dirs = {p for f in present for p in f.parents}
    problems = []
    cache: dict[PurePosixPath, set[str]] = {}
    for rel in files:
        if rel.suffix.lower() not in (".md", ".markdown"):
            continue
        raw = _read(root, rel)
        if raw is None:
            continue
        text = CODE_SPAN.sub(_blank, FENCE.sub(_blank, raw))
        targets = [(m.start(), m[1]) for m in INLINE_LINK.finditer(text)]
        targets += [(m.start(), m[1]) for m in REF_DEF.finditer(text)]
        for offset, target in sorted(targets):
            if SCHEME.match(target) or target.startswith("//"):
                continue  # a URL: not the repository's to check
            path_part, _, fragment = target.partition("#")
            line = _line_of(text, offset)
            if path_part:
                base = root if path_part.startswith("/") else root / rel.parent
                dest = _inside(root, base / unquote(path_part).lstrip("/"))
                if dest is None:
                    problems.append(Problem(str(rel), line, f"links outside the repository: {target!r}"))
                    continue
                if dest not in present and dest not in dirs:
                    problems.append(Problem(str(rel), line, f"links to {target!r}, which does not exist"))
                    continue
            else:
                dest = rel
            if fragment and dest in present and dest.suffix.lower() in (".md", ".markdown"):
                if dest not in cache:
                    cache[dest] = anchors(_read(root, dest) or "")
                if unquote(fragment).lower() not in cache[dest]:
                    problems.append(
                        Problem(str(rel), line, f"links to {target!r}: no such heading in {dest}")
                    )
    return problems


# -- the repository -------------------------------------------------------------------------


def test_the_protocol_document_is_in_the_repository() -> None:
    protocol = ROOT / "docs" / "protocol.md"
    assert protocol.is_file()
    text = protocol.read_text(encoding="utf-8")
    for heading in (
        "Settings",
        "Commands",
        "Errors",
        "Jobs and cancellation",
        "Rewrites",
        "Recovery",
        "Chat",
    ):
        assert f"\n## {heading}\n" in text, f"docs/protocol.md has no '## {heading}' section"


def test_no_file_names_a_protocol_document_the_repository_lacks() -> None:
    problems = foreign_references(ROOT, repository_files(ROOT))
    assert not problems, "\n".join(map(str, problems))


def test_every_relative_markdown_link_resolves() -> None:
    problems = broken_links(ROOT, repository_files(ROOT))
    assert not problems, "\n".join(map(str, problems))


def test_every_error_code_and_setting_is_in_the_protocol() -> None:
    """A new error code or setting in the server is a change of the contract: document it."""
    from typing import get_args

    from deepseek_lsp.errors import ErrorCode
    from deepseek_lsp.settings import Settings

    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    missing = [f"error code {c}" for c in get_args(ErrorCode) if f"`{c}`" not in text]
    for name, field in Settings.model_fields.items():
        key = field.alias or name
        if f"| `{key}` |" not in text:
            missing.append(f"setting {key}")
    assert not missing, "docs/protocol.md does not document: " + ", ".join(missing)


# -- the checks themselves, on a small repository of our own ---------------------------------


def _repo(tmp_path: Path, files: dict[str, str]) -> list[PurePosixPath]:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return sorted(PurePosixPath(n) for n in files)


def test_a_missing_protocol_file_or_an_outside_path_is_caught(tmp_path: Path) -> None:
    files = _repo(
        tmp_path,
        {
            "docs/protocol.md": "# Protocol\n",
            "docs/guide.md": "See [the protocol](protocol.md) and docs/protocol.md.\n",
            "server/a.py": '"""As PROTOCOL.md says."""\n',
            "server/b.py": "# from ../shared/reference/api.md\n",
            "README.md": "The contract: [here](../shared/CONTRACT.md).\n",
        },
    )
    found = {(p.path, p.line) for p in foreign_references(tmp_path, files)}
    assert found == {("server/a.py", 1), ("server/b.py", 1), ("README.md", 1)}


def test_broken_links_and_anchors_are_caught(tmp_path: Path) -> None:
    files = _repo(
        tmp_path,
        {
            "docs/protocol.md": "# Protocol\n\n## The `deepseek/stream` notification\n\n## Jobs and cancellation\n",
            "docs/ok.md": (
                "[a](protocol.md#the-deepseekstream-notification) [b](/docs/protocol.md) [c](../README.md)\n"
                "[d](#top) [e](https://example.com/x.md) [f](.)\n\n# Top\n\n"
                "```\n[not a link](missing.md)\n```\n`[nor this](missing.md)`\n[ref]: protocol.md\n"
            ),
            "README.md": "[g](docs/missing.md)\n[h](docs/protocol.md#jobs)\n[i](../../etc/passwd)\n",
        },
    )
    found = sorted((p.path, p.line) for p in broken_links(tmp_path, files))
    assert found == [("README.md", 1), ("README.md", 2), ("README.md", 3)]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("The `deepseek/stream` notification", "the-deepseekstream-notification"),
        (
            "The fake DeepSeek's control API (tests, demos, benchmarks)",
            "the-fake-deepseeks-control-api-tests-demos-benchmarks",
        ),
        ("Jobs and cancellation", "jobs-and-cancellation"),
    ],
)
def test_slug_matches_githubs_anchors(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
