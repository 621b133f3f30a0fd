"""A disk cache for the methods attrs generates, so cold start skips compiling them again.

`lsprotocol.types` defines ~550 attrs classes; attrs writes each one's methods as source text
and `compile()`s it at import time, which is about half of that import (~85 of ~165 ms on the
benchmark machine, see docs/benchmarks.md). The generated source is the same on every start, so
the server keeps the compiled code objects in one `marshal` file: keyed by a digest of the exact
source and file name (a changed class simply misses), the file named after the interpreter's
bytecode magic and attrs' own file (size, mtime).

Best effort only: any surprise (another attrs, an unreadable or corrupt file) falls back to
plain compiling. `DEEPSEEK_LSP_NO_CODE_CACHE=1` turns it off. Only the language server uses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Callable
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from typing import Any

_state: dict[str, Any] = {}


def _cache_file(version: str) -> Path:
    """In the user cache folder, where platformdirs would put it (its import costs ~15 ms)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(Path.home() / "Library" / "Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    tag = f"{MAGIC_NUMBER.hex()}-{version}-{sys.implementation.cache_tag}"
    return Path(base) / "deepseek-lsp" / f"attrs-code-{tag}.marshal"


def install() -> None:
    """Route attrs' compiling through the cache (call before importing lsprotocol)."""
    if os.environ.get("DEEPSEEK_LSP_NO_CODE_CACHE") or _state:
        return
    try:
        import attr._make as make
    except ImportError:
        return
    original: Callable[..., None] | None = getattr(make, "_compile_and_eval", None)
    code = getattr(original, "__code__", None)
    if code is None or code.co_varnames[:4] != ("script", "globs", "locs", "filename"):
        return  # not the attrs this was written for
    try:  # attrs' own file identifies its version (attr.__version__ costs a metadata scan)
        st = os.stat(make.__file__)
        version = f"{st.st_size:x}{st.st_mtime_ns:x}"
    except (OSError, TypeError):
        return
    path = _cache_file(version)
    codes: dict[bytes, Any] = {}
    with contextlib.suppress(Exception):
        loaded = marshal.loads(path.read_bytes())
        if isinstance(loaded, dict):
            codes = loaded
    new: list[int] = [0]
    used: dict[bytes, Any] = {}  # what this start needed: the file keeps only that

    def compile_and_eval(
        script: str,
        globs: dict[str, Any] | None,
        locs: Any = None,
        filename: str = "",
    ) -> None:
        key = hashlib.blake2b(f"{filename}\0{script}".encode(), digest_size=16).digest()
        bytecode = codes.get(key)
        if bytecode is None:
            bytecode = compile(script, filename, "exec")
            new[0] += 1
        used[key] = bytecode
        eval(bytecode, globs, locs)

    make._compile_and_eval = compile_and_eval
    _state.update(make=make, original=original, codes=used, new=new, path=path, loaded=len(codes))


def finish() -> None:
    """Stop caching; rewrite the file when much was new or stale. Never raises."""
    if not _state:
        return
    make, original, codes, new, path, loaded = (
        _state[k] for k in ("make", "original", "codes", "new", "path", "loaded")
    )
    make._compile_and_eval = original
    _state.clear()
    _state["done"] = True  # install() once per process
    # A few misses each start are normal (attrs bakes the per-process string hash into a frozen
    # class's __hash__ source): rewrite the file only when much was missing, or much of it is
    # stale (another version's classes), keeping just what this start used.
    if new[0] < max(1, len(codes) // 10) and loaded <= len(codes) * 5 // 4:
        return
    with contextlib.suppress(Exception):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(marshal.dumps(codes))
            os.replace(tmp, path)  # atomic: servers starting side by side never read half a file
        finally:
            tmp.unlink(missing_ok=True)  # a disk that filled up midway
        # this Python's files for an attrs that is gone (another Python's are left alone)
        for other in path.parent.glob(
            f"attrs-code-{MAGIC_NUMBER.hex()}-*-{sys.implementation.cache_tag}.marshal"
        ):
            if other != path:
                other.unlink(missing_ok=True)
