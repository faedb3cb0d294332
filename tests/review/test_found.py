"""What the checklist page's first query found beside the checklist (``eligibility.review.found``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from eligibility.review.found import PARTS, may_have, note_found


def test_an_evaluation_read_another_way_has_every_part_read():
    evaluation = SimpleNamespace()
    assert all(may_have(evaluation, part) for part in PARTS)


def test_only_the_parts_found_are_read():
    evaluation = SimpleNamespace()
    note_found(evaluation, ["signoffs", "questions"])
    assert [part for part in PARTS if may_have(evaluation, part)] == ["signoffs", "questions"]
    note_found(evaluation, [])
    assert not any(may_have(evaluation, part) for part in PARTS)


def test_a_part_of_another_name_is_refused_not_taken_as_empty():
    with pytest.raises(ValueError, match="unknown part"):
        may_have(SimpleNamespace(), "signatures")
    with pytest.raises(ValueError, match="unknown parts"):
        note_found(SimpleNamespace(), ["signatures"])
