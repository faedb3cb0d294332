"""Threshold data: every kind of value is validated before it can reach the engine."""

from decimal import Decimal

import pytest

from eligibility.rules import DEFAULT_THRESHOLDS, THRESHOLDS_BY_KEY, plain, round_half_up, threshold_set_errors


def errors_for(key, value):
    return THRESHOLDS_BY_KEY[key].validation_errors(Decimal(value))


class TestThresholdValues:
    def test_a_count_must_be_a_whole_number(self):
        assert errors_for("markers_window_days", "30") == []
        assert errors_for("markers_window_days", "30.5") == ["must be a whole number"]

    def test_a_percentage_stays_within_0_and_100(self):
        assert errors_for("marrow_blasts_flag_pct", "100") == []
        assert errors_for("marrow_blasts_flag_pct", "0") == []
        assert errors_for("marrow_blasts_flag_pct", "100.001") == ["must be between 0 and 100 %"]
        assert errors_for("marrow_blasts_flag_pct", "-0.001") == ["must be between 0 and 100 %"]

    def test_a_decimal_in_range_keeps_its_fraction(self):
        assert errors_for("alc_min_1e9_per_l", "0.15") == []
        assert errors_for("alc_min_1e9_per_l", "10.001") == ["must be between 0 and 10 x10^9/L"]

    def test_a_value_must_be_finite(self):
        assert errors_for("fever_c", "NaN") == ["must be a finite number"]
        assert errors_for("fever_c", "Infinity") == ["must be a finite number"]


class TestThresholdSets:
    def test_the_defaults_are_a_valid_set(self):
        assert threshold_set_errors(DEFAULT_THRESHOLDS) == {}

    def test_a_lower_bound_must_stay_below_its_upper_bound(self):
        values = dict(DEFAULT_THRESHOLDS, life_expectancy_exclude_weeks=Decimal(8))
        assert threshold_set_errors(values) == {
            "life_expectancy_exclude_weeks": ["must be below 'Life expectancy: flag at or below' (8)"]
        }
        values["life_expectancy_exclude_weeks"] = Decimal("7.9")
        assert threshold_set_errors(values) == {}

    def test_every_threshold_is_required_and_unknown_ones_are_refused(self):
        values = dict(DEFAULT_THRESHOLDS)
        del values["fever_c"]
        values["colour"] = Decimal(1)
        assert threshold_set_errors(values) == {"fever_c": ["is required"], "colour": ["is not a known threshold"]}


class TestArithmetic:
    @pytest.mark.parametrize(("value", "places", "expected"), [
        (0.1995, 3, 0.2), (0.1994, 3, 0.199), (199.5, 0, 200.0), (37.95, 1, 38.0), (37.94, 1, 37.9), (0.15, 3, 0.15),
    ])
    def test_round_half_up_rounds_the_number_as_written(self, value, places, expected):
        assert round_half_up(value, places) == expected

    @pytest.mark.parametrize(("value", "text"), [
        (Decimal("0.200"), "0.2"), (Decimal("800.000"), "800"), (72.0, "72"), (72.5, "72.5"), (3, "3"),
    ])
    def test_plain_writes_numbers_as_people_do(self, value, text):
        assert plain(value) == text
