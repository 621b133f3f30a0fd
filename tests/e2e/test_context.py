"""Context end to end: what reaches the fake DeepSeek, what is cached, what never leaves the machine."""

from __future__ import annotations

import json

from pytest_lsp import LanguageClient

from deepseek_lsp.fake import FakeDeepSeek

from .harness import Recorder, command, open_doc, rng, server_config, start_client

Lsp = tuple[LanguageClient, Recorder]

SK_KEY = "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
PEM_BODY = "MIIEowIBAAKCAQEA7bq1" + "x" * 40 + "Zr8QIDAQABAoIBAFq"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY[::-1]}\n-----END RSA PRIVATE KEY-----"

APP = f'''import os

DEEPSEEK_KEY = "{SK_KEY}"
AWS_ACCESS_KEY_ID = "{AWS_ID}"
AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"
PRIVATE = """{PEM}"""


def connect(region):
    """Open a client for region."""
    return make_client(region, key=DEEPSEEK_KEY, secret=AWS_SECRET_ACCESS_KEY)
'''


def bodies(fake: FakeDeepSeek) -> str:
    return json.dumps([r.body for r in fake.requests])


async def test_planted_secrets_never_reach_deepseek(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    open_doc(client, "file:///w/other.py", f"TOKEN = '{SK_KEY}'\nPEM = '''{PEM}'''\n")
    open_doc(client, "file:///w/app.py", APP)
    lines = APP.splitlines()
    job = (
        await command(
            client, "deepseek.explain", {"uri": "file:///w/app.py", "range": rng(0, 0, len(lines), 0)}
        )
    )["jobId"]
    await rec.wait_done(job)
    sent = bodies(fake)
    assert "make_client" in sent  # the code itself did go
    for secret in (SK_KEY, AWS_ID, AWS_SECRET, PEM_BODY, PEM_BODY[::-1]):
        assert secret not in sent
    first = rec.job(job)[0]
    assert first["context"]["maskedSecrets"] >= 4


async def test_excluded_files_are_never_sent(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    open_doc(client, "file:///w/.env", "API_TOKEN=supersecretvalue\n", language="dotenv")
    job = (await command(client, "deepseek.explain", {"uri": "file:///w/.env", "range": rng(0, 0, 1, 0)}))[
        "jobId"
    ]
    final = await rec.wait_done(job)
    assert final["state"] == "failed" and "excludePatterns" in final["error"]["message"]
    assert not fake.requests
    # and an open .env never rides along as context of another file
    open_doc(client, "file:///w/main.py", "def main():\n    return 1\n")
    job = (
        await command(client, "deepseek.explain", {"uri": "file:///w/main.py", "range": rng(0, 0, 1, 12)})
    )["jobId"]
    await rec.wait_done(job)
    assert "supersecretvalue" not in bodies(fake) and "def main" in bodies(fake)


async def test_identical_state_gives_identical_bytes(lsp: Lsp, fake: FakeDeepSeek) -> None:
    client, rec = lsp
    open_doc(client, "file:///w/app.py", APP)
    for _ in range(2):
        job = (
            await command(client, "deepseek.explain", {"uri": "file:///w/app.py", "range": rng(8, 0, 10, 0)})
        )["jobId"]
        await rec.wait_done(job)
    first, second = (json.dumps(r.body, sort_keys=True) for r in fake.requests)
    assert first == second


async def test_repeated_actions_on_one_file_hit_the_cache(lsp: Lsp, fake: FakeDeepSeek) -> None:
    """Acceptance (issue 5): >= 70% of prompt tokens are cache hits from the second request on."""
    client, rec = lsp
    text = "\n\n".join(
        f'def step_{i}(state):\n    """Step {i} of the pipeline."""\n    state[\'n\'] += {i}\n    return state'
        for i in range(40)
    )
    open_doc(client, "file:///w/pipeline.py", text)
    hits = prompt = 0
    for i in range(8):
        line = (i * 5) % 150
        job = (
            await command(
                client,
                "deepseek.explain",
                {"uri": "file:///w/pipeline.py", "range": rng(line, 0, line + 3, 0)},
            )
        )["jobId"]
        final = await rec.wait_done(job)
        if i:
            hits += final["usage"]["promptCacheHitTokens"]
            prompt += final["usage"]["promptTokens"]
    assert hits / prompt >= 0.7, f"{hits}/{prompt}"
    status = await command(client, "deepseek.status", {})
    assert status["usage"]["requests"] == 8 and status["usage"]["cacheHitShare"] > 0.5
    assert status["usage"]["cost"] > 0


async def test_budget_leaves_out_what_does_not_fit_and_says_so(fake: FakeDeepSeek) -> None:
    client, rec = await start_client(server_config(fake.base_url), init_options={"contextBudget": 600})
    try:
        big = "\n".join(f"def helper_{i}(x):\n    return x * {i}" for i in range(800))
        open_doc(client, "file:///w/big.py", big)
        open_doc(client, "file:///w/small.py", "def f(x):\n    return helper_3(x)\n")
        job = (
            await command(
                client, "deepseek.explain", {"uri": "file:///w/small.py", "range": rng(0, 0, 1, 22)}
            )
        )["jobId"]
        await rec.wait_done(job)
        note = rec.job(job)[0]["context"]
        assert note["tokens"] <= 600
        assert any("big.py" in o for o in note["omitted"])
        assert "helper_799" not in bodies(fake)
    finally:
        await client.shutdown_session()
