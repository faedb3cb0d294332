"""Two coordinators save different laboratory values of the same patient at the same moment: "only what
you changed is applied" must hold for the composite fields (criteria-v2 4.2 measurement objects in
the ``labs`` group), so that both values are kept."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection
from django.http import QueryDict
from django.utils import timezone

from eligibility.models import Assessment
from eligibility.patients import services
from eligibility.patients.fields import form_text
from eligibility.patients.forms import SectionForm
from eligibility.patients.presenters import assessment_changed_since
from eligibility.rulesets.selectors import active_engine
from tests.conftest import replay_data_migrations
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHASE = "pre_lymphodepletion"


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


def _posted(assessment, **typed) -> QueryDict:
    """The form as a browser posts it after opening it on ``assessment`` and typing ``typed``."""
    data = QueryDict(mutable=True)
    for name, value in SectionForm.initial_for(assessment, PHASE).items():
        data[name] = form_text(value)
    for name, value in typed.items():
        data[name] = value
    return data


def _save_as_the_view_does(user, data: QueryDict, barrier: threading.Barrier) -> str:
    """Bind, validate and save as the intake view does; after a refusal (a colleague saved meanwhile)
    rebuild on the saved revision and save again, as the refused page lets the user do."""
    assessment = Assessment.objects.get(pk=data["assessment"])
    engine = active_engine()[1]
    form = SectionForm(data, phase=PHASE, engine=engine, assessment=assessment)
    assert form.is_valid(), form.errors
    barrier.wait()  # both forms are built from the same revision before either saves
    try:
        services.assessment_update(assessment=assessment, changes=form.changes(), stage=form.stage_value(),
                                   revision=form.cleaned_data["revision"], by=user)
        return "saved"
    except services.ConcurrentEdit as conflict:
        current = conflict.assessment
        form.rebase(current, assessment_changed_since(current, form.cleaned_data["base"]["r"]))
        again = SectionForm(form.data, phase=PHASE, engine=engine, assessment=current)
        assert again.is_valid(), again.errors
        services.assessment_update(assessment=current, changes=again.changes(), stage=again.stage_value(),
                                   revision=again.cleaned_data["revision"], by=user)
        return "saved again"


def test_two_coordinators_saving_different_labs_at_once_both_keep_their_values():
    cora = UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")
    casey = UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")
    patient = PatientFactory(by=cora)
    assessment = Assessment.objects.get(patient=patient)
    services.assessment_update(assessment=assessment, changes={"labs": {"ldh": {"value": 250, "unit": "U/L"}}},
                               stage=PHASE, revision=0, by=cora)
    assessment.refresh_from_db()
    day = timezone.localdate().isoformat()
    mine = _posted(assessment, labs__bilirubin__value="0.8", labs__bilirubin__unit="mg/dL",
                   labs__bilirubin__measured_on=day)
    theirs = _posted(assessment, labs__platelets__value="120", labs__platelets__unit="10^9/L",
                     labs__platelets__measured_on=day)
    for data in (mine, theirs):
        data["assessment"] = str(assessment.pk)  # not a form field: where the thread reads the assessment
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(name, user, data):
        try:
            results[name] = _save_as_the_view_does(user, data, barrier)
        except Exception as exc:  # noqa: BLE001 (the test reports it)
            results[name] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=("cora", cora, mine)),
               threading.Thread(target=run, args=("casey", casey, theirs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()

    assert sorted(map(str, results.values())) == ["saved", "saved again"], results
    saved = Assessment.objects.get(pk=assessment.pk)
    assert saved.data["labs"] == {
        "ldh": {"value": 250, "unit": "U/L"},
        "bilirubin": {"value": 0.8, "unit": "mg/dL", "measured_on": day},
        "platelets": {"value": 120, "unit": "10^9/L", "measured_on": day},
    }
    assert saved.revision == 3
    # The history names each lab by its label, by whoever saved it.
    changed = assessment_changed_since(saved, 1)
    assert {changed["labs.bilirubin"][0], changed["labs.platelets"][0]} == {"Cora Ordinator", "Casey Jones"}
