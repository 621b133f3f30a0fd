"""luacheck over the plugin, where it is installed (Debian: apt-get install lua-check)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import PLUGIN


def test_luacheck_is_clean() -> None:
    luacheck = shutil.which("luacheck")
    if luacheck is None:
        pytest.skip("luacheck is not installed")
    result = subprocess.run(
        [luacheck, "--formatter", "plain", "lua", "plugin", "lsp"],
        cwd=PLUGIN,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
