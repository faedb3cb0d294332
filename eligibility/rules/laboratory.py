"""Rules 30-37 of criteria-v2 section 6.2 (disabled in version 1): the checks before lymphodepletion.

Every measured value they read must be current (3.2): anchor ``lymphodepletion_start_date``, window
``pre_lymphodepletion_tests_max_days``; a value that is not current is ``missing``. Every rule of this
phase reads ``lymphodepletion_start_date``: its absence makes each of them ``missing``. Values are
compared as converted and rounded in 4.2 (``compared()``), in decimal arithmetic.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from .arithmetic import as_written, plain, to_decimal
from .base import Outcome, Rule, worst
from .case import Case, cockcroft_gault
from .dated import (
    capital,
    compared,
    json_number,
    measure_text,
    measured_on_note,
    measurement_input,
    not_current,
    quoted,
    sentences,
    window_of,
)
from .statuses import DEFER, FLAG, MISSING, PASS, PRE_LYMPHODEPLETION
from .vocabulary import LYMPHODEPLETION, count, measure

GRECO_TABLE_1 = "Greco et al., eClinicalMedicine 2024 (EBMT) - Table 1, EBMT/EHA recommendations column"
GRECO_TABLE_6 = "Greco et al., eClinicalMedicine 2024 (EBMT) - Table 6, EBMT/EHA recommendations column"
ANCHOR = "lymphodepletion_start_date"
WINDOW = "pre_lymphodepletion_tests_max_days"


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _given(name: str, measurement: Any, value: Decimal, unit: str) -> str:
    """A measurement as recorded, and as compared where conversion or rounding changed it:
    ``bilirubin 2 mg/dL = 34.2 µmol/L``."""
    written = quoted(name, measurement)
    if measurement.unit != unit or to_decimal(measurement.value) != value:
        written += f" = {measure_text(value, unit)}"
    return written


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class PreLymphodepletionRule(Rule):
    """A rule judged before lymphodepletion: its values must be current for the lymphodepletion start."""

    phase = PRE_LYMPHODEPLETION

    def __init__(self, ruleset=None, **thresholds):
        super().__init__(ruleset, **thresholds)
        self.window = window_of(self, WINDOW)

    def currency(self, case: Case) -> Callable[[datetime.date | None], str | None]:
        """For this case: why a value dated ``d`` is not current (``None`` when it is)."""
        anchor, window, evaluation_date = case.lymphodepletion_start_date, self.window, case.evaluation_date

        def why(measured_on: datetime.date | None) -> str | None:
            return not_current(measured_on, anchor, ANCHOR, window, evaluation_date)
        return why

    def note(self, dates, anchor: datetime.date) -> str:
        """The sentence naming the dates of the current values judged."""
        return measured_on_note(dates, ANCHOR, anchor, self.window)


class SarsCov2(PreLymphodepletionRule):
    """Nasopharyngeal SARS-CoV-2 PCR negative before cellular therapy; delay if positive (rule 30)."""

    code = "sars_cov_2"
    reads = ("infections.sars_cov_2", "infections.sars_cov_2_tested_on", ANCHOR, "evaluation_date")
    title = "SARS-CoV-2 PCR"
    source = GRECO_TABLE_1

    def evaluate(self, case: Case) -> Outcome:
        result, tested_on = case.infections.sars_cov_2, case.infections.sars_cov_2_tested_on
        anchor = case.lymphodepletion_start_date
        inputs = {"infections.sars_cov_2": result, "infections.sars_cov_2_tested_on": _iso(tested_on),
                  ANCHOR: _iso(anchor)}
        if result is None:
            return MISSING, "SARS-CoV-2 PCR not recorded.", inputs
        if result == "not_tested":
            return MISSING, "SARS-CoV-2 PCR not tested: test before lymphodepletion.", inputs
        why = self.currency(case)(tested_on)
        if why is not None:
            return MISSING, f"SARS-CoV-2 PCR {result}: {why}.", inputs
        note = self.note((tested_on,), anchor)
        if result == "positive":
            return DEFER, f"SARS-CoV-2 PCR positive: delay cellular therapy until it is negative. {note}", inputs
        return PASS, f"SARS-CoV-2 PCR negative. {note}", inputs


class HepaticFunction(PreLymphodepletionRule):
    """Total bilirubin and transaminases (rule 31). Exceeding the trial limits flags, for the
    physician to judge tolerance of conditioning."""

    code = "hepatic_function"
    reads = ("labs.bilirubin", "labs.ast", "labs.alt", "gilbert_syndrome", ANCHOR, "evaluation_date")
    title = "Hepatic function (laboratory values)"
    source = GRECO_TABLE_1
    derived_when_pending = {"bilirubin_umol_l": None, "ast_x_uln": None, "alt_x_uln": None}

    def evaluate(self, case: Case) -> Outcome:
        labs, gilbert, anchor = case.labs, case.gilbert_syndrome, case.lymphodepletion_start_date
        bilirubin, ast, alt = labs.bilirubin, labs.ast, labs.alt
        inputs = {"labs.bilirubin": measurement_input(bilirubin), "labs.ast": measurement_input(ast, uln=True),
                  "labs.alt": measurement_input(alt, uln=True), "gilbert_syndrome": gilbert, ANCHOR: _iso(anchor)}
        derived: dict[str, Any] = {"bilirubin_umol_l": None, "ast_x_uln": None, "alt_x_uln": None}
        why_not = self.currency(case)
        findings, stale, dates = [], [], []
        if bilirubin is None:
            findings.append((MISSING, "Bilirubin not recorded."))
        elif (why := why_not(bilirubin.measured_on)) is not None:
            stale.append((quoted("bilirubin", bilirubin), why))
        else:
            value = compared(bilirubin)
            derived["bilirubin_umol_l"] = json_number(value)
            dates.append(bilirubin.measured_on)
            findings.append(self._bilirubin(_given("Bilirubin", bilirubin, value, "umol/L"), value, gilbert))
        for name, key, measurement in (("AST", "ast_x_uln", ast), ("ALT", "alt_x_uln", alt)):
            if measurement is None:
                findings.append((MISSING, f"{name} not recorded."))
            elif (why := why_not(measurement.measured_on)) is not None:
                stale.append((quoted(name, measurement), why))
            else:
                ratio = compared(measurement)
                derived[key] = json_number(ratio)
                dates.append(measurement.measured_on)
                findings.append(self._transaminase(name, measurement, ratio))
        if stale:
            findings.append((MISSING, sentences(stale)))
        status, reason = worst(findings)
        if status != MISSING:
            reason = f"{reason} {self.note(dates, anchor)}"
        return status, reason, inputs, derived

    def _bilirubin(self, given: str, value: Decimal, gilbert: bool | None) -> tuple[str, str]:
        below, gilbert_below = self.values["bilirubin_max_umol_l"], self.values["bilirubin_gilbert_max_umol_l"]
        limit, gilbert_limit = measure(below, "umol/L"), measure(gilbert_below, "umol/L")
        if value < below:
            return PASS, f"{given} is below {limit}."
        if value < gilbert_below:
            if gilbert:
                return PASS, (f"{given} is at or above {limit} but below the {gilbert_limit} accepted with Gilbert's "
                              "syndrome, which the patient has.")
            if gilbert is False:
                return FLAG, (f"{given} is at or above {limit} without Gilbert's syndrome (a trial limit): can the "
                              "patient tolerate conditioning?")
            return MISSING, (f"{given} is at or above {limit}: record whether the patient has Gilbert's syndrome "
                             f"(below {gilbert_limit} is accepted with it).")
        even = ", even with Gilbert's syndrome" if gilbert else ""
        return FLAG, (f"{given} is at or above {gilbert_limit}{even} (a trial limit): can the patient tolerate "
                      "conditioning?")

    def _transaminase(self, name: str, measurement: Any, ratio: Decimal) -> tuple[str, str]:
        flag_from = self.values["transaminases_flag_x_uln"]
        given = (f"{name} {measure(as_written(measurement.value), 'U/L')} = {ratio} × ULN "
                 f"(ULN {measure(as_written(measurement.uln), 'U/L')})")
        if ratio >= flag_from:
            return FLAG, (f"{given} is at or above {plain(flag_from)} × ULN (a contraindication in some trials): can "
                          "the patient tolerate conditioning?")
        return PASS, f"{given} is below {plain(flag_from)} × ULN."


class RenalFunction(PreLymphodepletionRule):
    """Creatinine clearance, recorded or estimated (Cockcroft-Gault), with a fludarabine
    dose-reduction flag (rule 32)."""

    code = "renal_function"
    reads = ("labs.creatinine_clearance", "labs.creatinine", "age_years", "weight_kg", "sex", "lymphodepletion",
             ANCHOR, "evaluation_date")
    title = "Renal function (creatinine clearance)"
    source = (f"{GRECO_TABLE_6}; Cockcroft and Gault, Nephron 1976 - creatinine clearance estimate")
    derived_when_pending = {"crcl_ml_min": None, "crcl_source": None}

    def key_function(self):
        # Age, weight and sex matter only for an estimate from a recorded creatinine: leaving them out
        # elsewhere lets the result be reused across patients.
        def key(case: Case):
            labs = case.labs
            creatinine = labs.creatinine
            patient = (case.age_years, case.weight_kg, case.sex) if creatinine is not None else None
            return (labs.creatinine_clearance, creatinine, patient, case.lymphodepletion,
                    case.lymphodepletion_start_date, case.evaluation_date)
        return key

    def evaluate(self, case: Case) -> Outcome:
        labs, anchor = case.labs, case.lymphodepletion_start_date
        measured, creatinine = labs.creatinine_clearance, labs.creatinine
        inputs: dict[str, Any] = {"labs.creatinine_clearance": measurement_input(measured),
                                  "labs.creatinine": measurement_input(creatinine)}
        why_not = self.currency(case)
        clearance, source, described, absent = None, None, "", []
        if measured is None:
            absent.append("measured creatinine clearance not recorded")
        elif (why := why_not(measured.measured_on)) is not None:
            absent.append(f"measured creatinine clearance {measure(as_written(measured.value), 'mL/min')}: {why}")
        else:
            clearance, source = int(compared(measured)), "recorded"
            described, measured_on = f"Creatinine clearance {clearance} mL/min (measured)", measured.measured_on
        if clearance is None:
            if creatinine is None:
                absent.append("creatinine not recorded")
            elif (why := why_not(creatinine.measured_on)) is not None:
                absent.append(f"{quoted('creatinine', creatinine)}: {why}")
            else:
                # (b) Cockcroft-Gault from a current creatinine: only now are age, weight and sex read.
                clearance = self._estimate(case, creatinine, inputs, absent)
                if clearance is not None:
                    source, measured_on = "cockcroft_gault", creatinine.measured_on
                    described = (f"Creatinine clearance {clearance} mL/min (Cockcroft-Gault estimate: {case.sex}, "
                                 f"{count(as_written(case.age_years), 'year')}, {plain(as_written(case.weight_kg))} "
                                 f"kg, {quoted('creatinine', creatinine)})")
        inputs[ANCHOR] = _iso(anchor)
        derived = {"crcl_ml_min": clearance, "crcl_source": source}
        if clearance is None:
            return MISSING, f"Creatinine clearance cannot be established: {'; '.join(absent)}.", inputs, derived
        if clearance < self.values["fludarabine_reduce_below_crcl_ml_min"]:
            inputs["lymphodepletion"] = case.lymphodepletion  # read only when the dose may need reducing
        status, reason = self._judge(described, clearance, inputs.get("lymphodepletion"))
        return status, f"{reason} {self.note((measured_on,), anchor)}", inputs, derived

    @staticmethod
    def _estimate(case: Case, creatinine: Any, inputs: dict[str, Any], absent: list[str]) -> int | None:
        """The Cockcroft-Gault estimate (4.3), naming in ``absent`` each input missing or the age under 18."""
        age, weight, sex = case.age_years, case.weight_kg, case.sex
        inputs.update({"age_years": as_written(age), "weight_kg": as_written(weight), "sex": sex})
        if age is None:
            absent.append("age not recorded")
        elif age < 18:
            absent.append(f"age {count(as_written(age), 'year')}: no Cockcroft-Gault estimate under 18 years "
                          "(record a measured or paediatric clearance)")
        if weight is None:
            absent.append("weight not recorded")
        if sex is None:
            absent.append("sex not recorded")
        return cockcroft_gault(age, weight, sex, creatinine.mg_dl())

    def _judge(self, described: str, clearance: int, regimen: str | None) -> tuple[str, str]:
        cut_off = self.values["fludarabine_reduce_below_crcl_ml_min"]
        limit = measure(cut_off, "mL/min")
        if clearance >= cut_off:
            return PASS, f"{described} is at or above {limit}: no fludarabine dose reduction."
        below = f"{described} is below {limit}"
        if regimen == "flu_cy":
            return FLAG, (f"{below}, with fludarabine + cyclophosphamide planned: reduce the fludarabine dose as the "
                          "local fludarabine label says (e.g. by 50%).")
        if regimen == "other":
            return FLAG, (f"{below}, with another regimen planned: check whether the regimen contains fludarabine; "
                          "if so, reduce its dose.")
        if regimen is None:
            return MISSING, (f"{below}, and the lymphodepletion regimen is not recorded: record it (a fludarabine "
                             "dose would need reducing).")
        return PASS, f"{below}; no fludarabine is planned ({LYMPHODEPLETION[regimen]})."


class _SingleMeasurement(PreLymphodepletionRule):
    """A rule on one bedside measurement in % (LVEF, SpO2 on room air)."""

    NAME: ClassVar[str]
    #: The case key of the measurement.
    code_key: ClassVar[str]

    def evaluate(self, case: Case) -> Outcome:
        measurement, anchor = getattr(case, self.code_key), case.lymphodepletion_start_date
        inputs = {self.code_key: measurement_input(measurement), ANCHOR: _iso(anchor)}
        if measurement is None:
            return MISSING, f"{self.NAME} not recorded.", inputs
        why = self.currency(case)(measurement.measured_on)
        if why is not None:
            return MISSING, f"{quoted(self.NAME, measurement)}: {why}.", inputs
        value = compared(measurement)
        status, reason = self.judge(_given(self.NAME, measurement, value, "%"), value)
        return status, f"{reason} {self.note((measurement.measured_on,), anchor)}", inputs

    def judge(self, given: str, value: Decimal) -> tuple[str, str]:
        raise NotImplementedError


class CardiacFunction(_SingleMeasurement):
    """LVEF before lymphodepletion (rule 33)."""

    code = "cardiac_function"
    code_key = "lvef"
    NAME = "LVEF"
    reads = ("lvef", ANCHOR, "evaluation_date")
    title = "Cardiac function (LVEF)"
    source = f"{GRECO_TABLE_6}; Alfred Health, CAR-T eligibility criteria - LVEF"

    def judge(self, given: str, value: Decimal) -> tuple[str, str]:
        limit = self.values["lvef_flag_at_or_below_pct"]
        if value <= limit:
            return FLAG, f"{given} is at or below {plain(limit)}%: can the patient tolerate conditioning?"
        return PASS, f"{given} is above {plain(limit)}%."


class PulmonaryFunction(_SingleMeasurement):
    """SpO2 on room air before lymphodepletion (rule 34). A patient on oxygen has no room-air value."""

    code = "pulmonary_function"
    code_key = "spo2_room_air"
    NAME = "SpO2 on room air"
    reads = ("spo2_room_air", ANCHOR, "evaluation_date")
    title = "Pulmonary function (SpO2 on room air)"
    source = GRECO_TABLE_6

    def judge(self, given: str, value: Decimal) -> tuple[str, str]:
        minimum = self.values["spo2_room_air_min_pct"]
        if value >= minimum:
            return PASS, f"{given} is at or above {plain(minimum)}%."
        return DEFER, f"{given} is below {plain(minimum)}%: hold lymphodepletion."


class ProductOnSite(PreLymphodepletionRule):
    """Lymphodepletion only after the product has arrived on site; exceptionally after confirmed
    manufacture (rule 35). It judges its dates itself: 3.2 does not apply."""

    code = "product_on_site"
    reads = ("product_received_on", "product_manufacture_confirmed", ANCHOR)
    title = "Product on site before lymphodepletion"
    source = GRECO_TABLE_6

    def evaluate(self, case: Case) -> Outcome:
        received, confirmed, anchor = (case.product_received_on, case.product_manufacture_confirmed,
                                       case.lymphodepletion_start_date)
        inputs = {"product_received_on": _iso(received), "product_manufacture_confirmed": confirmed,
                  ANCHOR: _iso(anchor)}
        if anchor is None:
            return MISSING, f"{ANCHOR} not recorded.", inputs
        start = f"the {ANCHOR} on {anchor.isoformat()}"
        if received is None:
            if confirmed:
                return FLAG, (f"Product not yet on site, manufacture confirmed successful (the exception), "
                              f"for {start}."), inputs
            unconfirmed = "; manufacture not confirmed" if confirmed is False else ""
            return MISSING, (f"Product arrival not recorded{unconfirmed}: record the arrival; give lymphodepletion "
                             "only after it."), inputs
        arrived = f"Product received on {received.isoformat()}"
        if received < anchor:
            return PASS, f"{arrived}, before {start}.", inputs
        if received == anchor:
            return FLAG, (f"{arrived}, the same day as {start}: confirm it arrived before the first lymphodepleting "
                          "dose."), inputs
        manufacture = {True: "manufacture was confirmed successful", False: "manufacture was not confirmed",
                       None: "manufacture confirmation not recorded"}[confirmed]
        return FLAG, (f"{arrived}, after {start}: lymphodepletion started before the product arrived "
                      f"({manufacture})."), inputs


#: CAR-HEMATOTOX (Rejeski 2021): each variable's name, unit of comparison and points, as the table is
#: written ("75-175" and "650-2000" include both ends). The published score: fixed here, not a threshold.
HEMATOTOX = (
    ("platelets", "platelets", "10^9/L", lambda value: 0 if value > 175 else (1 if value >= 75 else 2)),
    ("anc", "ANC", "cells/uL", lambda value: 0 if value >= 1200 else 1),
    ("haemoglobin", "haemoglobin", "g/dL", lambda value: 0 if value >= Decimal("9.0") else 1),
    ("crp", "CRP", "mg/dL", lambda value: 0 if value < Decimal("3.0") else 1),
    ("ferritin", "ferritin", "ng/mL", lambda value: 0 if value < 650 else (1 if value <= 2000 else 2)),
)
HEMATOTOX_MAXIMUM = 7


class CarHematotox(PreLymphodepletionRule):
    """CAR-HEMATOTOX score before lymphodepletion, with the G-CSF recommendation when the risk is
    high (rule 36)."""

    code = "car_hematotox"
    reads = ("labs.platelets", "labs.anc", "labs.haemoglobin", "labs.crp", "labs.ferritin", ANCHOR,
             "evaluation_date")
    title = "CAR-HEMATOTOX score"
    source = ("Rejeski et al., Blood 2021 (CAR-HEMATOTOX) - score and risk groups; EHA/EBMT ICAHT recommendations "
              "(Blood) - prophylaxis by CAR-HEMATOTOX risk")
    derived_when_pending = {"score": None, "risk": None,
                            "points": {"platelets": None, "anc": None, "haemoglobin": None, "crp": None,
                                       "ferritin": None},
                            "partial_score": 0}

    def evaluate(self, case: Case) -> Outcome:
        labs, anchor = case.labs, case.lymphodepletion_start_date
        measurements = {key: getattr(labs, key) for key, *_ in HEMATOTOX}
        inputs: dict[str, Any] = {f"labs.{key}": measurement_input(value) for key, value in measurements.items()}
        inputs[ANCHOR] = _iso(anchor)
        why_not = self.currency(case)
        points: dict[str, int | None] = {}
        parts, stale, absent, dates = [], [], [], []
        for key, name, unit, score_of in HEMATOTOX:
            measurement = measurements[key]
            points[key] = None
            if measurement is None:
                absent.append(name)
            elif (why := why_not(measurement.measured_on)) is not None:
                stale.append((quoted(name, measurement), why))
            else:
                value = compared(measurement)
                points[key] = score_of(value)
                dates.append(measurement.measured_on)
                parts.append(f"{name} {measure_text(value, unit)} = {points[key]}")
        partial = sum(point for point in points.values() if point is not None)
        high_from = self.limits["hematotox_high_risk_from"]
        complete = len(dates) == len(HEMATOTOX)
        derived = {"score": partial if complete else None,
                   "risk": ("high" if partial >= high_from else "low") if complete else None,
                   "points": points, "partial_score": partial}
        if complete:
            risk = f"high risk, {high_from} or more" if partial >= high_from else f"low risk, below {high_from}"
            reason = f"CAR-HEMATOTOX {partial} of {HEMATOTOX_MAXIMUM} ({risk}): {', '.join(parts)}."
            note = self.note(dates, anchor)
            if partial >= high_from:
                gcsf = (f"High risk: EHA/EBMT recommend G-CSF {self.texts['gcsf_ug_per_kg']} µg/kg from day "
                        f"+{self.texts['gcsf_from_day']} after infusion.")
                return FLAG, f"{reason} {gcsf} {note}", inputs, derived
            return PASS, f"{reason} {note}", inputs, derived
        found = (f"CAR-HEMATOTOX incomplete: {', '.join(parts)} ({count(partial, 'point')} so far)."
                 if parts else "CAR-HEMATOTOX cannot be computed.")
        if absent:
            found += f" Not recorded: {', '.join(absent)}."
        if stale:
            found += f" {sentences(stale)}"
        if partial >= high_from:
            found += f" High risk is already certain: {count(partial, 'point')}, {high_from} or more."
        return MISSING, found, inputs, derived


class Easix(PreLymphodepletionRule):
    """EASIX, log2(EASIX) and m-EASIX: a risk marker for severe CRS/ICANS, not an eligibility gate (rule 37)."""

    code = "easix"
    reads = ("labs.ldh", "labs.creatinine", "labs.platelets", "labs.crp", ANCHOR, "evaluation_date")
    title = "EASIX (risk marker)"
    source = ("Pennisi et al., Blood Adv 2021 (EASIX) - EASIX and m-EASIX; Greenbaum et al., Blood Adv 2021 - "
              "EASIX before lymphodepletion")
    derived_when_pending = {"easix": None, "log2_easix": None, "m_easix": None}
    NAMES = (("ldh", "LDH"), ("creatinine", "creatinine"), ("platelets", "platelets"), ("crp", "CRP"))

    def evaluate(self, case: Case) -> Outcome:
        labs, anchor = case.labs, case.lymphodepletion_start_date
        measurements = {key: getattr(labs, key) for key, _ in self.NAMES}
        inputs: dict[str, Any] = {f"labs.{key}": measurement_input(value) for key, value in measurements.items()}
        inputs[ANCHOR] = _iso(anchor)
        derived: dict[str, Any] = {"easix": None, "log2_easix": None, "m_easix": None}
        why_not = self.currency(case)
        absent = [name for key, name in self.NAMES if measurements[key] is None]
        stale = [(quoted(name, measurements[key]), why) for key, name in self.NAMES if measurements[key] is not None
                 and (why := why_not(measurements[key].measured_on)) is not None]
        if absent or stale:
            # 6.3: a field is null when an input it needs is not current; the others are still computed.
            current = {key: value for key, value in measurements.items()
                       if value is not None and why_not(value.measured_on) is None}
            derived = self._derived(*(current.get(key) for key, _ in self.NAMES))
            reasons = [f"Not recorded: {', '.join(absent)}."] if absent else []
            if stale:
                reasons.append(sentences(stale))
            return MISSING, f"EASIX cannot be computed. {' '.join(reasons)}", inputs, derived
        ldh, creatinine, platelets, crp = (measurements[key] for key, _ in self.NAMES)
        note = self.note([value.measured_on for value in measurements.values()], anchor)
        platelet_count = compared(platelets)
        if platelet_count == 0:
            return FLAG, (f"{capital(_given('platelets', platelets, platelet_count, '10^9/L'))}: EASIX cannot be "
                          f"computed (division by a platelet count of 0). {note}"), inputs, derived
        ldh_value, crp_value, creatinine_mg_dl = compared(ldh), compared(crp), creatinine.mg_dl()
        easix = ldh_value * creatinine_mg_dl / platelet_count
        log2, rounded = self._log2(easix), _two_places(easix)
        m_easix = _two_places(ldh_value * crp_value / platelet_count)
        derived = {"easix": json_number(rounded), "log2_easix": json_number(log2), "m_easix": json_number(m_easix)}
        creatinine_text = quoted("creatinine", creatinine)
        if creatinine.unit != "mg/dL":
            creatinine_text += f" = {measure_text(_two_places(creatinine_mg_dl), 'mg/dL')}"
        log2_text = f"log2(EASIX) {log2}" if log2 is not None else "log2(EASIX) undefined (EASIX 0)"
        return PASS, (f"EASIX {rounded} = LDH {measure_text(ldh_value, 'U/L')} × {creatinine_text} / platelets "
                      f"{measure_text(platelet_count, '10^9/L')}; {log2_text}; m-EASIX {m_easix} = LDH × CRP "
                      f"{measure_text(crp_value, 'mg/dL')} / platelets. A risk marker for severe CRS/ICANS, not an "
                      f"eligibility gate. {note}"), inputs, derived

    @staticmethod
    def _log2(easix: Decimal) -> Decimal | None:
        """log2 of the unrounded EASIX, rounded half-up to 2 decimals; ``None`` when EASIX is 0.

        In binary floating point (Decimal's ln is some 100 times slower): the log2 of a rational number
        is never exactly halfway between two hundredths, and a float (15-16 significant digits) can
        round otherwise than exact arithmetic only within about 1e-15 of such a point.
        """
        return _two_places(to_decimal(math.log2(easix))) if easix != 0 else None

    def _derived(self, ldh, creatinine, platelets, crp) -> dict[str, Any]:
        """The fields that can be computed from the current values given (``None``: not current)."""
        derived: dict[str, Any] = {"easix": None, "log2_easix": None, "m_easix": None}
        if ldh is None or platelets is None or compared(platelets) == 0:
            return derived
        ldh_value, platelet_count = compared(ldh), compared(platelets)
        if creatinine is not None:
            easix = ldh_value * creatinine.mg_dl() / platelet_count
            derived["easix"], derived["log2_easix"] = json_number(_two_places(easix)), json_number(self._log2(easix))
        if crp is not None:
            derived["m_easix"] = json_number(_two_places(ldh_value * compared(crp) / platelet_count))
        return derived


RULES = (SarsCov2, HepaticFunction, RenalFunction, CardiacFunction, PulmonaryFunction, ProductOnSite, CarHematotox,
         Easix)
