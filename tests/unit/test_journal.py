"""The recovery journal: atomic entries, and finding the rewritten region again."""

from __future__ import annotations

from pathlib import Path

from deepseek_lsp.rewrite.journal import Entry, Journal, journal_dir, locate
from deepseek_lsp.syntax import new_error

BEFORE = "import os\n\n\nclass Box:\n"
ORIGINAL = "    def size(self):\n        return len(self.items)\n"
AFTER = "\n    def empty(self):\n        return not self.items\n"


def entry() -> Entry:
    return Entry(uri="file:///tmp/box.py", original=ORIGINAL, before=BEFORE, after=AFTER)


def test_write_read_remove(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    e = entry()
    journal.write(e)
    assert [x.id for x in journal.entries()] == [e.id]
    got = journal.get(e.id)
    assert got is not None and got.original == ORIGINAL and got.before == BEFORE
    assert not [p for p in (tmp_path / "journal").iterdir() if p.name.startswith(".tmp")]
    journal.remove(e.id)
    assert journal.entries() == []


def test_a_lone_surrogate_survives_the_round_trip(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    e = Entry(uri="file:///x.py", original="s = '\ud800'\n", before="", after="")
    journal.write(e)
    assert journal.entries()[0].original == "s = '\ud800'\n"


def test_unreadable_entries_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    journal = Journal(tmp_path)
    journal.write(entry())
    assert len(journal.entries()) == 1


def test_locate_exact_with_partial_model_text() -> None:
    text = BEFORE + "    def size(self):\n        '''How many" + AFTER
    start, end = locate(text, entry()) or (0, 0)
    assert text[start:end] == "    def size(self):\n        '''How many"


def test_locate_after_edits_outside_the_region() -> None:
    text = "# added by the user\n" + BEFORE + "    half written\n" + AFTER + "\n# more at the end\n"
    found = locate(text, entry())
    assert found is not None
    assert text[found[0] : found[1]] == "    half written\n"


def test_locate_refuses_what_it_cannot_tell() -> None:
    assert locate("something else entirely\n", entry()) is None
    doubled = "# edited\n" + BEFORE + "x\n" + AFTER + BEFORE + "y\n" + AFTER  # two candidate places
    assert locate(doubled, entry()) is None


def test_journal_dir_follows_the_environment(tmp_path: Path) -> None:
    assert journal_dir({"DEEPSEEK_LSP_STATE_DIR": str(tmp_path)}) == tmp_path / "journal"
    assert journal_dir({"DEEPSEEK_LSP_DATA_DIR": str(tmp_path)}) == tmp_path / "journal"


def test_new_syntax_error() -> None:
    good = BEFORE + ORIGINAL + AFTER
    broken = BEFORE + "    def size(self:\n        return len(self.items)\n" + AFTER
    found = new_error("python", good, broken)
    assert found is not None and found[0] in (4, 5)
    assert new_error("python", good, good) is None
    assert new_error("python", broken, broken) is None  # not new
    assert new_error("cobol", good, broken) is None  # no grammar: nothing to say
