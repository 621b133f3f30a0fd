"""Set-up, health, commands and code actions in a real Neovim."""

from __future__ import annotations

from .conftest import Nvim, Reply, ThreadedFake


def test_checkhealth_reports_ok(nvim: Nvim) -> None:
    nvim.edit("calc.py", "x = 1\n")
    nvim.cmd("checkhealth deepseek_lsp")
    text = "\n".join(nvim.lines())
    assert "deepseek_lsp" in text
    assert "ERROR" not in text, text
    for expected in (
        "OK setup() was called",
        "OK server found:",
        "OK version: deepseek-lsp",
        "OK API key set",
        "OK check API key",
        "OK check Base URL",
        "OK check Model",
        "OK check Balance",
        "position encoding utf-8",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "sk-test" not in text  # never the key


def test_checkhealth_reports_missing_key(fake: ThreadedFake, tmp_path) -> None:
    from .conftest import start_nvim, stop

    n = start_nvim(fake, tmp_path)
    try:
        n.lua(
            "vim.lsp.config('deepseek_lsp', {cmd_env = {DEEPSEEK_API_KEY = ''}}); vim.env.DEEPSEEK_API_KEY = nil"
        )
        n.cmd("checkhealth deepseek_lsp")
        text = "\n".join(n.lines())
        assert "ERROR API key not set" in text, text
        assert "ERROR check API key" in text, text
    finally:
        stop(n)


def test_subcommand_completion(nvim: Nvim) -> None:
    assert nvim.lua("return vim.fn.getcompletion('DeepSeek ', 'cmdline')") == [
        "explain",
        "refactor",
        "fix",
        "docstring",
        "tests",
        "rewrite",
        "chat",
        "cancel",
        "accept",
        "reject",
        "status",
        "sessions",
        "recover",
    ]
    assert nvim.lua("return vim.fn.getcompletion('DeepSeek re', 'cmdline')") == [
        "refactor",
        "rewrite",
        "reject",
        "recover",
    ]
    assert nvim.lua("return vim.fn.getcompletion(\"'<,'>DeepSeek ex\", 'cmdline')") == ["explain"]
    assert "all" in nvim.lua("return vim.fn.getcompletion('DeepSeek cancel ', 'cmdline')")
    assert "/explain" in nvim.lua("return vim.fn.getcompletion('DeepSeek chat /', 'cmdline')")


def test_code_actions_are_listed_and_run(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "def add(a, b):\n    return a + b\n")
    nvim.lua(
        """
        vim.ui.select = function(items, opts, on_choice)
          _G.actions = {}
          for _, item in ipairs(items) do table.insert(_G.actions, opts.format_item(item)) end
          for i, item in ipairs(items) do
            if item.action.title == 'DeepSeek: Explain' then return on_choice(item, i) end
          end
          on_choice(nil)
        end
        """
    )
    fake.enqueue(Reply(content="It adds two numbers."))
    nvim.lua("vim.lsp.buf.code_action({range = {start = {1, 0}, ['end'] = {2, 15}}})")
    nvim.wait("return _G.actions ~= nil", what="the code action menu")
    titles = nvim.lua("return _G.actions")
    for title in (
        "DeepSeek: Explain",
        "DeepSeek: Refactor",
        "DeepSeek: Add docstring",
        "DeepSeek: Write tests",
    ):
        assert any(title in t for t in titles), titles
    # choosing Explain runs through the plugin: the float shows the answer
    job = nvim.wait_job_done("explain")
    assert job["text"] == "It adds two numbers."
    f = nvim.lua("local f = require('deepseek_lsp.explain').current(); return f and f.buf")
    assert f and "It adds two numbers." in "\n".join(nvim.lines(f))


def test_status_command(nvim: Nvim) -> None:
    nvim.edit("calc.py", "x = 1\n")
    nvim.cmd("DeepSeek status")
    nvim.wait("return require('deepseek_lsp').last_status ~= nil", what="the status")
    status = nvim.lua("return require('deepseek_lsp').last_status")
    assert status["apiKeySet"] is True
    assert status["model"] == "deepseek-chat"
    note = nvim.notes()[-1][0]
    assert "API key: set" in note and "sk-" not in note


def test_help_file_has_valid_tags(nvim: Nvim, tmp_path) -> None:
    import shutil

    from .conftest import PLUGIN

    doc = tmp_path / "doc"
    shutil.copytree(PLUGIN / "doc", doc)
    nvim.cmd(f"helptags {doc}")
    tags = (doc / "tags").read_text()
    for tag in ("deepseek_lsp", ":DeepSeek", "deepseek_lsp.status()", "DeepSeekJobDone"):
        assert f"{tag}\tdeepseek_lsp.txt" in tags


def test_invalid_setting_is_notified_once(fake: ThreadedFake, tmp_path) -> None:
    from .conftest import start_nvim, stop

    n = start_nvim(fake, tmp_path, {"settings": {"temperature": "hot"}})
    try:
        n.edit("calc.py", "x = 1\n")
        n.wait("return #_G.test_notes > 0", what="the settings error")
        n.cmd("DeepSeek status")  # a round trip: anything else the server said has arrived
        n.wait("return require('deepseek_lsp').last_status ~= nil", what="the status")
        errors = [m for m, level in n.notes() if level == 4]
        assert len(errors) == 1, n.notes()
        assert "temperature" in errors[0]
    finally:
        stop(n)


def test_refactor_code_action_asks_how(nvim: Nvim, fake: ThreadedFake) -> None:
    nvim.edit("calc.py", "def add(a, b):\n    return a + b\n")
    nvim.require_command("deepseek.rewrite")
    nvim.lua(
        """
        vim.ui.select = function(items, opts, on_choice)
          for i, item in ipairs(items) do
            if item.action.title == 'DeepSeek: Refactor' then return on_choice(item, i) end
          end
        end
        vim.ui.input = function(opts, on_confirm) _G.asked = opts.prompt; on_confirm('use a lambda') end
        """
    )
    fake.enqueue(Reply(content="add = lambda a, b: a + b"))
    nvim.lua("vim.lsp.buf.code_action({range = {start = {1, 0}, ['end'] = {2, 15}}})")
    job = nvim.wait_job_done("rewrite")
    assert job["state"] == "done"
    assert "Refactor how?" in nvim.lua("return _G.asked")
    sent = [m["content"] for m in fake.requests()[-1].body["messages"] if m["role"] == "user"]
    assert "use a lambda" in sent[-1]
    nvim.wait("return vim.api.nvim_buf_get_lines(0, 0, -1, false)[1] == 'add = lambda a, b: a + b'")


def test_vim_lsp_enable_alone_works(fake: ThreadedFake, tmp_path) -> None:
    """The plugin ships lsp/deepseek_lsp.lua: enabling the config is enough to get the UI."""
    from .conftest import start_nvim, stop

    n = start_nvim(fake, tmp_path, call_setup=False)
    try:
        n.lua("vim.lsp.enable('deepseek_lsp')")
        n.edit("calc.py", "def add(a, b):\n    return a + b\n")
        fake.enqueue(Reply(content="Adds."))
        n.lua(
            "local c = require('deepseek_lsp.client').get(0);"
            " c:exec_cmd({command = 'deepseek.explain', arguments = {{uri = vim.uri_from_bufnr(0),"
            " range = {start = {line = 0, character = 0}, ['end'] = {line = 1, character = 0}}}}}, {bufnr = 0})"
        )
        job = n.wait_job_done("explain")
        assert job["text"] == "Adds."
        assert n.lua("return require('deepseek_lsp.explain').current() ~= nil")
    finally:
        stop(n)
