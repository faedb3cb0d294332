"""The patient's path in time in a real browser (issue 14): a coordinator plans the collection,
records infectious-disease markers drawn too early for it, sees the expiry warning on the worklist
and on the "This week" page, records markers drawn today, and the warning goes.

The rule-set version in force holds the "dated markers" group (rule 17 judges the markers by their
date: at most 30 days before the collection). The coordinator plans the collection on the
episode's "Key dates" page and records the markers (with the date they were drawn) on the screening
form, beside the serologies.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from eligibility.models import RuleSet
from eligibility.patients import services
from eligibility.rulesets import services as rulesets
from tests.e2e.helpers import choose, field, sign_in, user


def days(n: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=n)).isoformat()


@pytest.fixture
def programme(db):
    administrator = user("ada", "Administrator", "Ada", "Admin")
    draft = rulesets.ruleset_draft_create(by=administrator, name="Dated markers")
    rulesets.ruleset_group_hold(draft=draft, group="dated markers", held=True, by=administrator)
    rulesets.ruleset_publish(draft=RuleSet.objects.get(pk=draft.pk), note="Markers judged by their date",
                             by=administrator)
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    return services.patient_create(study_id="CART-PATH-01", initials="PT", by=coordinator)


def plan_the_collection(page: Page, base: str, patient, on: str) -> None:
    page.goto(f"{base}{reverse('patient_detail', args=[patient.public_id])}")
    page.get_by_role("navigation", name="Patient").get_by_role("link", name="Key dates").click()
    page.get_by_label("Leukapheresis (collection)").fill(on)
    page.get_by_role("button", name="Save the key dates").click()
    expect(page.get_by_text("Key dates saved.")).to_be_visible()


def record_the_markers(page: Page, base: str, patient, drawn_on: str) -> None:
    page.goto(f"{base}{reverse('intake', args=[patient.public_id, 'screening'])}")
    for marker in ("Hepatitis B", "Hepatitis C", "HIV"):
        choose(page, marker, "negative")
    field(page, "Infectious-disease markers drawn on").fill(drawn_on)
    page.get_by_role("button", name="Save screening").click()
    expect(page.get_by_text("Screening: saved")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_a_coordinator_sees_markers_expire_before_the_collection_and_the_warning_go(page: Page, live_server,
                                                                                  programme):
    base, patient = live_server.url, programme
    collection, too_early = days(20), days(-15)  # 35 days before the collection: more than 30
    sign_in(page, base, "casey")

    plan_the_collection(page, base, patient, collection)
    record_the_markers(page, base, patient, too_early)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="CART-PATH-01"))
    expect(row).to_contain_text(f"Expires: infectious-disease markers before collection on {collection}")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="This week").click()
    expect(page).to_have_title("This week · CAR-T readiness")
    later = page.get_by_role("region", name="Out of date for the next planned date")
    expect(later).to_contain_text(
        f"CART-PATH-01 PT, Infectious-disease markers expire before the planned collection on {collection} (drawn "
        f"{too_early}, current until {days(15)}): redraw between {days(-10)} and {collection}")
    later.get_by_role("link", name="CART-PATH-01").click()
    expect(page).to_have_title("CART-PATH-01 · Patient and history · CAR-T readiness")

    record_the_markers(page, base, patient, days(0))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="CART-PATH-01"))
    expect(row).to_be_visible()
    expect(row).not_to_contain_text("Expires:")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="This week").click()
    expect(page.get_by_role("region", name="Out of date for the next planned date")).to_contain_text("None.")
    expect(page.get_by_text("Infectious-disease markers expire")).to_have_count(0)
