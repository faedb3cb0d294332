"""Rules of the later phases: before leukapheresis, before lymphodepletion, before infusion
(criteria.md section 6, rules 16-26)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter

from .arithmetic import as_written, plain, to_decimal
from .base import Outcome, Rule
from .case import Case
from .dated import measured_on_note, measurement_input, not_current, window_of
from .sources import BALTALEUCEL, GUIDELINE, PATIENT_GUIDE, cite
from .statuses import DEFER, FLAG, MISSING, PASS, PRE_APHERESIS, PRE_INFUSION, PRE_LYMPHODEPLETION
from .vocabulary import LYMPHODEPLETION, ORGAN_RESULT, count, measure

PRE_LEUKAPHERESIS = (GUIDELINE, "Pre-Leukapheresis Requirements")


class Alc(Rule):
    """Absolute lymphocyte count before leukapheresis (rule 16).

    Dated mode (criteria-v2 6.1), when the rule set holds "dated ALC": the ALC must be current
    (3.2: anchor ``leukapheresis_date``, window ``alc_max_age_days``), else it is missing.
    """

    code = "alc"
    reads = ("alc",)
    phase = PRE_APHERESIS
    title = "Absolute lymphocyte count"
    source = cite(PRE_LEUKAPHERESIS)

    def __init__(self, ruleset=None, **thresholds):
        super().__init__(ruleset, **thresholds)
        self.dated = self.holds_group("dated ALC")
        if self.dated:
            self.reads = ("alc", "leukapheresis_date", "evaluation_date")

    def evaluate(self, case: Case) -> Outcome:
        if self.dated:
            return self._evaluate_dated(case)
        alc = case.alc
        if alc is None:
            return MISSING, "ALC not recorded.", {"alc": None}
        return *self._judge(alc), {"alc": {"value": as_written(alc.value), "unit": alc.unit}}

    def _judge(self, alc) -> tuple[str, str]:
        """Version 1's finding for a recorded (and, in dated mode, current) ALC."""
        value, unit = alc.value, alc.unit
        in_1e9 = alc.in_1e9_per_l()
        minimum = self.limits["alc_min_1e9_per_l"]
        minimum_text = self.texts["alc_min_1e9_per_l"]
        given = f"ALC {measure(value, unit)}" + (f" = {measure(in_1e9, '10^9/L')}" if unit != "10^9/L" else "")
        if in_1e9 >= minimum:
            return PASS, f"{given} is at or above {measure(minimum_text, '10^9/L')}."
        return FLAG, (f"{given} is below the recommended {measure(minimum_text, '10^9/L')}; lower counts may still "
                      "be collected.")

    def _evaluate_dated(self, case: Case) -> Outcome:
        alc, collection = case.alc, case.leukapheresis_date
        inputs = {"alc": measurement_input(alc),
                  "leukapheresis_date": collection.isoformat() if collection is not None else None}
        if alc is None:
            return MISSING, "ALC not recorded.", inputs
        window = window_of(self, "alc_max_age_days")
        why = not_current(alc.measured_on, collection, "leukapheresis_date", window, case.evaluation_date)
        if why is not None:
            return MISSING, f"ALC {measure(alc.value, alc.unit)}: {why}.", inputs
        status, reason = self._judge(alc)
        return status, f"{reason} {measured_on_note((alc.measured_on,), 'leukapheresis_date', collection, window)}", \
            inputs


class InfectiousMarkers(Rule):
    """Infectious-disease markers drawn within the window around leukapheresis (rule 17).

    Dated mode (criteria-v2 6.1), when the rule set holds "dated markers": the markers count when
    drawn at most ``markers_window_days`` before leukapheresis and at most
    ``markers_max_days_after_collection`` after it, on or before the evaluation date; else missing.
    """

    code = "infectious_markers"
    reads = ("infections.markers_tested_on", "leukapheresis_date")
    phase = PRE_APHERESIS
    title = "Infectious-disease markers"
    source = cite(PRE_LEUKAPHERESIS)

    def __init__(self, ruleset=None, **thresholds):
        super().__init__(ruleset, **thresholds)
        self.dated = self.holds_group("dated markers")
        if self.dated:
            self.reads = ("infections.markers_tested_on", "leukapheresis_date", "evaluation_date")

    def evaluate(self, case: Case) -> Outcome:
        tested_on, collection = case.infections.markers_tested_on, case.leukapheresis_date
        inputs = {
            "infections.markers_tested_on": tested_on.isoformat() if tested_on else None,
            "leukapheresis_date": collection.isoformat() if collection else None,
        }
        if self.dated:
            inputs["as_of"] = case.evaluation_date.isoformat()
        window, window_days = self.limits["markers_window_days"], count(self.values["markers_window_days"], "day")
        if tested_on is None or collection is None:
            absent = [name for name, value in (("marker date", tested_on), ("leukapheresis date", collection))
                      if value is None]
            return MISSING, f"Not recorded: {' and '.join(absent)}.", inputs
        if self.dated:
            return self._dated(tested_on, collection, case.evaluation_date, inputs)
        days = abs((collection - tested_on).days)
        if days <= window:
            return PASS, f"Markers drawn {count(days, 'day')} from leukapheresis, within {window_days}.", inputs
        return DEFER, (f"Markers drawn {count(days, 'day')} from leukapheresis, more than {window_days}: repeat "
                       "them."), inputs

    def _dated(self, tested_on, collection, evaluation_date, inputs) -> Outcome:
        if tested_on > evaluation_date:
            return MISSING, (f"Infectious-disease markers dated {tested_on.isoformat()}, after the evaluation date "
                             f"(as_of {evaluation_date.isoformat()}): a date after it counts as not recorded."), inputs
        window = self.limits["markers_window_days"]
        after_allowed = self.limits["markers_max_days_after_collection"]
        why = not_current(tested_on, collection, "leukapheresis_date", window, evaluation_date, after_allowed)
        before = (collection - tested_on).days
        if why is not None:
            if before < -after_allowed:
                why += (" (drawn after leukapheresis: markers must be drawn before collection, with results available "
                        "on the day of shipment)")
            return MISSING, f"Infectious-disease markers: {why}.", inputs
        if before >= 0:
            drawn = f"{count(before, 'day')} before" if before else "on the day of"
            return PASS, (f"Markers drawn on {tested_on.isoformat()}, {drawn} leukapheresis on "
                          f"{collection.isoformat()}, within {count(window, 'day')}."), inputs
        return PASS, (f"Markers drawn on {tested_on.isoformat()}, {count(-before, 'day')} after leukapheresis on "
                      f"{collection.isoformat()}, within the {count(after_allowed, 'day')} allowed."), inputs


class StartingMaterial(Rule):
    """Fresh or cryopreserved starting material (rule 18)."""

    code = "starting_material"
    reads = ("starting_material", "cryopreserved_months", "product")
    phase = PRE_APHERESIS
    title = "Starting material"
    source = cite(PRE_LEUKAPHERESIS)

    def evaluate(self, case: Case) -> Outcome:
        material = case.starting_material
        inputs = {"starting_material": material}
        if material is None:
            return MISSING, "Starting material not recorded.", inputs
        if material == "fresh":
            return PASS, "Fresh leukapheresis: keep at 2–8 °C before shipping.", inputs
        months = case.cryopreserved_months
        inputs["product"] = case.product
        inputs["cryopreserved_months"] = as_written(months)
        limit = self.limits["cryopreserved_max_months"]
        limit_months = count(self.values["cryopreserved_max_months"], "month")
        product = self.ruleset.products.get(case.product) if case.product is not None else None
        if product is not None and not product.accepts_cryopreserved:
            return DEFER, (f"{product.name} does not accept cryopreserved starting material: collect fresh "
                           "material."), inputs
        if months is not None and months > limit:
            return DEFER, (f"Cryopreserved material is {count(months, 'month')} old, more than {limit_months}: "
                           "collect fresh material."), inputs
        if product is None:
            return MISSING, "Cryopreserved material: record the product to know whether it is accepted.", inputs
        if months is None:
            return MISSING, "Cryopreserved material: record its age in months.", inputs
        return PASS, (f"Cryopreserved material {count(months, 'month')} old, within {limit_months}, accepted by "
                      f"{product.name}."), inputs


class Lymphodepletion(Rule):
    """Planned lymphodepleting regimen (rule 19)."""

    code = "lymphodepletion"
    reads = ("lymphodepletion",)
    phase = PRE_LYMPHODEPLETION
    title = "Lymphodepletion regimen"
    source = cite((GUIDELINE, "Lymphodepletion Chemotherapy"))

    def evaluate(self, case: Case) -> Outcome:
        regimen = case.lymphodepletion
        inputs = {"lymphodepletion": regimen}
        if regimen is None:
            return MISSING, "Lymphodepletion regimen not recorded.", inputs
        if regimen == "flu_cy":
            return PASS, "Fludarabine + cyclophosphamide planned.", inputs
        planned = "No lymphodepletion planned" if regimen == "none" else f"Planned: {LYMPHODEPLETION[regimen]}"
        return FLAG, (f"{planned}. Omitting fludarabine gives inferior outcomes in B-ALL and more CAR-T "
                      "rejection."), inputs


#: Each organ of rule 20 and the numeric rule that judges it instead when enabled (criteria-v2 6.1).
ORGAN_RULES = {"cardiac": "cardiac_function", "pulmonary": "pulmonary_function", "hepatic": "hepatic_function",
               "renal": "renal_function"}
JUDGED_ELSEWHERE = ("Does not apply: hepatic, renal, cardiac and pulmonary function are judged by rules 31-34.")


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


class OrganFunction(Rule):
    """Cardiac, pulmonary, hepatic and renal assessments before conditioning (rule 20); an organ
    whose numeric rule (31-34) the rule set enables is judged there, not here (criteria-v2 6.1)."""

    code = "organ_function"
    reads = tuple(f"organ_function.{organ}" for organ in ("cardiac", "pulmonary", "hepatic", "renal"))
    phase = PRE_LYMPHODEPLETION
    title = "Organ function"
    source = cite((BALTALEUCEL, "Pre-treatment Tests"), (GUIDELINE, "Lymphodepletion Chemotherapy"))
    ORGANS = ("cardiac", "pulmonary", "hepatic", "renal")

    def __init__(self, ruleset=None, **thresholds):
        super().__init__(ruleset, **thresholds)
        #: The organs this rule judges: those whose numeric rule is not enabled.
        self.organs = tuple(organ for organ in self.ORGANS if ORGAN_RULES[organ] not in self.ruleset.enabled_rules)

    def key_function(self):
        if not self.organs:
            return lambda case: None  # judged elsewhere: one result for every case
        return attrgetter(*(f"organ_function.{organ}" for organ in self.organs))

    def evaluate(self, case: Case) -> Outcome:
        if not self.organs:
            return PASS, JUDGED_ELSEWHERE, {}
        organs = case.organ_function
        results = {organ: getattr(organs, organ) for organ in self.organs}
        inputs = {f"organ_function.{organ}": result for organ, result in results.items()}
        pending = [organ for organ, result in results.items() if result is None or result == "not_done"]
        abnormal = [organ for organ, result in results.items() if result == "abnormal"]
        if pending:
            also = f" Abnormal: {', '.join(abnormal)}." if abnormal else ""
            return MISSING, f"Assessment not done or not recorded: {', '.join(pending)}.{also}", inputs
        if abnormal:
            return FLAG, (f"Abnormal: {', '.join(abnormal)}. Can the patient tolerate conditioning "
                          "chemotherapy?"), inputs
        judged = _joined(list(self.organs))
        return PASS, f"{judged[:1].upper()}{judged[1:]} assessments " + ORGAN_RESULT["normal"] + ".", inputs


CORRECTED_DOSING = "corrected tocilizumab dosing"


class Tocilizumab(Rule):
    """Tocilizumab on site for CRS (rule 21); with the optional group "corrected tocilizumab dosing"
    the dose text gives the low-weight dose and the limits per 24 hours and in total (criteria-v2 6.1)."""

    code = "tocilizumab"
    reads = ("tocilizumab_doses_available", "weight_kg")
    phase = PRE_INFUSION
    title = "Tocilizumab available"
    source = cite((GUIDELINE, "Cytokine Release Syndrome (CRS)"), (BALTALEUCEL, "Management Strategies"))
    CORRECTED_SOURCE = cite(("Santomasso et al., J Clin Oncol 2021 (ASCO guideline)", "CRS management table"),
                            ("Kymriah US prescribing information", "tocilizumab dosing"))

    def __init__(self, ruleset=None, **thresholds):
        super().__init__(ruleset, **thresholds)
        self.corrected = self.holds_group(CORRECTED_DOSING)
        if self.corrected:
            self.source = f"{type(self).source}; {self.CORRECTED_SOURCE}"

    def evaluate(self, case: Case) -> Outcome:
        doses, weight = case.tocilizumab_doses_available, case.weight_kg
        inputs = {"tocilizumab_doses_available": doses, "weight_kg": as_written(weight)}
        needed, needed_text = self.limits["tocilizumab_min_doses"], self.texts["tocilizumab_min_doses"]
        if doses is not None and doses < needed:
            return DEFER, (f"{count(doses, 'dose')} of tocilizumab on site; at least {needed_text} "
                           f"{'is' if needed == 1 else 'are'} needed."), inputs
        if doses is None or weight is None:
            absent = [name for name, value in (("tocilizumab doses on site", doses), ("weight", weight))
                      if value is None]
            return MISSING, f"Not recorded: {' and '.join(absent)}.", inputs
        if self.corrected:
            return PASS, self._corrected_dosing(doses, weight), inputs
        cap = self.limits["tocilizumab_max_dose_mg"]
        by_weight = round(self.limits["tocilizumab_mg_per_kg"] * weight, 1)  # mg, to 0.1 mg
        dose = min(by_weight, cap)
        texts = self.texts
        capped = f" (capped at {texts['tocilizumab_max_dose_mg']} mg)" if by_weight > cap else ""
        return PASS, (f"{count(doses, 'dose')} on site (at least {needed_text}). Dose "
                      f"{texts['tocilizumab_mg_per_kg']} mg/kg × {plain(weight)} kg = {plain(dose)} mg{capped}, "
                      f"repeatable every {texts['tocilizumab_interval_hours']} h up to "
                      f"{count(self.values['tocilizumab_max_doses'], 'dose')}."), inputs

    def _corrected_dosing(self, doses: int, weight: float) -> str:
        """The pass reason of the corrected dosing: the weight, as recorded, picks the dose per kg;
        the dose is computed in decimal arithmetic to 0.1 mg (half-up) and capped."""
        values, texts = self.values, self.texts
        exact_weight = to_decimal(weight)
        low_weight = exact_weight < values["tocilizumab_low_weight_below_kg"]
        per_kg = "tocilizumab_low_weight_mg_per_kg" if low_weight else "tocilizumab_mg_per_kg"
        by_weight = (values[per_kg] * exact_weight).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        cap = values["tocilizumab_max_dose_mg"]
        below = f" (below {texts['tocilizumab_low_weight_below_kg']} kg)" if low_weight else ""
        capped = f", capped at {texts['tocilizumab_max_dose_mg']} mg a dose" if by_weight > cap else ""
        return (f"{count(doses, 'dose')} on site (at least {texts['tocilizumab_min_doses']}). Dose "
                f"{texts[per_kg]} mg/kg{below} × {plain(weight)} kg = {plain(by_weight)} mg{capped}, IV over 1 "
                f"hour; repeat no sooner than every {texts['tocilizumab_interval_hours']} h if there is no "
                f"improvement, at most {count(values['tocilizumab_max_doses'], 'dose')} in 24 h and "
                f"{count(values['tocilizumab_max_doses_total'], 'dose')} in total.")


class Caregiver(Rule):
    """Full-time caregiver after infusion (rule 22)."""

    code = "caregiver"
    reads = ("caregiver_confirmed",)
    phase = PRE_INFUSION
    title = "Caregiver"
    source = cite((BALTALEUCEL, "Do's and Don'ts"))

    def evaluate(self, case: Case) -> Outcome:
        confirmed = case.caregiver_confirmed
        inputs = {"caregiver_confirmed": confirmed}
        days = count(self.values["caregiver_days"], "day")
        if confirmed:
            return PASS, f"Full-time caregiver arranged for the first {days}.", inputs
        if confirmed is False:
            return DEFER, f"No full-time caregiver for the first {days}: arrange one before infusion.", inputs
        return MISSING, f"Caregiver for the first {days} not recorded.", inputs


class Proximity(Rule):
    """Lodging within reach of the treatment centre (rule 23)."""

    code = "proximity"
    reads = ("travel_time_minutes",)
    phase = PRE_INFUSION
    title = "Proximity to the treatment centre"
    source = cite((BALTALEUCEL, "Precautions During Treatment"), (GUIDELINE, "Monitoring Protocol"),
                  (PATIENT_GUIDE, "after the infusion"))

    def evaluate(self, case: Case) -> Outcome:
        minutes = case.travel_time_minutes
        inputs = {"travel_time_minutes": as_written(minutes)}
        limit = self.limits["proximity_max_minutes"]
        limit_minutes = count(self.values["proximity_max_minutes"], "minute")
        weeks = count(self.values["proximity_stay_weeks"], "week")
        if minutes is None:
            return MISSING, "Travel time from lodging to the centre not recorded.", inputs
        if minutes <= limit:
            return PASS, (f"{count(minutes, 'minute')} from the centre, within {limit_minutes}: stay there for "
                          f"{weeks} after infusion."), inputs
        return DEFER, (f"{count(minutes, 'minute')} from the centre, more than {limit_minutes}: arrange lodging "
                       f"within {limit_minutes} for {weeks} after infusion."), inputs


class DrivingCounselled(Rule):
    """Driving restriction explained (rule 24)."""

    code = "driving_counselled"
    reads = ("driving_counselled", "driving_counselled_weeks")
    phase = PRE_INFUSION
    title = "Driving restriction counselled"
    source = cite((BALTALEUCEL, "Do's and Don'ts"), (GUIDELINE, "Monitoring Protocol"))

    def evaluate(self, case: Case) -> Outcome:
        counselled, told = case.driving_counselled, case.driving_counselled_weeks
        inputs: dict = {"driving_counselled": counselled}
        if told is not None:
            inputs["driving_counselled_weeks"] = as_written(told)
        weeks = self.limits["driving_restriction_weeks"]
        weeks_text = count(self.values["driving_restriction_weeks"], "week")
        restriction = f"no driving or hazardous activities for {weeks_text} after infusion"
        if counselled and (told is None or told == weeks):
            return PASS, f"Counselled: {restriction}.", inputs
        if counselled:
            # The record says what was explained; the restriction in force differs: never read the
            # new figure into an old answer.
            return MISSING, (f"Counselled for {count(told, 'week')} when recorded; the restriction in force is "
                             f"{weeks_text}: explain it ({restriction}) and confirm."), inputs
        if counselled is False:
            return MISSING, f"Recorded as not done: explain the restriction ({restriction}) and record it.", inputs
        return MISSING, f"Explain the restriction ({restriction}) and record it.", inputs


class Fever(Rule):
    """No fever on the day (rule 25).

    Dated mode (criteria-v2 6.1), when the rule set holds "dated fever": the temperature must be
    current (3.2: the date of ``measured_at``, anchor ``infusion_date``, window
    ``fever_max_days_before_infusion``), else it is missing.
    """

    code = "fever"
    reads = ("temperature",)
    phase = PRE_INFUSION
    title = "Fever"
    source = cite((BALTALEUCEL, "Do's and Don'ts"))

    def __init__(self, ruleset=None, **thresholds):
        super().__init__(ruleset, **thresholds)
        self.dated = self.holds_group("dated fever")
        if self.dated:
            self.reads = ("temperature", "infusion_date", "evaluation_date")

    def key_function(self):
        if not self.dated:
            return super().key_function()

        def key(case: Case):
            # ``measured_at`` is quoted as written: 08:00 and 08:00:00 are equal times, not equal inputs.
            temperature = case.temperature
            if temperature is None:
                return None, case.infusion_date, case.evaluation_date
            measured_at = temperature.measured_at
            return (temperature.value, temperature.unit, measured_at.text if measured_at is not None else None,
                    case.infusion_date, case.evaluation_date)
        return key

    def evaluate(self, case: Case) -> Outcome:
        temperature = case.temperature
        if self.dated:
            return self._evaluate_dated(case, temperature)
        if temperature is None:
            return MISSING, "Temperature on the day not recorded.", {"temperature": None}
        inputs = {"temperature": {"value": as_written(temperature.value), "unit": temperature.unit}}
        return *self._judge(temperature), inputs

    def _given(self, temperature) -> str:
        given = measure(temperature.value, temperature.unit)
        if temperature.unit != "C":
            given += f" = {measure(temperature.in_celsius(), 'C')}"
        return given

    def _judge(self, temperature) -> tuple[str, str]:
        """Version 1's finding for a recorded (and, in dated mode, current) temperature."""
        celsius = temperature.in_celsius()
        limit, limit_celsius = self.limits["fever_c"], measure(self.values["fever_c"], "C")
        given = self._given(temperature)
        if celsius >= limit:
            return DEFER, f"Temperature {given} is at or above {limit_celsius}: fever, defer infusion."
        return PASS, f"Temperature {given} is below {limit_celsius}."

    def _evaluate_dated(self, case: Case, temperature) -> Outcome:
        infusion = case.infusion_date
        measured_at = temperature.measured_at if temperature is not None else None
        inputs = {
            "temperature": None if temperature is None else {
                "value": as_written(temperature.value), "unit": temperature.unit,
                "measured_at": measured_at.text if measured_at is not None else None},
            "infusion_date": infusion.isoformat() if infusion is not None else None,
        }
        if temperature is None:
            return MISSING, "Temperature on the day not recorded.", inputs
        window = window_of(self, "fever_max_days_before_infusion")
        measured_on = measured_at.date() if measured_at is not None else None
        why = not_current(measured_on, infusion, "infusion_date", window, case.evaluation_date)
        if why is not None:
            return MISSING, f"Temperature {self._given(temperature)}: {why}.", inputs
        status, reason = self._judge(temperature)
        return status, f"{reason} {measured_on_note((measured_on,), 'infusion_date', infusion, window)}", inputs


class SiteAccreditation(Rule):
    """FACT-JACIE accreditation of the treating site (rule 26)."""

    code = "site_accreditation"
    reads = ("site_fact_accredited",)
    phase = PRE_INFUSION
    title = "Site accreditation"
    source = cite((GUIDELINE, "Accreditation Requirements"))

    def evaluate(self, case: Case) -> Outcome:
        accredited = case.site_fact_accredited
        inputs = {"site_fact_accredited": accredited}
        if accredited:
            return PASS, "The site holds FACT-JACIE accreditation.", inputs
        if accredited is False:
            return FLAG, "The site does not hold FACT-JACIE accreditation, which is recommended.", inputs
        return MISSING, "FACT-JACIE accreditation of the site not recorded.", inputs


RULES = (
    Alc, InfectiousMarkers, StartingMaterial, Lymphodepletion, OrganFunction,
    Tocilizumab, Caregiver, Proximity, DrivingCounselled, Fever, SiteAccreditation,
)
