"""`deepseek-lsp fake-server` / `python -m deepseek_lsp.fake`: the fake DeepSeek as a process.

Editor-client tests and benchmarks run outside pytest's event loop, so they start the fake as a
separate process, read the one line it prints to learn its URL, and script it over `/_fake/*`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from deepseek_lsp.fake.script import Reply
from deepseek_lsp.fake.server import FakeDeepSeek, Profile


def load_script(path: Path) -> list[Reply]:
    """Replies from a JSON file holding one Reply object or a list of them."""
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data if isinstance(data, list) else [data]
    return [Reply.model_validate(item) for item in items]


async def serve_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    script: Path | None = None,
    *,
    api_key: str | None = "sk-fake",
    default_delay: float = 0.015,
    profile: Profile = "deepseek",
) -> None:
    """Serve until SIGINT/SIGTERM; print `fake DeepSeek listening on URL` once listening."""
    fake = FakeDeepSeek(host=host, port=port, api_key=api_key, default_delay=default_delay, profile=profile)
    if script is not None:
        fake.enqueue(*load_script(script))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with fake:
        # stdout's one line is read by scripts: the URL stays its last word; the rest is for people
        print(f"fake DeepSeek listening on {fake.base_url}", flush=True)  # stdout-ok
        url = f"{fake.base_url}/v1" if profile == "openai" else fake.base_url
        print(key_line(api_key, url), file=sys.stderr, flush=True)  # stdout-ok
        await stop.wait()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)


def key_line(api_key: str | None, base_url: str) -> str:
    """Which key the fake accepts, and how to point the server at it."""
    if api_key is None:
        accepts = "accepts any API key, or none"
        key = "sk-anything"
    else:
        accepts = f"accepts the API key {api_key} only (401 for any other)"
        key = api_key
    return f"It {accepts}. Try: DEEPSEEK_API_KEY={key} DEEPSEEK_BASE_URL={base_url} deepseek-lsp check"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `--host`, `--port`, `--script`, `--api-key K` or `--any-key`, `--delay`,
    `--profile`."""
    parser = argparse.ArgumentParser(
        prog="deepseek-lsp fake-server",
        description=(
            "Run a fake DeepSeek API for trying the server without a key or network, and for tests: "
            "it streams canned replies, can be scripted over /_fake/*, and records every request. "
            "It prints `fake DeepSeek listening on URL` on stdout once it listens."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one)")
    parser.add_argument("--script", type=Path, help="JSON file: a list of Reply objects to queue")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key", default=None, help="the accepted key (default sk-fake; none with --profile openai)"
    )
    keys.add_argument("--any-key", action="store_true", help="accept any key, or none")
    parser.add_argument("--delay", type=float, default=0.015, help="default seconds between chunks (0.015)")
    parser.add_argument(
        "--profile",
        choices=("deepseek", "openai"),
        default="deepseek",
        help="deepseek (default): DeepSeek's API; openai: a generic OpenAI-compatible server like "
        "llama-cpp-python's (under /v1 only, no key, no /beta, no balance, usage only when asked)",
    )
    args = parser.parse_args(argv)
    api_key = args.api_key
    if api_key is None and not args.any_key and args.profile == "deepseek":
        api_key = "sk-fake"
    try:
        replies_path: Path | None = args.script
        if replies_path is not None:
            load_script(replies_path)  # fail early, before printing the listening line
        asyncio.run(
            serve_forever(
                args.host,
                args.port,
                replies_path,
                api_key=None if args.any_key else api_key,
                default_delay=args.delay,
                profile=args.profile,
            )
        )
    except (OSError, ValueError) as exc:
        print(f"fake-server: {exc}", file=sys.stderr)  # stdout-ok
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
