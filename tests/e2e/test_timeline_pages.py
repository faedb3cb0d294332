"""The timeline and the patient's card in Chromium: at phone width the drawing scrolls inside its
own box (the page does not), the keyboard reaches that box, and the card prints on one A4 or Letter
page without the application's navigation. Screenshots are saved beside this file (ignored by git)
for a person to look at."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, expect

from eligibility.models import Assessment
from eligibility.patients import services
from tests.e2e.helpers import sign_in, user
from tests.factories import SCREENING_TO_REVIEW

HERE = Path(__file__).resolve().parent
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.django_db(transaction=True)


def planned_patient(coordinator, study_id: str, *, infusion: datetime.date | None = None):
    """A patient screened and collected, lymphodepletion and infusion planned (infusion in 18 days
    by default), with dated values: every row and band of a timeline."""
    today = datetime.date.today()
    infusion = infusion or today + datetime.timedelta(days=18)
    patient = services.patient_create(study_id=study_id, initials="TL", by=coordinator)
    assessment = patient.assessment
    services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                               revision=assessment.revision, by=coordinator)
    assessment.refresh_from_db()
    collected = today - datetime.timedelta(days=12)
    services.assessment_update(assessment=assessment, changes={
        "leukapheresis_date": collected.isoformat(),
        "alc": {"value": 350, "unit": "cells/uL", "measured_on": (collected - datetime.timedelta(days=2)).isoformat()},
        "infections": {**SCREENING_TO_REVIEW["infections"],
                       "markers_tested_on": (collected - datetime.timedelta(days=20)).isoformat()},
        "lymphodepletion_start_date": (infusion - datetime.timedelta(days=5)).isoformat(),
        "infusion_date": infusion.isoformat(),
    }, stage="screening", revision=assessment.revision, by=coordinator)
    Assessment.objects.filter(pk=assessment.pk).update(screening_on=today - datetime.timedelta(days=30),
                                                       leukapheresis_done=True)
    return Assessment.objects.get(pk=assessment.pk)


@pytest.fixture
def episode(db):
    return planned_patient(user("casey", "Coordinator", "Casey", "Coordinator"), "CART-TL-01")


def test_at_phone_width_the_drawing_scrolls_in_its_own_box(browser: Browser, live_server, episode):
    page = browser.new_context(viewport=PHONE).new_page()
    sign_in(page, live_server.url, "casey")
    page.goto(f"{live_server.url}{reverse('episode_timeline', args=[episode.public_id])}")
    expect(page.get_by_role("heading", name="Drawn timeline")).to_be_visible()
    drawn = page.get_by_role("img", name=re.compile("Timeline of episode 1"))
    expect(drawn).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.get_by_role("region", name="Drawn timeline (scrolls sideways on a narrow screen)")
    assert box.evaluate("element => element.scrollWidth > element.clientWidth")  # it scrolls, inside
    box.focus()
    page.keyboard.press("ArrowRight")
    expect(box).to_be_focused()
    page.screenshot(path=str(HERE / "timeline-phone.png"), full_page=True)
    desktop = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(desktop, live_server.url, "casey")
    desktop.goto(f"{live_server.url}{reverse('episode_timeline', args=[episode.public_id])}")
    desktop.screenshot(path=str(HERE / "timeline-desktop.png"), full_page=True)


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_card_prints_on_one_page_without_navigation(browser: Browser, live_server, episode, paper):
    page = browser.new_context().new_page()
    sign_in(page, live_server.url, "casey")
    page.goto(f"{live_server.url}{reverse('episode_card', args=[episode.public_id])}")
    expect(page.get_by_role("heading", name="Your CAR-T treatment: dates to keep")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("link", name="Back to the timeline")).to_be_hidden()
    expect(page.get_by_text("Times are shown in")).to_be_hidden()
    pdf = page.pdf(format=paper, print_background=False)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    if paper == "A4":
        page.screenshot(path=str(HERE / "card-print.png"), full_page=True)
