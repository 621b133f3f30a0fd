"""Other files' snippets in a FIM prompt's header, and the FIM model's choice."""

from __future__ import annotations

from deepseek_lsp.completion.related import Other, related_snippets
from deepseek_lsp.features.completion import fim_model

HERE = "from geometry import circle_area, Point\nimport os\n\n\ndef main():\n    \n"
GEOMETRY = (
    "import math\n\n\ndef circle_area(r):\n    return math.pi * r ** 2\n\n\n"
    "class Point:\n    x: float\n    y: float\n\n\ndef unused():\n    pass\n"
)
NOTES = "\n".join(f"line {i}" for i in range(40)) + "\n"


def test_definitions_of_imported_names_then_recent_edits() -> None:
    others = [
        Other("geometry.py", "python", GEOMETRY),
        Other("notes.txt", "plaintext", NOTES, edited=NOTES.index("line 20")),
    ]
    snippets = related_snippets(HERE, "python", "main.py", others)
    assert [path for path, _ in snippets] == ["geometry.py", "geometry.py", "notes.txt"]
    assert snippets[0][1].startswith("def circle_area(r):") and "math.pi" in snippets[0][1]
    assert snippets[1][1].startswith("class Point:")
    around = snippets[2][1].splitlines()
    assert around[0] == "line 12" and around[-1] == "line 28"  # 8 lines each side of the edit
    assert "unused" not in "".join(code for _, code in snippets)


def test_secret_files_and_the_file_itself_are_left_out() -> None:
    others = [
        Other(".env", "dotenv", "circle_area=1\n", edited=0),
        Other("main.py", "python", HERE, edited=0),
    ]
    assert related_snippets(HERE, "python", "main.py", others) == ()


def test_the_fim_model_is_the_cheapest_non_thinking_one_listed() -> None:
    listed = ["deepseek-v4-pro", "deepseek-v4-flash", "deepseek-flash", "deepseek-reasoner"]
    assert fim_model("deepseek-v4-pro", listed) == "deepseek-flash"
    assert fim_model("deepseek-v4-pro", ["deepseek-v4-pro"]) == "deepseek-v4-pro"
    assert fim_model("deepseek-reasoner", []) == "deepseek-chat"  # never the thinking-only model
