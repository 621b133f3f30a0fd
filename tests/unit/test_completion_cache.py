"""The suggestion cache: a repeated position, typing into a suggestion, bounded memory."""

from __future__ import annotations

from deepseek_lsp.completion.cache import CompletionCaches, Hit, Position, SuggestionCache

DOC = "def area(r):\n    return \n\nprint(area(2))\n"
AT = DOC.index("return ") + len("return ")


def type_at(text: str, offset: int, typed: str) -> tuple[str, int]:
    return text[:offset] + typed + text[offset:], offset + len(typed)


def test_a_repeated_prompt_gets_the_same_answer() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "3.14159 * r * r")
    assert cache.get("k1") == Hit("3.14159 * r * r")
    assert cache.lookup(DOC, AT, "k1") == Hit("3.14159 * r * r")
    assert cache.get("k2") is None


def test_no_suggestion_is_remembered_too() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "")
    assert cache.get("k1") == Hit(None)


def test_typing_the_start_of_a_suggestion_answers_the_rest() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "3.14159 * r * r")
    text, offset = type_at(DOC, AT, "3.14")
    assert cache.lookup(text, offset, "other-key") == Hit("159 * r * r", typed=4)


def test_typing_something_else_is_a_miss() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "3.14159 * r * r")
    text, offset = type_at(DOC, AT, "2.7")
    assert cache.lookup(text, offset) is None


def test_typing_the_whole_suggestion_is_a_miss() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "r * r")
    text, offset = type_at(DOC, AT, "r * r")
    assert cache.lookup(text, offset) is None


def test_an_edit_after_the_cursor_is_a_miss() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "3.14159 * r * r")
    text, offset = type_at(DOC, AT, "3.1")
    text = text.replace("print(area(2))", "print(area(3))")
    assert cache.lookup(text, offset) is None


def test_an_edit_before_the_cursor_is_a_miss() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "3.14159 * r * r")
    text, offset = type_at(DOC, AT, "3.1")
    text = text.replace("area(r)", "area(d)")
    assert cache.lookup(text, offset) is None


def test_moving_the_cursor_back_is_a_miss() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "3.14159 * r * r")
    assert cache.lookup(DOC, AT - 1) is None


def test_typing_across_a_line_break_in_a_crlf_document() -> None:
    doc = DOC.replace("\n", "\r\n")
    at = doc.index("return ") + len("return ")
    cache = SuggestionCache()
    cache.put("k1", cache.position(doc, at), "(\r\n        r * r\r\n    )")
    text, offset = type_at(doc, at, "(\r\n        r")
    assert cache.lookup(text, offset) == Hit(" * r\r\n    )", typed=len("(\r\n        r"))


def test_position_typed_reports_the_characters() -> None:
    position = Position.at(DOC, AT, context=8)
    text, offset = type_at(DOC, AT, "abc")
    assert position.typed(text, offset, context=8) == "abc"
    assert position.typed(DOC, AT, context=8) == ""
    assert position.typed(text.replace("print", "pront"), offset, context=8) is None


def test_a_position_near_the_end_of_the_document() -> None:
    doc = "x = "
    cache = SuggestionCache()
    cache.put("k", cache.position(doc, 4), "compute()")
    assert cache.lookup("x = comp", 8) == Hit("ute()", typed=4)
    assert cache.lookup("x = comp\nmore", 8) is None  # the document no longer ends there


def test_entries_are_bounded() -> None:
    cache = SuggestionCache(max_entries=3)
    for i in range(5):
        cache.put(f"k{i}", cache.position(DOC, AT), f"v{i}")
    assert len(cache) == 3
    assert cache.get("k0") is None and cache.get("k1") is None
    assert cache.get("k4") == Hit("v4")


def test_the_most_recent_suggestion_wins() -> None:
    cache = SuggestionCache()
    cache.put("k1", cache.position(DOC, AT), "3 * r")
    cache.put("k2", cache.position(DOC, AT), "3.14 * r * r")
    text, offset = type_at(DOC, AT, "3")
    assert cache.lookup(text, offset) == Hit(".14 * r * r", typed=1)


def test_documents_are_bounded_and_dropped() -> None:
    caches = CompletionCaches(max_documents=2)
    caches.document("a").put("k", Position.at(DOC, AT), "x")
    caches.document("b")
    caches.document("c")
    assert len(caches) == 2
    assert caches.document("a").get("k") is None  # evicted: a fresh cache
    caches.document("c").put("k", Position.at(DOC, AT), "y")
    caches.drop("c")
    assert caches.document("c").get("k") is None
