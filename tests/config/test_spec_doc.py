"""docs/spec.md is the product's contract that code comments cite by section: every section a
comment cites must exist, and the lists the page spells out (macros, API routes, event codes,
states) must be the ones the code has, so the page cannot drift from the code unnoticed."""

import importlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db.models import TextChoices

from affiliates.models import SetupRequest
from config.api_urls import urlpatterns as api_urlpatterns
from postbacks.macros import NETWORK_MACROS
from postbacks.models import Conversion, Delivery, PostbackEndpoint

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "spec.md"
# Folders that hold no code of ours: the virtualenv, caches, collected static files.
SKIPPED_DIRS = {"node_modules", "staticfiles", "__pycache__"}

_SECTION = r"§\d+(?:\.\d+)*"
# The brief's old name and the page's: "<name> §4", "<name> §1, §3 and §4", "<name> §1's shape".
# A "§2.3" of an RFC is not ours: only a reference after one of the two names counts.
CITATION = re.compile(rf"(?:\bSPEC|docs/spec\.md)\s+({_SECTION}(?:(?:,\s*|\s+and\s+){_SECTION})*)")
HEADING = re.compile(r"^#{2,4} §(\d+(?:\.\d+)*) ", re.MULTILINE)
TOP_HEADING = re.compile(r"^## (?!#)(.*)$", re.MULTILINE)
TABLE_FIRST_CELL = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)


def cited_sections(text: str) -> list[str]:
    return [
        number
        for match in CITATION.finditer(text)
        for number in re.findall(r"§(\d+(?:\.\d+)*)", match.group(1))
    ]


def _python_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        for name in files:
            if name.endswith(".py"):
                yield Path(folder) / name


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _section(number: int) -> str:
    """The text of `## §<number> ...` up to the next second-level heading."""
    text = _doc()
    starts = [(m.start(), m.group(1)) for m in TOP_HEADING.finditer(text)]
    for index, (start, title) in enumerate(starts):
        if title.startswith(f"§{number} "):
            end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
            return text[start:end]
    raise AssertionError(f"docs/spec.md has no section §{number}")


# Built, not written out, so the samples below cite nothing themselves.
LEGACY = "SPEC"
PAGE = "docs/spec.md"


@pytest.mark.parametrize(
    ("text", "sections"),
    [
        (f"Tracker parsing ({LEGACY} §3): pure functions", ["3"]),
        (f"Test postbacks ({LEGACY} §1, §3, §4): a template", ["1", "3", "4"]),
        (f"see {PAGE} §5.2 and §6", ["5.2", "6"]),
        (f"the offer link ({LEGACY} §1's shape)", ["1"]),
        (f"every answer of {LEGACY} §5.", ["5"]),
        (f"Redis away (see {LEGACY} §6\nwants ingest to go on)", ["6"]),
        ("percent-encoding (RFC 3986 §2.3, §5.2.4)", []),
    ],
)
def test_citations_are_read_with_every_section_they_name(text: str, sections: list[str]) -> None:
    assert cited_sections(text) == sections


def test_every_section_the_code_cites_exists_in_the_spec() -> None:
    sections = set(HEADING.findall(_doc()))
    missing = sorted(
        f"{path.relative_to(ROOT)}: §{number}"
        for path in _python_files()
        for number in cited_sections(path.read_text(encoding="utf-8"))
        if number not in sections
    )
    assert missing == []


def test_the_code_cites_the_repository_spec_not_an_outside_brief() -> None:
    legacy = re.compile(rf"\b{LEGACY} §")
    citing = [str(path) for path in _python_files() if legacy.search(path.read_text())]
    assert citing == [], f"cite docs/spec.md §N instead of {LEGACY} §N in: {citing}"


def test_sections_are_numbered_one_to_twelve_in_order() -> None:
    numbered = [title.split(" ", 1)[0] for title in TOP_HEADING.findall(_doc())]
    assert [n for n in numbered if n.startswith("§")] == [f"§{n}" for n in range(1, 13)]


def test_the_macro_table_lists_exactly_the_network_macros_the_renderer_knows() -> None:
    section = _section(4)
    table = {cell[1:-1] for cell in TABLE_FIRST_CELL.findall(section) if cell.startswith("{")}
    assert table == set(NETWORK_MACROS)
    assert "`{p1}`" in section
    assert "`{pN}`" in section


def test_every_api_route_is_named_in_the_api_section() -> None:
    section = _section(5)
    missing = []
    for pattern in api_urlpatterns:
        route = re.sub(r"<(?:\w+:)?\w+>", "{id}", str(pattern.pattern))
        if f"/api/v1/{route}" not in section:
            missing.append(f"/api/v1/{route}")
    assert missing == []


def test_the_event_codes_of_the_data_migration_are_the_business_sections_table() -> None:
    migration = importlib.import_module("postbacks.migrations.0002_event_types")
    section = _section(1)
    for code, name in migration.EVENT_TYPES:
        assert f"| `{code}` | {name} |" in section


@pytest.mark.parametrize(
    "choices",
    [Delivery.State, PostbackEndpoint.Status],
    ids=["delivery states", "endpoint statuses"],
)
def test_each_state_has_its_row_in_the_domain_model(choices: type[TextChoices]) -> None:
    rows = set(TABLE_FIRST_CELL.findall(_section(2)))
    assert {choice.value for choice in choices} <= rows


@pytest.mark.parametrize(
    "choices",
    [Conversion.Attribution, SetupRequest.Status, SetupRequest.Events],
    ids=["attribution", "setup request status", "setup request events"],
)
def test_each_choice_is_named_in_the_domain_model(choices: type[TextChoices]) -> None:
    section = _section(2)
    missing = [c.value for c in choices if f"`{c.value}`" not in section]
    assert missing == []
