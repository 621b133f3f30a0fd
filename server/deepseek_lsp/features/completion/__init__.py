"""Inline completion (issue 13): `textDocument/inlineCompletion`, and one `textDocument/completion`
item for clients without it (`completion.fallbackItem`).

Glue only: the document and cursor are read here (the didChange before a request is applied by
then: notifications and requests are handled in order, and a request's handler reads the
document before its first await), handed to `completion.engine` as plain values, and its
answer is turned into LSP items. The FIM request itself is `DeepSeekClient.complete_fim`; its
usage goes into the session totals like any other request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.uris import to_fs_path

from ... import pricing
from ...client import EstimatedUsage
from ...completion import engine as core
from ...completion.prompt import fim_request
from ...completion.related import HEAD_CHARS, Other, related_snippets
from ...context import DocumentSnapshot, display_path
from ...documents import Document, changes_for
from ...errors import DeepSeekError
from ...positions import Pos, to_offset, to_pos
from ...pricing import UsageTotals
from ...secrets import is_excluded
from ...server import DeepSeekLanguageServer  # at run time: pygls resolves handler annotations
from ...services import MODEL_PREFERENCE
from ..common import workspace_root

log = logging.getLogger(__name__)

FALLBACK_REGISTRATION = "deepseek-completion-fallback"
MAX_OTHERS = 8  # other open documents looked at for context
_WORD_BEFORE = re.compile(r"\w+$")
# import lines (a cheap key: the related snippets are computed again only when these change)
_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:import\b|from\s+\S+\s+import\b|#\s*include\b|#import\b|using\b|use\b|require\b"
    r"|package\b|(?:local\s+)?\w+\s*=\s*require\b|const\s.*require\().*$",
    re.M,
)


def fim_model(main: str, listed: list[str]) -> str:
    """The model for FIM when `completion.model` is unset on DeepSeek's API: the cheapest
    non-thinking one listed, else the main model (never the thinking-only `deepseek-reasoner`)."""
    found = next((m for m in MODEL_PREFERENCE if m in listed), None)
    if found is not None:
        return found
    return "deepseek-chat" if main == "deepseek-reasoner" else main


class CompletionFeature:
    """Per-server state: the engine, the model in use, other documents' last edits, errors."""

    def __init__(self, ls: DeepSeekLanguageServer) -> None:
        self.ls = ls
        self.engine = core.CompletionEngine(self._fetch)
        self.usage = UsageTotals()
        self.model: str | None = None  # the FIM model, once chosen
        self._listed: tuple[str, list[str]] | None = None  # (base URL, GET /models)
        self._model_task: asyncio.Task[str] | None = None
        self._warmed = False
        self._edits: dict[str, int] = {}  # uri -> offset of its last edit
        self._related: tuple[Any, tuple[tuple[str, str], ...]] | None = None
        self.off: str | None = None  # why completion is off for this endpoint (logged once)
        self.last_error: dict[str, str] | None = None
        self._logged: set[str] = set()
        self._endpoint = self._endpoint_key()
        self.static_fallback = False  # textDocument/completion announced at initialize
        self.dynamic_fallback = False  # ... or registered since with client/registerCapability
        self._initialized = False

    # -- requests -----------------------------------------------------------------------
    async def suggest(
        self, uri: str, position: types.Position, explicit: bool
    ) -> tuple[core.Suggestion, str] | None:
        """The suggestion at `position` and the document text it was made for, or None."""
        ls = self.ls
        settings = ls.services.settings
        c = settings.completion
        if not c.enabled or self.off is not None:
            return None
        self.warm()
        doc = ls.workspace.text_documents.get(unquote(uri))
        if doc is None:
            return None
        path = to_fs_path(uri) if uri.startswith("file:") else None
        language = doc.language_id or ""
        if not core.language_allowed(language, path, c.languages):
            return None
        if path and is_excluded(path, settings.exclude_patterns):
            return None
        text = doc.source
        pos = Pos(position.line, position.character)
        if isinstance(doc, Document):
            offset = doc.text.offset(pos, ls.encoding)
        else:
            offset = to_offset(text, pos, ls.encoding)
        root = workspace_root(ls)
        shown = display_path(DocumentSnapshot(uri, path, language, text), root)
        req = core.Request(
            uri=uri,
            path=shown,
            language=language,
            text=text,
            offset=offset,
            explicit=explicit,
            other_context=self._other_context(uri, text, language, shown, root),
        )
        try:
            suggestion = await self.engine.complete(req, core.options_from(settings))
        except DeepSeekError as err:
            self._failed(err)
            return None
        except Exception:  # a bug of ours: no suggestion, said once, never an error per keystroke
            if "internal" not in self._logged:
                self._logged.add("internal")
                log.exception("inline completion failed")
            return None
        if suggestion is None:
            return None
        return suggestion, text

    async def inline(self, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        found = await self.suggest(params.text_document.uri, params.position, explicit)
        if found is None:
            return types.InlineCompletionList(items=[])
        here = types.Range(start=params.position, end=params.position)
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=found[0].text, range=here)]
        )

    async def completion(self, params: types.CompletionParams) -> types.CompletionList:
        """The fallback: one item made the same way, replacing the word before the cursor with
        itself and the suggestion, so a client filtering by that word keeps it."""
        empty = types.CompletionList(is_incomplete=True, items=[])
        if not self.ls.services.settings.completion.fallback_item:
            return empty
        found = await self.suggest(params.text_document.uri, params.position, explicit=False)
        if found is None:
            return empty
        suggestion, text = found
        pos, encoding = params.position, self.ls.encoding
        offset = to_offset(text, Pos(pos.line, pos.character), encoding)
        before = text[max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1 : offset]
        word = m.group() if (m := _WORD_BEFORE.search(before)) else ""
        at = to_pos(text, offset - len(word), encoding)
        start = types.Position(line=at.line, character=at.character)
        new_text = word + suggestion.text
        label = new_text.strip().split("\n", 1)[0].strip()
        item = types.CompletionItem(
            label=label[:60] + ("…" if len(label) > 60 else ""),
            kind=types.CompletionItemKind.Text,
            detail="DeepSeek",
            filter_text=new_text,
            sort_text="~deepseek",
            insert_text_format=types.InsertTextFormat.PlainText,
            insert_text_mode=types.InsertTextMode.AsIs,
            text_edit=types.TextEdit(range=types.Range(start=start, end=pos), new_text=new_text),
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    # -- the FIM request ------------------------------------------------------------------
    async def _fetch(self, call: core.Fetch) -> str | None:
        services = self.ls.services
        model = await self._model()
        body = fim_request(call.fim, model=model, max_tokens=call.max_tokens, stop=call.stop)
        started = services.clock()
        t0 = time.monotonic()
        try:
            result = await services.client.complete_fim(body, on_text=call.on_text)
        except DeepSeekError as err:
            if err.status == 404 and not services.profile.deepseek:
                self.off = (
                    f"inline completion is off: {services.profile.server} has no FIM endpoint "
                    f"({services.client.fim_url()} answered 404). Set deepseek.completion.enabled "
                    "to false to silence this, or point deepseek.baseUrl at a server with one."
                )
                log.warning("%s", self.off)
            raise
        if services.account(model, result.usage, started) is not None and result.usage is not None:
            quote = pricing.quote(model, services.settings.prices, started)
            u = result.usage
            self.usage.add(
                {
                    "prompt_tokens": u.prompt_tokens,
                    "completion_tokens": u.completion_tokens,
                    "prompt_cache_hit_tokens": u.cache_hit,
                    "prompt_cache_miss_tokens": u.cache_miss,
                },
                quote.price if quote is not None else None,
                quote.rate if quote is not None else pricing.UNPRICED,
                estimated=isinstance(result.usage, EstimatedUsage),
            )
        self.last_error = None
        self._logged.clear()
        log.debug("FIM answer in %.0f ms (%s)", (time.monotonic() - t0) * 1000, result.finish_reason)
        return result.text

    async def _model(self) -> str:
        """The FIM model, chosen once per endpoint (concurrent requests share the choice; a
        cancelled request does not cancel it; a failed choice is made again next time)."""
        task = self._model_task
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._model_task = asyncio.ensure_future(self._choose_model())
        return await asyncio.shield(task)

    async def _choose_model(self) -> str:
        services = self.ls.services
        s = services.settings
        if s.completion.model:
            self.model = s.completion.model
            return self.model
        main = await services.model()
        if not services.profile.deepseek or s.model is None:
            # a generic server serves its one model; unset `model` on DeepSeek already picked
            # the cheapest non-thinking one from GET /models
            self.model = "deepseek-chat" if main == "deepseek-reasoner" else main
            return self.model
        if self._listed is None or self._listed[0] != s.base_url:
            try:
                self._listed = (s.base_url, await services.client.list_models())
            except DeepSeekError:
                self._listed = None
        self.model = fim_model(main, self._listed[1] if self._listed else [])
        return self.model

    def _failed(self, err: DeepSeekError) -> None:
        """A failed request answers "no suggestion"; the error is logged once per code (a
        warning reaches the client's log) and shown in `deepseek.status`."""
        self.last_error = {"code": err.code, "message": err.message}
        if err.code not in self._logged:
            self._logged.add(err.code)
            log.warning("inline completion failed: %s", err.message)

    # -- other files --------------------------------------------------------------------
    def on_change(self, params: types.DidChangeTextDocumentParams) -> None:
        if not self._warmed and self._asks():
            self.warm()
        found = changes_for(self.ls.workspace, params)
        if found is not None and found[1]:
            change = found[1][-1]
            self._edits[params.text_document.uri] = change.start + change.length
            if len(self._edits) > 64:
                self._edits.pop(next(iter(self._edits)))

    def _asks(self) -> bool:
        """Whether this client will ask for suggestions (it announced inline completion, or
        the fallback is on)."""
        c = self.ls.services.settings.completion
        td = self.ls.client_capabilities.text_document
        announced = td is not None and getattr(td, "inline_completion", None) is not None
        return c.enabled and (announced or c.fallback_item)

    def warm(self) -> None:
        """The user types (or asked first): load the HTTP client and choose the model now, in
        the background, while the first request waits for its pause, not after it. Not at
        start: an idle server need not carry the HTTP client."""
        if not self._warmed:
            self._warmed = True
            self.ls.background(self._warm())

    async def _warm(self) -> None:
        try:
            await asyncio.to_thread(self.ls.services.client.warm)
            await self._model()
        except Exception as exc:  # the first request will say what is wrong
            log.debug("warming inline completion failed: %s", type(exc).__name__)

    def _other_context(
        self, uri: str, text: str, language: str, path: str, root: str | None
    ) -> tuple[tuple[str, str], ...]:
        """Snippets of other open documents (see `completion.related`), computed again only
        when those documents or this one's import lines changed."""
        ls = self.ls
        docs = ls.workspace.text_documents
        others = [u for u in reversed(ls.recent_uris) if u != uri and u in docs][:MAX_OTHERS]
        if not others:
            return ()
        head = text[:HEAD_CHARS]
        signature = tuple((u, docs[u].version, self._edits.get(u)) for u in others)
        key = (
            uri,
            signature,
            tuple(_IMPORT_LINE.findall(head)),
            tuple(ls.services.settings.exclude_patterns),
        )
        if self._related is not None and self._related[0] == key:
            return self._related[1]
        items = []
        for u in others:
            d = docs[u]
            other_path = to_fs_path(u) if u.startswith("file:") else None
            snapshot = DocumentSnapshot(u, other_path, d.language_id or "", d.source)
            if other_path and is_excluded(other_path, ls.services.settings.exclude_patterns):
                continue
            items.append(
                Other(display_path(snapshot, root), snapshot.language_id, snapshot.text, self._edits.get(u))
            )
        snippets = related_snippets(text, language, path, items, ls.services.settings.exclude_patterns)
        self._related = (key, snippets)
        return snippets

    # -- settings and registration ------------------------------------------------------------
    def _endpoint_key(self) -> tuple[Any, ...]:
        s = self.ls.services.settings
        return (s.base_url, s.provider, s.model, s.completion.model, s.api_key)

    def on_settings(self) -> None:
        key = self._endpoint_key()
        if key != self._endpoint:
            self._endpoint = key
            self.engine.clear()  # answers from another model or server no longer apply
            self.off = None
            self._listed = None
            self.model = None
            self._model_task = None
        if not self.ls.services.settings.completion.enabled:
            self.engine.scheduler.cancel_all()  # turned off: nothing pending goes on
        if self._initialized:
            self.ls.background(self.sync_fallback())

    def at_initialize(self) -> None:
        """`fallbackItem` from initializationOptions: announce textDocument/completion statically."""
        if self.ls.services.settings.completion.fallback_item and not self.static_fallback:
            self.static_fallback = True
            self._route_completion()

    async def at_initialized(self) -> None:
        self._initialized = True
        await self.sync_fallback()

    def _route_completion(self) -> None:
        if types.TEXT_DOCUMENT_COMPLETION in self.ls.protocol.fm.features:
            return

        @self.ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
        async def completion(
            ls: DeepSeekLanguageServer, params: types.CompletionParams
        ) -> types.CompletionList:
            return await self.completion(params)

    async def sync_fallback(self) -> None:
        """`fallbackItem` turned on or off after initialize: register or unregister
        textDocument/completion with the client, when it can (dynamic registration)."""
        want = self.ls.services.settings.completion.fallback_item
        if self.static_fallback or want == self.dynamic_fallback:
            return
        td = self.ls.client_capabilities.text_document
        dynamic = td is not None and td.completion is not None and bool(td.completion.dynamic_registration)
        if not dynamic:
            if want:
                log.info(
                    "completion.fallbackItem was set after initialize and the client cannot register "
                    "capabilities later: set it in initializationOptions"
                )
            return
        self.dynamic_fallback = want
        try:
            if want:
                self._route_completion()
                await self.ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[
                            types.Registration(
                                id=FALLBACK_REGISTRATION,
                                method=types.TEXT_DOCUMENT_COMPLETION,
                                register_options={"documentSelector": None},
                            )
                        ]
                    )
                )
            else:
                await self.ls.client_unregister_capability_async(
                    types.UnregistrationParams(
                        unregisterations=[
                            types.Unregistration(
                                id=FALLBACK_REGISTRATION, method=types.TEXT_DOCUMENT_COMPLETION
                            )
                        ]
                    )
                )
        except Exception as exc:  # a client that refuses: the setting just has no effect there
            log.info(
                "client/(un)registerCapability for textDocument/completion failed: %s", type(exc).__name__
            )

    def status(self) -> dict[str, Any]:
        s = self.ls.services.settings.completion
        return {
            "enabled": s.enabled and self.off is None,
            "model": self.model or s.model or "auto",
            **self.engine.stats.to_dict(),
            "usage": self.usage.to_dict(),
            "lastError": self.last_error,
        }


def register(ls: DeepSeekLanguageServer) -> None:
    feature = CompletionFeature(ls)
    ls.change_listeners.append(feature.on_change)
    ls.settings_listeners.append(feature.on_settings)
    ls.initialize_hooks.append(feature.at_initialize)
    ls.initialized_hooks.append(feature.at_initialized)
    ls.services.status_extra["completion"] = feature.status

    @ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: DeepSeekLanguageServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        return await feature.inline(params)
