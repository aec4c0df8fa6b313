"""docs/security.md names, for each threat, the tests that prove its defence: every test it names
must exist, so the page cannot go on promising a test that was renamed or removed."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
# `path/test_file.py::test_name`, `::test_name` (the file last named) or `path/test_file.py`.
REFERENCE = re.compile(r"`((?:[\w/]+/)?test_\w+\.py)?(?:::(test_\w+))?`")


def _references() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    current = ""
    for match in REFERENCE.finditer(DOC.read_text()):
        path, name = match.groups()
        if path:
            current = path
        if path or name:
            found.append((current, name))
    return found


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_the_security_page_names_exists():
    references = _references()
    assert len(references) > 60
    missing = []
    for path, name in references:
        source = ROOT / "tests" / path
        if not source.is_file():
            missing.append(path)
        elif name is not None and name not in _tests_in(source):
            missing.append(f"{path}::{name}")
    assert missing == []
