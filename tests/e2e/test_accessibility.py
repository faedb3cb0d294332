"""axe-core on every kind of page, as each role sees it: no serious or critical violation.

axe-core comes from the npm registry (a devDependency in package.json, installed by `make test`)
and is injected by the test through the DevTools protocol; the application never serves it, so the
content security policy of the pages stays as deployed. Each page is checked as loaded, and the
checklist also with its decision forms opened, at desktop width and at 390 px.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page

from eligibility.models import RuleSet
from eligibility.patients import episodes_services as episodes
from eligibility.patients import services
from eligibility.review import services as review
from eligibility.rulesets import preview
from eligibility.rulesets import services as rulesets
from tests.e2e.helpers import PASSWORD, sign_in, user
from tests.e2e.test_timeline_pages import planned_patient
from tests.factories import SCREENING_TO_REVIEW

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def axe_violations(page: Page) -> list[dict]:
    """Run axe-core on the page as it stands; the serious and critical violations, each with its nodes."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": violation["id"], "impact": violation["impact"], "help": violation["help"],
         "nodes": [node["target"] for node in violation["nodes"]][:5]}
        for violation in result["violations"] if violation["impact"] in SERIOUS
    ]


def check(page: Page, url: str, found: dict[str, list[dict]], label: str | None = None) -> None:
    response = page.goto(url)
    assert response is not None and response.status < 500, f"{url} answered {response and response.status}"
    violations = axe_violations(page)
    if violations:
        found[label or url] = violations


@pytest.fixture
def programme():
    """People in each role, a patient with a checklist needing decisions, a signed one with a past
    checklist and a voided signature, a draft rule set."""
    coordinator = user("casey", "Coordinator", "Casey", "Jones")
    physician = user("robin", "Physician", "Robin", "Lee")
    user("ada", "Administrator", "Ada", "Admin")
    to_review = services.patient_create(study_id="CART-AXE-01", initials="AB", by=coordinator)
    services.assessment_update(assessment=to_review.assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                               revision=to_review.assessment.revision, by=coordinator)
    signed = services.patient_create(study_id="CART-AXE-02", initials="CD", by=coordinator)
    clean = {**SCREENING_TO_REVIEW, "infections": {**SCREENING_TO_REVIEW["infections"], "viral": "none",
                                                    "hbv": "negative", "hbv_prophylaxis": False}}
    services.assessment_update(assessment=signed.assessment, changes=clean, stage="screening",
                               revision=signed.assessment.revision, by=coordinator)
    signed.assessment.refresh_from_db()
    first = signed.assessment.current_evaluation
    review.signoff_create(evaluation=first, password=PASSWORD, by=physician)
    services.assessment_update(assessment=signed.assessment, changes={"ecog": 0}, stage="screening",
                               revision=signed.assessment.revision, by=coordinator)
    signed.assessment.refresh_from_db()
    review.signoff_create(evaluation=signed.assessment.current_evaluation, password=PASSWORD, by=physician)
    renewed = services.patient_create(study_id="CART-AXE-03", initials="EF", by=coordinator)
    services.assessment_update(assessment=renewed.assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                               revision=renewed.assessment.revision, by=coordinator)
    renewed.assessment.refresh_from_db()
    episode_1, old_checklist = renewed.assessment, renewed.assessment.current_evaluation
    episodes.episode_start(patient=renewed, kind="recollection", start_from_previous=True,
                           expected_current_id=episode_1.pk, by=coordinator)
    collecting = services.patient_create(study_id="CART-AXE-04", initials="GH", by=coordinator)
    soon = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    services.assessment_update(assessment=collecting.assessment, changes={"leukapheresis_date": soon},
                               stage="pre_apheresis", revision=collecting.assessment.revision, by=coordinator)
    admin = user("ada2", "Administrator", "Ada", "Second")
    draft = rulesets.ruleset_draft_create(by=admin)
    rulesets.ruleset_thresholds_update(draft=draft, values={"driving_restriction_weeks": Decimal(2)}, by=admin)
    planned = planned_patient(coordinator, "CART-AXE-05")  # dated: a drawn timeline, a card
    return {"to_review": to_review, "signed": signed, "first": first, "draft": draft, "renewed": renewed,
            "episode_1": episode_1, "old_checklist": old_checklist, "planned": planned}


@pytest.mark.django_db(transaction=True)
def test_no_serious_axe_violation_on_any_page_type(browser: Browser, live_server, programme):
    base = live_server.url
    found: dict[str, list[dict]] = {}
    to_review, signed, draft = programme["to_review"], programme["signed"], programme["draft"]

    anonymous = browser.new_context().new_page()
    check(anonymous, f"{base}{reverse('login')}", found, "login")

    desk = browser.new_context().new_page()
    sign_in(desk, base, "casey")
    for name, url in [
        ("worklist (coordinator)", reverse("worklist")),
        ("new patient", reverse("patient_create")),
        ("patient", reverse("patient_detail", args=[to_review.public_id])),
        ("intake", reverse("intake", args=[to_review.public_id, "screening"])),
        ("identity", reverse("patient_identity", args=[to_review.public_id])),
        ("key dates", reverse("key_dates", args=[to_review.public_id])),
        ("withdraw", reverse("patient_withdraw", args=[to_review.public_id])),
        ("checklist (coordinator)", reverse("checklist", args=[to_review.public_id])),
        ("password change", reverse("password_change")),
        ("two-factor", reverse("otp_overview")),
        ("two-factor setup", reverse("otp_setup")),
        ("this week (coordinator)", reverse("this_week")),
        ("not found", "/patients/00000000-0000-0000-0000-000000000000/"),
        ("patient with two episodes", reverse("patient_detail", args=[programme["renewed"].public_id])),
        ("new episode", reverse("episode_start", args=[programme["renewed"].public_id])),
        ("close episode", reverse("episode_close", args=[programme["renewed"].assessment.public_id])),
        ("past episode", reverse("episode_detail", args=[programme["episode_1"].public_id])),
        ("checklist of a closed episode", reverse("evaluation_detail", args=[programme["old_checklist"].public_id])),
        ("timeline", reverse("episode_timeline", args=[programme["planned"].public_id])),
        ("timeline without dates", reverse("episode_timeline", args=[to_review.assessment.public_id])),
        ("patient card", reverse("episode_card", args=[programme["planned"].public_id])),
        ("patient card without an infusion date", reverse("episode_card", args=[to_review.assessment.public_id])),
    ]:
        check(desk, f"{base}{url}", found, name)

    doctor = browser.new_context().new_page()
    sign_in(doctor, base, "robin")
    for name, url in [
        ("worklist (physician)", reverse("worklist")),
        ("checklist to decide", reverse("checklist", args=[to_review.public_id])),
        ("signed checklist", reverse("checklist", args=[signed.public_id])),
        ("past checklist", reverse("evaluation_detail", args=[programme["first"].public_id])),
        ("this week (physician)", reverse("this_week")),
        ("key dates (read only)", reverse("key_dates", args=[to_review.public_id])),
        ("forbidden", reverse("ruleset_list")),
    ]:
        check(doctor, f"{base}{url}", found, name)
    doctor.goto(f"{base}{reverse('checklist', args=[to_review.public_id])}")
    for summary in doctor.locator("summary").all():
        summary.click()
    if violations := axe_violations(doctor):
        found["checklist with every form open"] = violations
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(phone, base, "robin")
    check(phone, f"{base}{reverse('checklist', args=[to_review.public_id])}", found, "checklist at 390 px")
    check(phone, f"{base}{reverse('worklist')}", found, "worklist at 390 px")
    check(phone, f"{base}{reverse('episode_timeline', args=[programme['planned'].public_id])}", found,
          "timeline at 390 px")
    check(phone, f"{base}{reverse('episode_card', args=[programme['planned'].public_id])}", found,
          "patient card at 390 px")

    office = browser.new_context().new_page()
    sign_in(office, base, "ada")
    active = RuleSet.objects.get(status="active")
    for name, url in [
        ("rule sets", reverse("ruleset_list")),
        ("active version", reverse("ruleset_detail", args=[active.version])),
        ("draft", reverse("ruleset_detail", args=[draft.version])),
        ("preview, none yet", reverse("ruleset_preview", args=[draft.version])),
        ("users", reverse("user_list")),
        ("new user", reverse("user_create")),
        ("user", reverse("user_detail", args=[User.objects.get(username="casey").pk])),
        ("audit export", reverse("audit_export")),
        ("sign-in locks", reverse("locks")),
        ("withdrawn patients", reverse("withdrawn_patients")),
    ]:
        check(office, f"{base}{url}", found, name)
    made, _ = preview.preview_request(draft=draft, by=User.objects.get(username="ada"))
    check(office, f"{base}{reverse('ruleset_preview', args=[draft.version])}", found, "preview, waiting")
    preview.preview_run(preview_id=made.pk, worker="accessibility")
    check(office, f"{base}{reverse('ruleset_preview', args=[draft.version])}", found, "preview, finished")

    # At phone width the administrator's widest pages wrap rather than scroll sideways.
    narrow = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(narrow, base, "ada")
    for url in (reverse("ruleset_detail", args=[active.version]), reverse("ruleset_detail", args=[draft.version]),
                reverse("user_list"), reverse("audit_export")):
        check(narrow, f"{base}{url}", found, f"{url} at 390 px")
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 390, url

    assert not found, "serious or critical axe violations:\n" + json.dumps(found, indent=1)


def test_axe_finds_a_serious_violation_when_there_is_one(browser: Browser):
    """The check itself can fail: an image without a text alternative and a field without a label."""
    page = browser.new_page()
    page.set_content('<html lang="en"><head><title>t</title></head><body><main>'
                     '<img src="data:," ><input type="text"></main></body></html>')
    ids = {violation["id"] for violation in axe_violations(page)}
    assert {"image-alt", "label"} <= ids
