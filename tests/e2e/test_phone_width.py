"""At phone width (390 px, a current phone in portrait): the menu folds behind a button and Sign out
is reachable (with JavaScript and without), the worklist never scrolls sideways, and the keyboard
focus is visible. Screenshots are saved beside this file (ignored by git) for a person to look at."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from eligibility.models import Assessment
from eligibility.patients import services
from tests.e2e.helpers import sign_in, user

PHONE = {"width": 390, "height": 844}
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def coordinator(db):
    return user("casey", "Coordinator", "Casey", "Coordinator")


@pytest.fixture
def physician(db):
    return user("dr.lee", "Physician", "Robin", "Lee-Montgomery-Whitfield")


def _phone(browser: Browser, **options):
    return browser.new_context(viewport=PHONE, **options).new_page()


def test_the_menu_folds_and_sign_out_is_reachable(browser: Browser, live_server, coordinator):
    page = _phone(browser)
    sign_in(page, live_server.url, "casey")
    menu = page.get_by_role("button", name="Menu")
    sign_out = page.get_by_role("button", name="Sign out")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sign_out).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sign_out).to_be_visible()
    box = sign_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(page.get_by_role("link", name="New patient").first).to_be_visible()
    opened = page.locator("#main-menu")
    expect(opened).to_have_class(re.compile(r"\bcollapse show\b"))  # unfolded (Bootstrap ignores clicks meanwhile)
    menu.click()
    expect(sign_out).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(opened).to_have_class(re.compile(r"^(?!.*collapsing).*\bcollapse\b"))
    menu.click()
    expect(opened).to_have_class(re.compile(r"\bcollapse show\b"))
    sign_out.click()
    expect(page).to_have_url(re.compile(r"/login/|/logout/"))
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/"))  # signed out: the worklist asks to sign in


def test_without_javascript_the_menu_stays_open(browser: Browser, live_server, coordinator):
    page = _phone(browser, java_script_enabled=False)
    sign_in(page, live_server.url, "casey")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    sign_out.click()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/login/"))


def test_the_worklist_does_not_scroll_sideways(browser: Browser, live_server, coordinator, physician):
    for n in range(12):
        patient = services.patient_create(study_id=f"CART-PHONE-{n:03d}-LONGER-IDENTIFIER", initials="ABCD",
                                          by=coordinator)
        if n % 3 == 0:
            assessment = Assessment.objects.get(patient=patient)
            services.assessment_update(assessment=assessment, changes={"ecog": 4}, stage="pre_apheresis",
                                       revision=assessment.revision, by=coordinator)
    page = _phone(browser)
    sign_in(page, live_server.url, "dr.lee")  # the physician's worklist also has the queue
    expect(page.get_by_role("heading", name="Awaiting your sign-off or review")).to_be_visible()
    expect(page.get_by_text("CART-PHONE-003-LONGER-IDENTIFIER").first).to_be_visible()
    page.screenshot(path=str(HERE / "worklist-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Nor does a table scroll inside its own box.
    overflowing = page.evaluate("""[...document.querySelectorAll('table, .table-responsive')]
        .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.className)""")
    assert overflowing == []
    # Each value is still named: the column's name is shown beside it.
    label = page.evaluate("""getComputedStyle(document.querySelector('table.worklist td[data-label="Stage"]'),
        '::before').content""")
    assert label == '"Stage: "'
    # Sorting is at hand without the (hidden) column headings.
    page.get_by_label("Sort by").select_option(label="Study identifier")
    page.get_by_label("Order").select_option(label="Descending")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"sort=study_id&dir=desc"))
    first = page.locator("table.worklist tbody th").first
    expect(first).to_have_text("CART-PHONE-011-LONGER-IDENTIFIER")


def test_a_focus_ring_is_visible(browser: Browser, live_server, coordinator):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(page, live_server.url, "casey")
    ring = """() => { const style = getComputedStyle(document.activeElement);
        return [document.activeElement.tagName, style.outlineStyle, parseFloat(style.outlineWidth),
                parseFloat(style.outlineOffset), style.outlineColor]; }"""
    page.keyboard.press("Tab")  # the skip link
    tag, style, width, offset, colour = page.evaluate(ring)
    assert (tag, style) == ("A", "solid") and width >= 3 and offset >= 2
    page.keyboard.press("Tab")  # the brand link, on the dark bar: amber
    tag, style, width, _, colour = page.evaluate(ring)
    assert (tag, style, width, colour) == ("A", "solid", 3, "rgb(255, 193, 7)")
    page.get_by_label("Study identifier or initials").focus()
    tag, style, width, _, colour = page.evaluate(ring)
    assert (tag, style, width, colour) == ("INPUT", "solid", 3, "rgb(10, 88, 202)")
    page.keyboard.press("Tab")
    tag, style, width, _, _ = page.evaluate(ring)
    assert (tag, style, width) == ("BUTTON", "solid", 3)
    page.screenshot(path=str(HERE / "focus-ring.png"))
    # A mouse click on a link does not draw the ring (focus-visible): only the keyboard does.
    page.mouse.click(5, 700)
    phone = _phone(browser)
    sign_in(phone, live_server.url, "casey")
    phone.keyboard.press("Tab")
    phone.keyboard.press("Tab")
    phone.keyboard.press("Tab")  # the menu button
    tag, style, width, _, _ = phone.evaluate(ring)
    assert (tag, style, width) == ("BUTTON", "solid", 3)
