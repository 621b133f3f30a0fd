"""The README's try-it section, followed literally: `nvim --clean` plus the plugin, set up with
`-c 'lua require("deepseek_lsp").setup()'` and a file on the command line."""

from __future__ import annotations

from pathlib import Path

from .conftest import Reply, ThreadedFake, start_nvim, stop

DEMO = "def area(r):\n    return 3.14 * r * r\n"


def test_readme_try_it(fake: ThreadedFake, tmp_path: Path) -> None:
    demo = tmp_path / "demo.py"
    demo.write_text(DEMO)
    nvim = start_nvim(
        fake, tmp_path, call_setup=False, args=["-c", 'lua require("deepseek_lsp").setup()', str(demo)]
    )
    try:
        # the server attaches to the file given on the command line, with no command typed
        nvim.wait(
            "local c = require('deepseek_lsp.client'); return c.ready(c.get(0), vim.api.nvim_get_current_buf())",
            timeout=20,
            what="deepseek_lsp to attach to demo.py",
        )
        fake.enqueue(Reply(content="`area` computes the area of a circle."))
        nvim.cmd("%DeepSeek explain")
        assert nvim.wait_job_done("explain")["state"] == "done"
        buf = nvim.lua("return require('deepseek_lsp.explain').current().buf")
        assert "`area` computes the area of a circle." in "\n".join(nvim.lines(buf))

        nvim.require_command("deepseek.rewrite")
        new = 'def area(r):\n    """Area of a circle."""\n    return 3.14159 * r * r'
        fake.enqueue(Reply(content=new, delay=0.002))
        nvim.cmd("%DeepSeek docstring")
        assert nvim.wait_job_done("rewrite")["state"] == "done"
        nvim.wait("return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n') == ...", new)
        nvim.cmd("normal! u")
        assert "\n".join(nvim.lines()) + "\n" == DEMO

        fake.enqueue(Reply(content="Hello from the fake."))
        nvim.cmd("DeepSeek chat hello")
        assert nvim.wait_job_done("chat")["state"] == "done"
        chat = nvim.lua("return require('deepseek_lsp.chat').state().buf")
        assert "Hello from the fake." in "\n".join(nvim.lines(chat))

        nvim.cmd("checkhealth deepseek_lsp")
        health = "\n".join(nvim.lines())
        assert "ERROR" not in health and "WARNING" not in health, health
        assert all(level < 4 for _, level in nvim.notes()), nvim.notes()
    finally:
        stop(nvim)


def test_readme_packpath_install(fake: ThreadedFake, tmp_path: Path) -> None:
    """The plain-packages instructions: a symlink under site/pack/*/start and setup() in init.lua."""
    from .conftest import PLUGIN

    home = tmp_path / "home"
    start = home / ".local/share/nvim/site/pack/deepseek/start"
    start.mkdir(parents=True)
    (start / "deepseek_lsp").symlink_to(PLUGIN)
    config = home / ".config/nvim"
    config.mkdir(parents=True)
    (config / "init.lua").write_text('require("deepseek_lsp").setup()\n')
    demo = tmp_path / "demo.py"
    demo.write_text(DEMO)
    nvim = start_nvim(fake, tmp_path, call_setup=False, argv=["-i", "NONE", str(demo)])
    try:
        nvim.wait(
            "local c = require('deepseek_lsp.client'); return c.ready(c.get(0), vim.api.nvim_get_current_buf())",
            timeout=20,
            what="deepseek_lsp to attach to demo.py",
        )
        assert nvim.lua("return vim.fn.exists(':DeepSeek')") == 2
        fake.enqueue(Reply(content="Area."))
        nvim.cmd("%DeepSeek explain")
        assert nvim.wait_job_done("explain")["text"] == "Area."
    finally:
        stop(nvim)
