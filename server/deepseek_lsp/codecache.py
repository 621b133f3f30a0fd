"""A disk cache for the methods attrs generates, so cold start skips compiling them again.

`lsprotocol.types` defines ~550 attrs classes; attrs writes each one's `__init__`, `__eq__`, ...
as source text and `compile()`s it at import time, which is about half of that import (~85 of
~165 ms on the benchmark machine, see docs/benchmarks.md). The generated source is the same on
every start, so the server keeps the compiled code objects in one `marshal` file, keyed by the
a digest of the exact source and file name (a changed class simply misses) and by the interpreter's bytecode
magic and the attrs version in the file name.

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
        import attr
        import attr._make as make
    except ImportError:
        return
    original: Callable[..., None] | None = getattr(make, "_compile_and_eval", None)
    code = getattr(original, "__code__", None)
    if code is None or code.co_varnames[:4] != ("script", "globs", "locs", "filename"):
        return  # not the attrs this was written for
    path = _cache_file(getattr(attr, "__version__", "0"))
    codes: dict[bytes, Any] = {}
    with contextlib.suppress(Exception):
        loaded = marshal.loads(path.read_bytes())
        if isinstance(loaded, dict):
            codes = loaded
    new: list[int] = [0]

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
            codes[key] = bytecode
            new[0] += 1
        eval(bytecode, globs, locs)

    make._compile_and_eval = compile_and_eval
    _state.update(make=make, original=original, codes=codes, new=new, path=path)


def finish() -> None:
    """Stop caching; write the file when this start compiled something new. Never raises."""
    if not _state:
        return
    make, original, codes, new, path = (_state[k] for k in ("make", "original", "codes", "new", "path"))
    make._compile_and_eval = original
    _state.clear()
    _state["done"] = True  # install() once per process
    if not new[0]:
        return
    with contextlib.suppress(Exception):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(codes))
        os.replace(tmp, path)  # atomic: servers starting side by side never read half a file
