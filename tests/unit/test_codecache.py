"""The attrs code cache: a second start compiles nothing and the classes behave the same."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import attr
from deepseek_lsp import codecache
codecache.install()
state = codecache._state

@attr.define
class Point:
    x: int
    y: int = 0

compiled = state["new"][0] if state else -1
codecache.finish()
assert Point(1, 2) == Point(1, 2) and Point(1) != Point(2) and repr(Point(3)) == "Point(x=3, y=0)"
print(compiled)
"""


def run(cache_home: Path, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "DEEPSEEK_LSP_NO_CODE_CACHE"}
    full.update(XDG_CACHE_HOME=str(cache_home), **env)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=full, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_second_start_compiles_nothing(tmp_path: Path) -> None:
    assert int(run(tmp_path)) > 0
    files = list((tmp_path / "deepseek-lsp").glob("attrs-code-*.marshal"))
    assert len(files) == 1
    assert run(tmp_path) == "0"


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    run(tmp_path)
    (file,) = (tmp_path / "deepseek-lsp").glob("attrs-code-*.marshal")
    file.write_bytes(b"not marshal at all")
    assert int(run(tmp_path)) > 0  # compiled again, and rewrote the file
    assert run(tmp_path) == "0"


def test_stale_entries_are_pruned(tmp_path: Path) -> None:
    run(tmp_path)
    (file,) = (tmp_path / "deepseek-lsp").glob("attrs-code-*.marshal")
    codes = marshal.loads(file.read_bytes())
    stale = {bytes([i]) * 16: compile("x = 1", "<stale>", "exec") for i in range(5 * len(codes))}
    file.write_bytes(marshal.dumps({**codes, **stale}))
    assert run(tmp_path) == "0"  # nothing compiled, yet the file was mostly stale: rewritten
    assert marshal.loads(file.read_bytes()).keys() == codes.keys()


def test_it_can_be_turned_off(tmp_path: Path) -> None:
    assert run(tmp_path, DEEPSEEK_LSP_NO_CODE_CACHE="1") == "-1"
    assert not (tmp_path / "deepseek-lsp").exists()
