"""``manage.py seed_assessments``: plausible, varied, reproducible open assessments, with history."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from eligibility.models import Assessment, Patient
from eligibility.review.reevaluation import open_assessments
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def seeded(count, seed):
    out = StringIO()
    call_command("seed_assessments", str(count), "--seed", str(seed), stdout=out)
    assert f"Seeded {count} synthetic open assessments (seed {seed})." in out.getvalue()
    return list(Assessment.objects.filter(patient__study_id__startswith=f"SYN-{seed}-")
                .order_by("patient__study_id").values_list("patient__study_id", "stage", "data"))


def test_the_same_seed_gives_the_same_assessments_and_another_seed_others():
    UserFactory(role="Administrator")
    first = seeded(40, seed=7)
    Patient.objects.all().delete()
    assert seeded(40, seed=7) == first
    assert [data for _, _, data in seeded(40, seed=8)] != [data for _, _, data in first]


def test_seeded_assessments_are_open_evaluated_varied_and_have_history():
    author = UserFactory(role="Administrator")
    rows = seeded(120, seed=1)
    assert len(rows) == 120 == open_assessments().count()
    assessments = Assessment.objects.select_related("current_evaluation")
    assert all(assessment.current_evaluation.ruleset.version == 1 for assessment in assessments)
    assert len({stage for _, stage, _ in rows}) == 4
    assert len({assessment.current_evaluation.overall for assessment in assessments}) >= 4
    history = Assessment.history.filter(history_type="+")
    assert history.count() == 120 and {record.history_user for record in history} == {author}
    assert Patient.history.count() == 120


def test_without_an_author_the_command_says_what_to_do():
    with pytest.raises(CommandError, match="ensure_admin"):
        call_command("seed_assessments", "1")
