"""Screens say a thing one way: a person's name, a stage's label (issue 11, item 3).

The words live in ``eligibility/common/vocabulary.py`` (taken from the engine where it owns them)
and ``eligibility/common/people.py``; templates reach them through ``{% load vocabulary %}``. These
tests name the file that writes them again.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

SOURCES = ("eligibility", "accounts", "session_guard", "templates", "config")
#: A name made by hand: the full name, else the user name.
NAME_BY_HAND = re.compile(r"get_full_name\|default:[\w.]*username|get_full_name\(\) or ")


def _files(*suffixes: str) -> list[Path]:
    return sorted(path for folder in SOURCES for path in (ROOT / folder).rglob("*")
                  if path.suffix in suffixes and "migrations" not in path.parts)


def test_the_pattern_finds_a_name_made_by_hand():
    assert NAME_BY_HAND.search("{{ x.updated_by.get_full_name|default:x.updated_by.username }}")
    assert NAME_BY_HAND.search("who = user.get_full_name() or user.username")
    assert not NAME_BY_HAND.search("{{ x.updated_by|display_name }}")


def test_people_are_named_by_display_name_only():
    people = ROOT / "eligibility" / "common" / "people.py"
    found = [f"{path.relative_to(ROOT)}:{number}" for path in _files(".py", ".html") if path != people
             for number, line in enumerate(path.read_text().splitlines(), 1) if NAME_BY_HAND.search(line)]
    assert not found, f"use display_name (Python) or |display_name (templates): {found}"


def test_stage_labels_are_written_once():
    """The engine's phase labels name the stages; no second dictionary writes them again."""
    found = [str(path.relative_to(ROOT)) for path in _files(".py")
             if re.search(r"[\"']Before leukapheresis[\"']", path.read_text())]
    assert found == ["eligibility/rules/statuses.py"]


def test_the_case_formats_labels_are_written_once():
    """Each case path's label is written in the engine's vocabulary only: the intake form, the
    checklist, the history, the preview and the PDF take it from there (issue 12, item 2)."""
    from eligibility.rules import LABELS

    sources = {path: path.read_text() for path in _files(".py")}
    for label in ("HBV antiviral prophylaxis in place", "Renal (kidney tests)", "Planned lymphodepletion",
                  "Target antigen on the tumour (CD19, BCMA or EBV)", "Driving restriction explained (weeks)"):
        assert label in LABELS.values()
        found = [str(path.relative_to(ROOT)) for path, text in sources.items() if f'"{label}"' in text]
        assert found == ["eligibility/rules/vocabulary.py"], label
