"""Settings layering, invalid settings, the key's secrecy, deepseek.status."""

from __future__ import annotations

from typing import Any

from .conftest import KEY, Start
from .fakeds import FakeDeepSeek, Reply
from .lsp import Client, poll
from .test_jobs import CODE, check_stream, explain


async def status(client: Client) -> dict[str, Any]:
    result: dict[str, Any] = await client.command("deepseek.status", {})
    return result


def check_status_shape(result: dict[str, Any]) -> None:
    for key in ("model", "baseUrl", "apiKeySet", "jobs", "usage"):
        assert key in result, key
    assert isinstance(result["apiKeySet"], bool)
    assert isinstance(result["jobs"], list)
    assert isinstance(result["usage"], dict)
    assert KEY not in str(result)


async def test_status_shape_and_env_layer(start: Start, fake: FakeDeepSeek) -> None:
    client = await start(env={"DEEPSEEK_MODEL": "deepseek-chat"})
    result = await status(client)
    check_status_shape(result)
    assert result["model"] == "deepseek-chat"
    assert result["baseUrl"].rstrip("/") == fake.base_url
    assert result["apiKeySet"] is True


async def test_layers_env_init_workspace_change(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    dead = "http://127.0.0.1:9"  # nothing listens there
    client = await start(
        env={"DEEPSEEK_MODEL": "deepseek-chat", "DEEPSEEK_BASE_URL": dead, "DEEPSEEK_API_KEY": "sk-wrong"},
        init_options={"model": "deepseek-v4-pro", "baseUrl": fake.base_url, "logLevel": "debug"},
        config={"deepseek": {"model": "deepseek-v4-flash", "apiKey": KEY}},
    )
    # workspace/configuration (pulled after initialized) wins over initializationOptions and env
    await client.wait_for(
        lambda: any(m.get("method") == "workspace/configuration" for m in client.messages), what="config pull"
    )
    result = await _wait_model(client, "deepseek-v4-flash")
    assert result["baseUrl"].rstrip("/") == fake.base_url
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "done", final
    assert fake.completions[-1].body["model"] == "deepseek-v4-flash"
    # didChangeConfiguration carrying the section wins from now on
    client.notify(
        "workspace/didChangeConfiguration", {"settings": {"deepseek": {"model": "deepseek-v4-pro"}}}
    )
    await _wait_model(client, "deepseek-v4-pro")
    # a didChangeConfiguration without the section makes the server pull workspace/configuration
    client.config = {"deepseek": {"model": "deepseek-chat", "apiKey": KEY}}
    client.notify("workspace/didChangeConfiguration", {"settings": None})
    await _wait_model(client, "deepseek-chat")
    # the key pushed in a didChangeConfiguration, at debug level: still never logged
    client.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"deepseek": {"apiKey": KEY, "logLevel": "debug", "model": "deepseek-chat"}}},
    )
    _, job = await explain(client, py_uri)
    assert (await client.wait_done(job))["state"] == "done"
    assert fake.completions[-1].body["model"] == "deepseek-chat"


async def test_key_in_initialization_options_is_not_logged(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    client = await start(env={"DEEPSEEK_API_KEY": ""}, init_options={"apiKey": KEY, "logLevel": "debug"})
    assert (await status(client))["apiKeySet"] is True
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    assert (await client.wait_done(job))["state"] == "done"


async def _wait_model(client: Client, model: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        result = await status(client)
        return result if result["model"] == model else None

    result: dict[str, Any] = await poll(check, what=f"model {model}")
    return result


def setting_errors(client: Client) -> list[str]:
    return [m for m in client.errors_shown() if "setting" in m.lower() or "deepseek." in m]


async def test_invalid_setting_reported_once_and_last_valid_kept(
    start: Start, fake: FakeDeepSeek, py_uri: str
) -> None:
    client = await start(init_options={"model": "deepseek-v4-pro", "temperature": 0.5})
    await _wait_model(client, "deepseek-v4-pro")
    bad = {"settings": {"deepseek": {"model": "deepseek-chat", "temperature": 7}}}
    client.notify("workspace/didChangeConfiguration", bad)
    await client.wait_for(lambda: setting_errors(client), what="invalid setting message")
    [message] = setting_errors(client)
    assert "temperature" in message
    client.notify("workspace/didChangeConfiguration", bad)  # the same problem again: not repeated
    result = await status(client)
    assert result["model"] == "deepseek-v4-pro", "the last valid settings are kept"
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    assert (await client.wait_done(job))["state"] == "done"
    assert fake.completions[-1].body.get("temperature") != 7
    assert len(setting_errors(client)) == 1


async def test_invalid_camel_case_keys_are_named(start: Start) -> None:
    client = await start(init_options={"maxTokens": "lots", "timeouts": {"idle": -1}})
    await client.wait_for(lambda: setting_errors(client), what="invalid setting message")
    text = " ".join(setting_errors(client))
    assert "maxTokens" in text
    assert "idle" in text
    check_status_shape(await status(client))  # still running


async def test_no_key(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start(env={"DEEPSEEK_API_KEY": ""})
    result = await status(client)
    assert result["apiKeySet"] is False
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "failed"
    assert final["error"]["code"] == "unauthorized"
    check_stream(client, job, "explain")  # the response came first even for an instant failure
    await client.wait_for(client.errors_shown, what="showMessage Error")
    assert "key" in client.errors_shown()[0].lower()


async def test_key_never_leaks_even_when_echoed(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """DeepSeek's error text could carry the key: it must not reach a message, a log or stderr."""
    fake.enqueue(Reply(status=400, message=f"bad request from key {KEY}"), Reply(content=["ok"]))
    client = await start(init_options={"logLevel": "debug"})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    final = await client.wait_done(job)
    assert final["state"] == "failed"
    _, job = await explain(client, py_uri)
    await client.wait_done(job)
    check_status_shape(await status(client))
    # the teardown checks stdout, stderr and the data directory for the key


async def test_base_url_with_v1(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    client = await start(env={"DEEPSEEK_BASE_URL": fake.base_url + "/v1"})
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    assert (await client.wait_done(job))["state"] == "done"
    assert fake.completions[-1].path == "/v1/chat/completions"
    # a rewrite works too: by chat prefix completion at /beta, or plainly once /v1/beta is refused
    from .test_rewrite import DOC, END, MODEL_CODE, START, rewritten

    fake.enqueue(Reply(code=MODEL_CODE))
    client.config = {"deepseek": {"rewritePrefix": True}}
    client.notify("workspace/didChangeConfiguration", {"settings": {"deepseek": {"rewritePrefix": True}}})
    client.open(py_uri.replace("app.py", "box.py"), DOC)
    uri = py_uri.replace("app.py", "box.py")
    rng = client.range(uri, START, END)
    job = (await client.command("deepseek.rewrite", {"uri": uri, "range": rng, "action": "docstring"}))[
        "jobId"
    ]
    assert (await client.wait_done(job))["state"] == "done"
    assert client.docs[uri].text == rewritten()
    assert fake.completions[-1].path in ("/beta/chat/completions", "/v1/chat/completions")


async def test_advertises_the_commands(start: Start) -> None:
    client = await start()
    caps = client.init_result["capabilities"]
    commands = set(caps["executeCommandProvider"]["commands"])
    for name in ("explain", "rewrite", "accept", "reject", "chat", "cancel", "status"):
        assert f"deepseek.{name}" in commands
    assert caps.get("codeActionProvider")
    assert caps.get("hoverProvider")
    assert caps.get("positionEncoding", "utf-16") == "utf-16"  # the client offered none


async def test_invalid_boolean_is_named(start: Start) -> None:
    client = await start(config={"deepseek": {"review": "sometimes"}})
    await client.wait_for(lambda: setting_errors(client), what="invalid setting message")
    assert "review" in setting_errors(client)[0]
    assert (await status(client)).get("review", False) is False


async def test_invalid_environment_is_reported(start: Start, fake: FakeDeepSeek, py_uri: str) -> None:
    """The environment is a settings layer: a bad variable is reported, the valid ones (the key) kept."""
    client = await start(
        env={"DEEPSEEK_BASE_URL": "api.deepseek.com"}, init_options={"baseUrl": fake.base_url}
    )
    await client.wait_for(
        lambda: [m for m in client.errors_shown() if "baseUrl" in m or "DEEPSEEK_BASE_URL" in m],
        what="the bad base URL named",
    )
    assert len(client.errors_shown()) == 1
    client.open(py_uri, CODE)
    _, job = await explain(client, py_uri)
    assert (await client.wait_done(job))["state"] == "done"
