"""A tiny "main" language server for lsp-mode, standing in for pylsp beside deepseek-lsp.

Plain stdio JSON-RPC, no dependencies (it starts in milliseconds): it syncs documents, answers
`textDocument/hover` with `stub hover: <word>` everywhere, offers one code action
(`Stub: organize imports`), and ignores the rest. It lets the lsp-mode tests check what a user
with a real Python server sees: both servers' actions in one menu, both hovers merged.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

HOVER_PREFIX = "stub hover: "
ACTION_TITLE = "Stub: organize imports"


def read_message(stream: Any) -> dict[str, Any] | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length is None:
        return None
    return json.loads(stream.read(length))


def send(message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    sys.stdout.buffer.flush()


def main() -> int:
    docs: dict[str, str] = {}
    shutdown = False
    while (msg := read_message(sys.stdin.buffer)) is not None:
        method, params, msg_id = msg.get("method"), msg.get("params") or {}, msg.get("id")
        if method == "exit":
            return 0 if shutdown else 1
        if method == "textDocument/didOpen":
            docs[params["textDocument"]["uri"]] = params["textDocument"]["text"]
        elif method == "textDocument/didChange":
            # full sync (textDocumentSync 1): the last change holds the whole text
            docs[params["textDocument"]["uri"]] = params["contentChanges"][-1]["text"]
        if msg_id is None or method is None:
            continue  # a notification, or a response to one of our (never sent) requests
        result: Any = None
        if method == "initialize":
            result = {
                "capabilities": {"textDocumentSync": 1, "hoverProvider": True, "codeActionProvider": True},
                "serverInfo": {"name": "stub"},
            }
        elif method == "shutdown":
            shutdown = True
        elif method == "textDocument/hover":
            text = docs.get(params["textDocument"]["uri"], "")
            lines = text.split("\n")
            pos = params["position"]
            line = lines[pos["line"]] if pos["line"] < len(lines) else ""
            words = [m.group() for m in re.finditer(r"\w+", line) if m.start() <= pos["character"] <= m.end()]
            result = {"contents": {"kind": "plaintext", "value": HOVER_PREFIX + (words[0] if words else "")}}
        elif method == "textDocument/codeAction":
            result = [{"title": ACTION_TITLE, "kind": "source.organizeImports"}]
        send({"id": msg_id, "result": result})
    return 1


if __name__ == "__main__":
    sys.exit(main())
