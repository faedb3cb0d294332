"""A key-dates save and an intake save of the same episode at the same moment (issue 14): one wins,
the other is refused as a concurrent edit with its entries kept; the refused page, saved again,
applies its entries without undoing the winner's."""

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
from eligibility.patients.keydates import KeyDatesForm
from eligibility.rulesets.selectors import active_engine
from tests.conftest import replay_data_migrations
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHASE = "pre_apheresis"


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


def _query(initial: dict, **typed) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in initial.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = form_text(value)
    for name, value in typed.items():
        data[name] = value
    return data


def _save_key_dates(user, pk: int, data: QueryDict, barrier: threading.Barrier) -> tuple[str, KeyDatesForm]:
    assessment = Assessment.objects.get(pk=pk)
    form = KeyDatesForm(data, assessment=assessment, engine=active_engine()[1])
    assert form.is_valid(), form.errors
    barrier.wait()
    try:
        services.assessment_update(assessment=assessment, changes=form.changes(), stage=assessment.stage,
                                   revision=form.cleaned_data["revision"], by=user,
                                   episode_fields=form.episode_values())
    except services.ConcurrentEdit as conflict:
        form.rebase(conflict.assessment)
        return "refused", form
    return "saved", form


def _save_intake(user, pk: int, data: QueryDict, barrier: threading.Barrier) -> tuple[str, SectionForm]:
    assessment = Assessment.objects.get(pk=pk)
    form = SectionForm(data, phase=PHASE, engine=active_engine()[1], assessment=assessment)
    assert form.is_valid(), form.errors
    barrier.wait()
    try:
        services.assessment_update(assessment=assessment, changes=form.changes(), stage=form.stage_value(),
                                   revision=form.cleaned_data["revision"], by=user)
    except services.ConcurrentEdit:
        return "refused", form
    return "saved", form


def test_key_dates_and_intake_saved_at_once_one_wins_the_other_keeps_its_entries():
    cora = UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")
    casey = UserFactory(role="Coordinator", first_name="Casey", last_name="Jones")
    patient = PatientFactory(by=cora)
    assessment = Assessment.objects.get(patient=patient)
    day = timezone.localdate()
    planned = (day + timezone.timedelta(days=5)).isoformat()
    dates = _query(KeyDatesForm.initial_for(assessment), consent_on=day.isoformat(), leukapheresis_date=planned)
    intake = _query(SectionForm.initial_for(assessment, PHASE), alc__value="0.4", alc__unit="10^9/L",
                    alc__measured_on=day.isoformat())
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(name, job, user, data):
        try:
            results[name] = job(user, assessment.pk, data, barrier)
        except Exception as exc:  # noqa: BLE001 (the test reports it)
            results[name] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=("dates", _save_key_dates, cora, dates)),
               threading.Thread(target=run, args=("intake", _save_intake, casey, intake))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()

    outcomes = {name: result[0] if isinstance(result, tuple) else result for name, result in results.items()}
    assert sorted(map(str, outcomes.values())) == ["refused", "saved"], results
    saved = Assessment.objects.get(pk=assessment.pk)
    assert saved.revision == 1
    if outcomes["dates"] == "saved":
        assert saved.consent_on == day and saved.data == {"leukapheresis_date": planned}
        # The intake's entries are kept in its form (what was typed), nothing of it written.
        form = results["intake"][1]
        assert (form.data["alc__value"], form.data["alc__unit"]) == ("0.4", "10^9/L")
    else:
        assert saved.consent_on is None and saved.data["alc"]["value"] == 0.4
        form = results["dates"][1]
        assert (form.data["consent_on"], form.data["leukapheresis_date"]) == (day.isoformat(), planned)
        assert form.data["revision"] == "1"  # rebuilt on the saved revision: saving again applies them
        again = KeyDatesForm(form.data, assessment=saved, engine=active_engine()[1])
        assert again.is_valid(), again.errors
        services.assessment_update(assessment=saved, changes=again.changes(), stage=saved.stage,
                                   revision=again.cleaned_data["revision"], by=cora,
                                   episode_fields=again.episode_values())
        final = Assessment.objects.get(pk=assessment.pk)
        assert final.consent_on == day and final.data["leukapheresis_date"] == planned
        assert final.data["alc"]["value"] == 0.4  # the winner's value stays
