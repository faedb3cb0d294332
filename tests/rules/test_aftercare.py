"""After day 0: the periods' end dates from day 0 and a rule set's thresholds (issue 14, item 5)."""

import datetime
from decimal import Decimal

import pytest

from eligibility.rules import after_infusion, default_ruleset, period_days

DAY0 = datetime.date(2026, 12, 1)


def test_version_1_gives_four_weeks_near_the_centre_eight_without_driving_thirty_days_of_caregiver():
    periods = {period.key: period for period in after_infusion(DAY0, default_ruleset().thresholds)}
    assert list(periods) == ["proximity", "driving", "caregiver"]
    assert periods["proximity"].ends_on == datetime.date(2026, 12, 29) and periods["proximity"].end_day == 28
    assert periods["driving"].ends_on == datetime.date(2027, 1, 26) and periods["driving"].length_days == 56
    assert periods["caregiver"].ends_on == datetime.date(2026, 12, 31) and periods["caregiver"].length_days == 30
    assert all(period.starts_on == DAY0 for period in periods.values())


def test_the_us_label_weeks_give_two_weeks_each():
    thresholds = {**default_ruleset().thresholds, "proximity_stay_weeks": Decimal("2"),
                  "driving_restriction_weeks": Decimal("2")}
    periods = {period.key: period.ends_on for period in after_infusion(DAY0, thresholds)}
    assert periods == {"proximity": datetime.date(2026, 12, 15), "driving": datetime.date(2026, 12, 15),
                       "caregiver": datetime.date(2026, 12, 31)}


@pytest.mark.parametrize(("amount", "unit", "days"), [
    (Decimal("0"), "weeks", 0), (Decimal("1"), "weeks", 7), (Decimal("2.5"), "weeks", 18),  # 17.5 rounds up
    (Decimal("0.1"), "weeks", 1), (Decimal("30"), "days", 30), (Decimal("29.5"), "days", 30),
])
def test_a_period_is_never_shortened_by_rounding(amount, unit, days):
    assert period_days(amount, unit) == days


def test_a_threshold_not_held_or_to_be_entered_gives_no_period():
    thresholds = {key: value for key, value in default_ruleset().thresholds.items() if key != "caregiver_days"}
    thresholds["driving_restriction_weeks"] = None
    assert [period.key for period in after_infusion(DAY0, thresholds)] == ["proximity"]
