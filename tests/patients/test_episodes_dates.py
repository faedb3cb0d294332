"""An episode's key dates and day numbers (issue 14, item 2)."""

import datetime

import pytest

from eligibility.models import Assessment
from eligibility.patients.episodes import day0, day_number, day_text, key_dates

D = datetime.date


@pytest.mark.parametrize(("on", "text", "number"), [
    (D(2026, 11, 26), "day −5", -5), (D(2026, 11, 30), "day −1", -1), (D(2026, 12, 1), "day 0", 0),
    (D(2026, 12, 2), "day +1", 1), (D(2026, 12, 29), "day +28", 28),
])
def test_day_numbers_count_from_the_infusion(on, text, number):
    assert day_text(on, D(2026, 12, 1)) == text
    assert day_number(on, D(2026, 12, 1)) == number


def test_no_day_number_without_day_0_or_a_date():
    assert day_text(D(2026, 12, 1), None) == "" and day_number(None, D(2026, 12, 1)) is None


def test_key_dates_read_the_case_and_the_episode_planned_until_done():
    episode = Assessment(data={"leukapheresis_date": "2026-11-20", "infusion_date": "2026-12-01",
                               "product_received_on": "2026-11-25"},
                         consent_on=D(2026, 11, 1), screening_on=D(2026, 11, 3), leukapheresis_done=True)
    dates = {date.key: date for date in key_dates(episode, today=D(2026, 11, 3))}
    assert [date.key for date in key_dates(episode, today=D(2026, 11, 3))] == [
        "consent", "screening", "leukapheresis", "product_received", "lymphodepletion", "infusion"]
    assert dates["consent"].done and dates["screening"].done  # screening on today: happened
    assert dates["leukapheresis"].on == D(2026, 11, 20) and dates["leukapheresis"].done
    assert dates["infusion"].planned and not dates["infusion"].done
    assert dates["lymphodepletion"].on is None and not dates["lymphodepletion"].planned
    assert dates["product_received"].done
    assert day0(episode) == D(2026, 12, 1)


def test_a_screening_visit_after_today_is_planned():
    episode = Assessment(data={}, screening_on=D(2026, 11, 4))
    screening = next(date for date in key_dates(episode, today=D(2026, 11, 3)) if date.key == "screening")
    assert screening.planned


def test_a_done_flag_without_a_date_is_not_a_date_done():
    episode = Assessment(data={}, infusion_done=True)
    infusion = next(date for date in key_dates(episode, today=D(2026, 11, 3)) if date.key == "infusion")
    assert not infusion.done and not infusion.planned and day0(episode) is None
