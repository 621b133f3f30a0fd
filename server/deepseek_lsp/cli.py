"""The `deepseek-lsp` command. Heavy imports happen inside each branch: cold start matters."""

from __future__ import annotations

import argparse
import gc
import os
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepseek-lsp",
        description="DeepSeek in any editor: a language server (stdio by default).",
    )
    parser.add_argument("--version", action="version", version=f"deepseek-lsp {__version__}")
    parser.add_argument("--stdio", action="store_true", help="serve LSP over stdio (the default)")
    parser.add_argument("--tcp", action="store_true", help="serve LSP over TCP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    parser.add_argument("--log-file", help="also write the log to this file (info and above by default)")
    parser.add_argument(
        "--log-level",
        choices=["error", "warning", "info", "debug"],
        help="the log's level on stderr and in --log-file (default: warnings and errors on stderr, "
        "which editors file as errors; info and above in --log-file)",
    )
    sub = parser.add_subparsers(dest="command", metavar="{check,demo,recover,fake-server}")

    check = sub.add_parser("check", help="check the key, the base URL, the model and the balance")
    check.add_argument("--json", action="store_true", help="print the result as JSON")

    demo = sub.add_parser("demo", help="explain a sample file against a built-in fake DeepSeek")
    demo.add_argument("file", nargs="?", help="a file to explain (default: a bundled sample)")

    recover = sub.add_parser(
        "recover", help="put back the original code of rewrites a crash interrupted (on disk)"
    )
    recover.add_argument("--list", action="store_true", help="only list what a crash interrupted")
    recover.add_argument("ids", nargs="*", help="only these entries (ids from --list)")

    sub.add_parser(
        "fake-server",
        help="run the fake DeepSeek used by tests and the demo (see `fake-server --help`)",
        add_help=False,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if extra and args.command != "fake-server":
        build_parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "check":
        from .check import run_check

        return run_check(as_json=args.json)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.file)
    if args.command == "recover":
        from .recover_cli import run_recover

        return run_recover(list_only=args.list, ids=args.ids or None)
    if args.command == "fake-server":
        from .fake.__main__ import main as fake_main

        return fake_main(extra)
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    # No pydantic plugin can matter to the server: skip scanning every installed package for one.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # Threads (context building, stdin reading) hand the GIL back to the event loop within 1 ms
    # instead of 5: a stream's latency tail is that interval.
    sys.setswitchinterval(0.001)
    from . import codecache, logs

    codecache.install()  # before lsprotocol is imported: its ~550 attrs classes, compiled once
    logs.setup(args.log_level, args.log_file)
    from .server import create_server

    server = create_server()
    codecache.finish()
    # Everything imported so far lives as long as the process: keep it out of the cyclic GC, whose
    # full collections would otherwise walk it all (tens of ms) in the middle of a stream.
    gc.freeze()
    if args.tcp:
        # A person started this by hand to debug: tell them where to connect, whatever the level.
        sys.stderr.write(f"serving LSP on tcp://{args.host}:{args.port}\n")  # stdout-ok
        sys.stderr.flush()
        server.start_tcp(args.host, args.port)
        return 0
    # Only LSP frames may reach stdout: hand pygls the real stdout, point print() at stderr.
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr
    # Our own read loop: it survives bad frames, and the status says whether `shutdown` came first.
    return server.serve_stdio(sys.stdin.buffer, stdout)


if __name__ == "__main__":
    sys.exit(main())
