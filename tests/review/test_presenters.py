"""What the checklist page shows beside an item: the thresholds it was judged by."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eligibility.patients import services
from eligibility.review.presenters import checklist_view_model, values_list_html
from eligibility.rulesets import services as rulesets
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def thresholds_shown(evaluation, code: str) -> list[tuple[str, str]]:
    item = next(item for item in checklist_view_model(evaluation)["all_items"] if item["code"] == code)
    return [(threshold["label"], threshold["value"]) for threshold in item["thresholds"]]


def save(patient, stage="screening", **data):
    patient.assessment.refresh_from_db()
    return services.assessment_update(assessment=patient.assessment, changes=data, stage=stage,
                                      revision=patient.assessment.revision, by=patient.created_by)


def indication_thresholds(**data):
    return thresholds_shown(save(PatientFactory(), **data), "indication")


def test_the_indication_shows_the_products_entry_for_the_patients_diagnosis():
    # criteria-v2 5: the minimum prior lines and age limits are the product's, per diagnosis
    assert indication_thresholds(diagnosis="lbcl", product="axicabtagene_ciloleucel") == [
        ("Indication of Yescarta for large B-cell lymphoma (LBCL)", "at least 2 prior lines")]
    assert indication_thresholds(diagnosis="b_all", product="tisagenlecleucel") == [
        ("Indication of Kymriah for B-ALL", "age at most 25; no minimum")]


def test_without_a_product_or_an_entry_for_the_diagnosis_nothing_is_shown():
    assert indication_thresholds(age_years=40) == []
    assert indication_thresholds(diagnosis="mm", product="axicabtagene_ciloleucel") == []


def test_an_item_shows_the_values_of_its_own_version_without_reading_them_again(administrator):
    patient = PatientFactory()
    before = save(patient, stage="pre_infusion", driving_counselled=True)
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal(2)}, by=administrator)
    rulesets.ruleset_publish(draft=draft, note="shorter restriction", by=administrator)
    after = save(patient, stage="pre_infusion", ecog=1)

    assert thresholds_shown(before, "driving_counselled") == [("No driving after infusion", "8")]
    assert thresholds_shown(after, "driving_counselled") == [("No driving after infusion", "2")]
    with CaptureQueriesContext(connection) as queries:  # the versions' engines are built: no threshold read
        thresholds_shown(before, "driving_counselled")
    assert not [query for query in queries.captured_queries if "threshold" in query["sql"]]


def test_a_checklists_items_are_worked_out_once_and_each_page_gets_rows_of_its_own(physician):
    # What the page shows of each item is worked out once per process for a stored checklist (kept
    # exactly as it was made) and its version's engine; each page copies the rows before setting its
    # forms, questions and notes on them, and its decisions are read for every page.
    from eligibility.review import services as review

    evaluation = save(PatientFactory(), diagnosis="lbcl", product="axicabtagene_ciloleucel")
    first, second = checklist_view_model(evaluation), checklist_view_model(evaluation)
    assert [row["code"] for row in first["all_items"]] == [row["code"] for row in second["all_items"]]
    for one, other in zip(first["all_items"], second["all_items"], strict=True):
        assert one is not other and one["questions"] is not other["questions"]  # the page's own
        assert one["thresholds"] is other["thresholds"]  # worked out once
    first["all_items"][0]["questions"].append("a page's own")
    assert checklist_view_model(evaluation)["all_items"][0]["questions"] == []
    needing = next(row for row in first["all_items"] if row["needs_decision"])
    kind = "acknowledged" if needing["status"] == "flag" else "accepted"
    review.disposition_record(evaluation=evaluation, code=needing["code"], kind=kind, by=physician)
    evaluation.refresh_from_db()
    after = next(row for row in checklist_view_model(evaluation)["all_items"] if row["code"] == needing["code"])
    assert after["disposition"] is not None and after["disposition"].kind == kind and after["decided"]
    assert needing["disposition"] is None  # the earlier page's row unchanged


OLD_VALUES_LOOPS = ('{% for label, value in item["inputs_text"] %}<li>{{ label }}: {{ value }}</li>{% endfor %}\n'
                    '    {% for threshold in item["thresholds"] %}<li>{{ threshold["label"] }}: {{ threshold["text"] }}'
                    '</li>{% endfor %}')


@pytest.mark.parametrize("data", [
    {"diagnosis": "lbcl", "product": "axicabtagene_ciloleucel"},
    {"diagnosis": "b_all", "product": "tisagenlecleucel"},
    {},
])
def test_the_values_and_thresholds_list_is_the_bytes_the_rows_loops_wrote(data):
    # Written once per checklist in Python (values_html); the row macro's two loops are the reference,
    # in the page's engine (autoescaped), for every item, and for values with the characters HTML escapes.
    from django.template import engines

    loops = engines["jinja2"].from_string(OLD_VALUES_LOOPS)
    rows = checklist_view_model(save(PatientFactory(), **data))["all_items"]
    assert rows and any(row["thresholds"] for row in rows) and any(row["inputs_text"] for row in rows)
    for row in rows:
        assert str(row["values_html"]) == loops.render({"item": row}), row["code"]
    inputs, limits = [("A <b> & \"c\"", "d'e > f"), ("g", "h")], [{"label": "<x>", "text": "1 & 2"}]
    expected = loops.render({"item": {"inputs_text": inputs, "thresholds": limits}})
    assert "&lt;b&gt; &amp; &#34;c&#34;" in expected and "d&#39;e &gt; f" in expected
    assert str(values_list_html(inputs, limits)) == expected
    assert str(values_list_html([], [])) == loops.render({"item": {"inputs_text": [], "thresholds": []}})
