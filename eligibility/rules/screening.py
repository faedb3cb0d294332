"""Screening rules (criteria.md section 6, rules 1-15)."""

from __future__ import annotations

from operator import attrgetter

from .arithmetic import as_written, plain, to_decimal
from .base import Outcome, Rule, label, worst, yes_no
from .case import Case
from .sources import BALTALEUCEL, BLINATUMOMAB, GUIDELINE, LEUKEMIA_PAGE, PATIENT_GUIDE, cite
from .statuses import DEFER, EXCLUDE, FLAG, MISSING, PASS, SCREENING
from .thresholds import IndicationEntry, Pathway, RuleSetData
from .vocabulary import DIAGNOSIS, DISEASE_STATUS, DRUG_CLASS, FIRST_LINE_RESPONSE, INFECTION_STATE, count

ELIGIBILITY = (GUIDELINE, "Patient Eligibility and Selection")
INFECTION_MANAGEMENT = (GUIDELINE, "Infection Management")
RELAPSED_OR_REFRACTORY = ("relapsed", "refractory")


def _hashable(value):
    """A case value as part of a cache key: a list or tuple (``prior_drug_classes``) as the set it means."""
    return frozenset(value) if isinstance(value, list | tuple) else value


#: The case keys the pathways of an indication entry may read beyond version 1's, in the order of
#: the item's ``inputs`` (criteria-v2 6.1 rule 1).
PATHWAY_KEYS = ("prior_drug_classes", "first_line_response", "relapse_number", "transplant_eligible",
                "lenalidomide_refractory")
MET, NOT_MET, NOT_RECORDED = "met", "not met", "not recorded"


def _pathway_keys(entry: IndicationEntry) -> tuple[str, ...]:
    """The keys of ``PATHWAY_KEYS`` the entry's pathways read, in that order."""
    read = set()
    for pathway in entry.pathways:
        if pathway.required_drug_classes:
            read.add("prior_drug_classes")
        if pathway.first_line_response_in is not None:
            read.add("first_line_response")
        if pathway.min_relapse_number is not None:
            read.add("relapse_number")
        if pathway.transplant_ineligible:
            read.add("transplant_eligible")
        if pathway.lenalidomide_refractory:
            read.add("lenalidomide_refractory")
    return tuple(key for key in PATHWAY_KEYS if key in read)


def _lines_only(entry: IndicationEntry) -> bool:
    """Whether the entry has one pathway setting at most a minimum of prior lines: version 1's
    entries (criteria-v2 5.2), judged and worded as version 1 judges them."""
    if len(entry.pathways) != 1:
        return False
    pathway = entry.pathways[0]
    return (not pathway.required_drug_classes and pathway.first_line_response_in is None
            and pathway.disease_status_in is None and pathway.min_relapse_number is None
            and not pathway.transplant_ineligible and not pathway.lenalidomide_refractory)


def _either(codes, words) -> str:
    return " or ".join(words[code] for code in sorted(codes, key=list(words).index))


def _conditions(pathway: Pathway, case: Case) -> list[tuple[str, str]]:
    """Each condition ``pathway`` sets, as ``(met | not met | not recorded, text)``: the text says
    what the case records and what the pathway needs."""
    found = []

    def judge(recorded, needs: str, holds) -> None:
        if recorded is None:
            found.append((NOT_RECORDED, f"{needs}: not recorded"))
        else:
            found.append((MET if holds() else NOT_MET, f"{needs}: {recorded}"))

    if pathway.min_prior_lines is not None:
        lines, minimum = case.prior_lines, pathway.min_prior_lines
        judge(None if lines is None else count(lines, "prior line"), f"at least {count(minimum, 'prior line')}",
              lambda: lines >= minimum)
    if pathway.required_drug_classes:
        received = None if case.prior_drug_classes is None else set(case.prior_drug_classes)
        needed = pathway.required_drug_classes
        words = " and ".join(DRUG_CLASS[code] for code in DRUG_CLASS if code in needed)
        recorded = None if received is None else (
            "received " + (", ".join(DRUG_CLASS[code] for code in DRUG_CLASS if code in received) or "none"))
        judge(recorded, f"prior {words}", lambda: needed <= received)
    if pathway.first_line_response_in is not None:
        response = case.first_line_response
        judge(None if response is None else FIRST_LINE_RESPONSE[response],
              f"first-line response {_either(pathway.first_line_response_in, FIRST_LINE_RESPONSE)}",
              lambda: response in pathway.first_line_response_in)
    if pathway.disease_status_in is not None:
        status = case.disease_status
        judge(None if status is None else DISEASE_STATUS[status],
              f"disease {_either(pathway.disease_status_in, DISEASE_STATUS)}",
              lambda: status in pathway.disease_status_in)
    if pathway.min_relapse_number is not None:
        relapses, minimum = case.relapse_number, pathway.min_relapse_number
        judge(None if relapses is None else count(relapses, "relapse"), f"at least {count(minimum, 'relapse')}",
              lambda: relapses >= minimum)
    if pathway.transplant_ineligible:
        eligible = case.transplant_eligible
        judge(None if eligible is None else ("eligible" if eligible else "not eligible"),
              "not eligible for HSCT", lambda: not eligible)
    if pathway.lenalidomide_refractory:
        refractory = case.lenalidomide_refractory
        judge(None if refractory is None else ("refractory" if refractory else "not refractory"),
              "refractory to lenalidomide", lambda: refractory)
    return found


def _pathway_status(conditions: list[tuple[str, str]]) -> str:
    states = {state for state, _ in conditions}
    return EXCLUDE if NOT_MET in states else MISSING if NOT_RECORDED in states else PASS


def _pathway_text(index: int, pathway: Pathway, conditions: list[tuple[str, str]], several: bool) -> str:
    """``pathway 2 "<label>": <condition> (met); <condition>: not recorded``; an entry's single
    pathway without a label is named by its conditions alone."""
    parts = [text if state == NOT_RECORDED else f"{text} ({state})" for state, text in conditions]
    conditions_text = "; ".join(parts) or "no condition"
    if several or pathway.label:
        return f'pathway {index + 1} "{pathway.label}": {conditions_text}'
    return f"conditions: {conditions_text}"


class Indication(Rule):
    """Product, diagnosis and line of therapy (rule 1): the product's indication entry for the
    diagnosis, its age limits and its pathways (criteria-v2 6.1)."""

    code = "indication"
    reads = ("product", "diagnosis", "disease_status", "prior_lines", "age_years", *PATHWAY_KEYS)
    phase = SCREENING
    title = "Indication"
    source = cite(
        (GUIDELINE, "FDA-Approved Indications"),
        (LEUKEMIA_PAGE, "Tisagenlecleucel (Kymriah) and Inaticabtagene autoleucel (CNCT19)"),
        (PATIENT_GUIDE, "approved targets, relapsed or refractory disease"),
        (BALTALEUCEL, "FDA Approval Status"),
    )

    def __init__(self, ruleset: RuleSetData | None = None, **thresholds):
        super().__init__(ruleset, **thresholds)
        #: Per (product, diagnosis) with an entry: whether an age limit applies, and the keys of
        #: ``PATHWAY_KEYS`` its pathways read (what the cache key must hold besides version 1's).
        self._plans = {}
        for code, product in self.ruleset.products.items():
            for entry in product.indications:
                limited = entry.min_age_years is not None or entry.max_age_years is not None
                self._plans[code, entry.diagnosis] = (limited, _pathway_keys(entry))
        self._minimums = {}

    def key_function(self):
        # Age and the keys of PATHWAY_KEYS matter only where the product's entry for the diagnosis
        # reads them: leaving them out elsewhere lets one result serve many cases.
        plans = self._plans
        values = attrgetter("product", "diagnosis", "disease_status", "prior_lines")

        def key(case: Case):
            plan = plans.get((case.product, case.diagnosis))
            if plan is None:
                return (*values(case), None)
            limited, extra = plan
            found = (*values(case), case.age_years if limited else None)
            if extra:
                found += tuple(_hashable(getattr(case, name)) for name in extra)
            return found
        return key

    def catalogue_minimum(self, diagnosis: str) -> int | None:
        """The fewest prior lines any product of this rule set accepts for ``diagnosis`` (criteria-v2
        6.1 rule 1 g): when it has entries for it and every pathway sets a minimum; else ``None``."""
        if diagnosis not in self._minimums:
            minimums = [pathway.min_prior_lines for product in self.ruleset.products.values()
                        for entry in product.indications if entry.diagnosis == diagnosis
                        for pathway in entry.pathways]
            self._minimums[diagnosis] = None if not minimums or None in minimums else min(minimums)
        return self._minimums[diagnosis]

    def evaluate(self, case: Case) -> Outcome:
        product_code, diagnosis = case.product, case.diagnosis
        disease_status, prior_lines = case.disease_status, case.prior_lines
        inputs = {"product": product_code, "diagnosis": diagnosis, "disease_status": disease_status}
        product = self.ruleset.products.get(product_code) if product_code is not None else None
        entry = product.indication(diagnosis) if product is not None and diagnosis is not None else None
        findings = []
        if product_code is None:
            findings.append((MISSING, "Product not recorded."))
        elif product is None:
            findings.append((EXCLUDE, f"Product {product_code} is not in the catalogue of rule set version "
                                      f"{self.ruleset.version}."))
        if diagnosis is None:
            findings.append((MISSING, "Diagnosis not recorded."))
        if disease_status is None:
            findings.append((MISSING, "Disease status not recorded."))
        elif disease_status not in RELAPSED_OR_REFRACTORY:
            findings.append((EXCLUDE, f"Disease status is {DISEASE_STATUS[disease_status]}: CAR-T is used for "
                                      "relapsed or refractory disease, after other lines have failed."))
        if product is not None and diagnosis is not None:
            if entry is None:
                indicated = ", ".join(DIAGNOSIS[code] for code in DIAGNOSIS if code in product.diagnoses)
                findings.append((EXCLUDE, f"{product.name} is not indicated for {DIAGNOSIS[diagnosis]}; it is "
                                          f"indicated for {indicated}."))
            elif entry.min_age_years is not None or entry.max_age_years is not None:
                findings.extend(self._age_limit(case, product, entry, inputs))
        met_by = None
        if entry is not None and not _lines_only(entry):
            met_by = self._pathways(case, product, entry, inputs, findings)
        elif diagnosis is not None:
            minimum = entry.pathways[0].min_prior_lines if entry is not None else self.catalogue_minimum(diagnosis)
            if minimum is not None:
                inputs["prior_lines"] = prior_lines
                if prior_lines is None:
                    findings.append((MISSING, f"Prior lines not recorded: {DIAGNOSIS[diagnosis]} needs at least "
                                              f"{count(minimum, 'prior line')}."))
                elif prior_lines < minimum:
                    findings.append((EXCLUDE, f"{count(prior_lines, 'prior line')} "
                                              f"{'is' if prior_lines == 1 else 'are'} fewer than the {minimum} "
                                              f"required for {DIAGNOSIS[diagnosis]}."))
        source = f"{self.source}; {entry.source}" if entry is not None and entry.source else None
        if findings:
            status, reason = worst(findings)
            return (status, reason, inputs) if source is None else (status, reason, inputs, None, source)
        lines = f" after {count(prior_lines, 'prior line')}" if prior_lines is not None else ""
        summary = f"{product.name} for {DISEASE_STATUS[disease_status]} {DIAGNOSIS[diagnosis]}{lines}"
        pathway = f" Met by {met_by}." if met_by and met_by.startswith("pathway") else (
            f" Met: {met_by.removeprefix('conditions: ')}." if met_by else "")
        if product.investigational:
            status, reason = FLAG, (f"{summary}: {product.name} is investigational, available through "
                                    f"clinical-trial enrolment only.{pathway}")
        else:
            status, reason = PASS, f"{summary} is an approved indication.{pathway}"
        return (status, reason, inputs) if source is None else (status, reason, inputs, None, source)

    def _pathways(self, case, product, entry, inputs, findings) -> str | None:
        """Judge the entry's pathways (alternatives: the better status wins, criteria-v2 6.1 rule 1 f):
        adds a finding unless one is met, and returns the text of the first one met."""
        if any(pathway.min_prior_lines is not None for pathway in entry.pathways):
            inputs["prior_lines"] = case.prior_lines
        for name in _pathway_keys(entry):
            value = getattr(case, name)
            inputs[name] = sorted(set(value)) if name == "prior_drug_classes" and value is not None else value
        several = len(entry.pathways) > 1
        judged = []
        for index, pathway in enumerate(entry.pathways):
            conditions = _conditions(pathway, case)
            status, text = _pathway_status(conditions), _pathway_text(index, pathway, conditions, several)
            if status == PASS:
                return text
            judged.append((status, text))
        status = MISSING if any(found == MISSING for found, _ in judged) else EXCLUDE
        what = "no pathway is met" if several else "the indication's conditions are not met"
        if status == MISSING:
            what += " yet: record what is not recorded"
        findings.append((status, f"{product.name} for {DIAGNOSIS[entry.diagnosis]}: {what}. "
                                 f"{'. '.join(text[:1].upper() + text[1:] for _, text in judged)}."))
        return None

    def _age_limit(self, case, product, entry, inputs):
        age = case.age_years
        inputs["age_years"] = as_written(age)
        limits = []
        if entry.min_age_years is not None:
            limits.append(f"at least {plain(entry.min_age_years)}")
        if entry.max_age_years is not None:
            limits.append(f"at most {plain(entry.max_age_years)}")
        limit_text = f"{product.name} for {DIAGNOSIS[entry.diagnosis]} requires age {' and '.join(limits)}"
        if age is None:
            return [(MISSING, f"Age not recorded: {limit_text}.")]
        exact_age = to_decimal(age)
        if (entry.max_age_years is not None and exact_age > entry.max_age_years) or (
            entry.min_age_years is not None and exact_age < entry.min_age_years
        ):
            return [(EXCLUDE, f"Age {count(age, 'year')}: {limit_text}.")]
        return []


class TargetAntigen(Rule):
    """The product's target on the tumour (rule 2)."""

    code = "target_antigen"
    reads = ("target_antigen_status", "product")
    phase = SCREENING
    title = "Target antigen"
    source = cite(
        (GUIDELINE, "Target Antigens"),
        (LEUKEMIA_PAGE, "antigen testing before therapy"),
        (BALTALEUCEL, "Pre-treatment Tests: EBV testing"),
    )

    def evaluate(self, case: Case) -> Outcome:
        status = case.target_antigen_status
        product = self.ruleset.products.get(case.product) if case.product is not None else None
        target = product.target if product is not None else "the product's target"
        inputs = {"target_antigen_status": status, "product": case.product}
        if status == "positive":
            return PASS, f"Tumour is positive for {target}.", inputs
        if status == "negative":
            return EXCLUDE, f"Tumour is negative for {target}: the product has nothing to recognise.", inputs
        subject = target[:1].upper() + target[1:]  # "The product's target" when no product is recorded
        return MISSING, f"{subject} on the tumour is {label(status)}: test it before therapy.", inputs


class PriorTargetedTherapy(Rule):
    """Prior bispecific antibody or CAR-T: antigen-negative escape must be excluded (rule 3)."""

    code = "prior_targeted_therapy"
    reads = ("prior_bispecific", "prior_car_t", "antigen_retested_after_targeted_therapy")
    phase = SCREENING
    title = "Prior bispecific or CAR-T therapy"
    source = cite((GUIDELINE, "Prior Targeted Therapies"), (BLINATUMOMAB, "bispecific T-cell engager (CD19 x CD3)"))

    def evaluate(self, case: Case) -> Outcome:
        bispecific, car_t = case.prior_bispecific, case.prior_car_t
        retested = case.antigen_retested_after_targeted_therapy
        inputs = {"prior_bispecific": bispecific, "prior_car_t": car_t,
                  "antigen_retested_after_targeted_therapy": retested}
        if bispecific or car_t:
            given = " and ".join(name for name, given in (("bispecific antibody (e.g. blinatumomab)", bispecific),
                                                         ("CAR-T", car_t)) if given)
            if retested:
                return FLAG, (f"Prior {given}: not a contraindication; the target was re-confirmed at relapse, "
                              "so antigen-negative escape is excluded."), inputs
            return DEFER, (f"Prior {given}: re-confirm the target antigen at relapse to exclude antigen-negative "
                           f"escape before proceeding (re-test recorded: {yes_no(retested)})."), inputs
        if bispecific is False and car_t is False:
            return PASS, "No prior bispecific antibody or CAR-T therapy.", inputs
        absent = [name for name, value in (("prior bispecific", bispecific), ("prior CAR-T", car_t)) if value is None]
        return MISSING, f"Not recorded: {' and '.join(absent)}.", inputs


class PriorInotuzumab(Rule):
    """Prior inotuzumab ozogamicin (rule 4)."""

    code = "prior_inotuzumab"
    reads = ("prior_inotuzumab",)
    phase = SCREENING
    title = "Prior inotuzumab ozogamicin"
    source = cite((GUIDELINE, "Prior Targeted Therapies"))

    def evaluate(self, case: Case) -> Outcome:
        given = case.prior_inotuzumab
        inputs = {"prior_inotuzumab": given}
        if given:
            return FLAG, ("Prior inotuzumab ozogamicin: may give inferior CAR-T outcomes through profound B-cell "
                          "depletion."), inputs
        if given is False:
            return PASS, "No prior inotuzumab ozogamicin.", inputs
        return MISSING, "Prior inotuzumab ozogamicin not recorded.", inputs


class Age(Rule):
    """No upper age limit; infants are flagged (rule 5)."""

    code = "age"
    reads = ("age_years",)
    phase = SCREENING
    title = "Age"
    source = cite(ELIGIBILITY)

    def evaluate(self, case: Case) -> Outcome:
        age = case.age_years
        inputs = {"age_years": as_written(age)}
        infant, infant_years = self.limits["infant_age_years"], count(self.values["infant_age_years"], "year")
        if age is None:
            return MISSING, "Age not recorded.", inputs
        if age < infant:
            return FLAG, (f"Age {count(age, 'year')} is below {infant_years}: cell collection can be limiting in "
                          "infants."), inputs
        return PASS, f"Age {count(age, 'year')}: no upper age limit; not below {infant_years}.", inputs


class PerformanceStatus(Rule):
    """ECOG, Karnofsky and Lansky: every recorded scale must meet its threshold (rule 6)."""

    code = "performance_status"
    reads = ("ecog", "karnofsky", "lansky")
    phase = SCREENING
    title = "Performance status"
    source = cite((GUIDELINE, "Patient Eligibility"))

    def evaluate(self, case: Case) -> Outcome:
        ecog, karnofsky, lansky = case.ecog, case.karnofsky, case.lansky
        inputs = {key: value for key, value in (("ecog", ecog), ("karnofsky", karnofsky), ("lansky", lansky))
                  if value is not None}
        if not inputs:
            return MISSING, "No performance status recorded (ECOG, Karnofsky or Lansky).", {
                "ecog": None, "karnofsky": None, "lansky": None}
        parts, failed = [], False
        if ecog is not None:
            limit = self.texts["ecog_below"]
            ok = ecog < self.limits["ecog_below"]
            parts.append(f"ECOG {ecog} is {'below' if ok else 'not below'} {limit}.")
            failed |= not ok
        for name, value, key in (("Karnofsky", karnofsky, "karnofsky_above"), ("Lansky", lansky, "lansky_above")):
            if value is not None:
                ok = value > self.limits[key]
                parts.append(f"{name} {value}% is {'above' if ok else 'not above'} {self.texts[key]}%.")
                failed |= not ok
        return (EXCLUDE if failed else PASS), " ".join(parts), inputs


class LifeExpectancy(Rule):
    """Life expectancy above 6-8 weeks (rule 7)."""

    code = "life_expectancy"
    reads = ("life_expectancy_weeks",)
    phase = SCREENING
    title = "Life expectancy"
    source = cite(ELIGIBILITY)

    def evaluate(self, case: Case) -> Outcome:
        weeks = case.life_expectancy_weeks
        inputs = {"life_expectancy_weeks": as_written(weeks)}
        exclude_at = self.limits["life_expectancy_exclude_weeks"]
        flag_at = self.limits["life_expectancy_flag_weeks"]
        exclude_text = self.texts["life_expectancy_exclude_weeks"]
        flag_text = self.texts["life_expectancy_flag_weeks"]
        if weeks is None:
            return MISSING, "Life expectancy not recorded.", inputs
        if weeks <= exclude_at:
            return EXCLUDE, (f"Life expectancy {count(weeks, 'week')} is at or below "
                             f"{count(self.values['life_expectancy_exclude_weeks'], 'week')}."), inputs
        if weeks <= flag_at:
            return FLAG, (f"Life expectancy {count(weeks, 'week')} is above {exclude_text} but at or below "
                          f"{flag_text} weeks: the recommendation is more than "
                          f"{exclude_text}–{flag_text} weeks."), inputs
        return PASS, (f"Life expectancy {count(weeks, 'week')} is above "
                      f"{count(self.values['life_expectancy_flag_weeks'], 'week')}."), inputs


class PriorAlloHsct(Rule):
    """Prior allogeneic HSCT: not a contraindication off immunosuppression (rule 8)."""

    code = "prior_allo_hsct"
    reads = ("prior_allo_hsct", "on_immunosuppression", "diagnosis")
    phase = SCREENING
    title = "Prior allogeneic HSCT"
    source = cite(ELIGIBILITY)

    def evaluate(self, case: Case) -> Outcome:
        transplant, immunosuppressed = case.prior_allo_hsct, case.on_immunosuppression
        inputs = {"prior_allo_hsct": transplant}
        if transplant is None:
            return MISSING, "Prior allogeneic HSCT not recorded.", inputs
        if not transplant:
            return PASS, "No prior allogeneic HSCT.", inputs
        inputs["on_immunosuppression"] = immunosuppressed
        if immunosuppressed:
            return DEFER, "Prior allogeneic HSCT and still on immunosuppression: must be off it first.", inputs
        if immunosuppressed is None:
            return MISSING, "Prior allogeneic HSCT: record whether the patient is on immunosuppression.", inputs
        inputs["diagnosis"] = case.diagnosis
        if case.diagnosis is None:
            return MISSING, ("Prior allogeneic HSCT, off immunosuppression: record the diagnosis (in B-ALL it may "
                             "increase toxicity)."), inputs
        if case.diagnosis == "b_all":
            return FLAG, "Prior allogeneic HSCT, off immunosuppression: may increase toxicity in B-ALL.", inputs
        return PASS, "Prior allogeneic HSCT, off immunosuppression: not a contraindication.", inputs


class _InfectionRule(Rule):
    """Active infection defers; well controlled on treatment is flagged (rules 9-11)."""

    phase = SCREENING
    source = cite(INFECTION_MANAGEMENT)
    kind: str
    active_reason: str

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.reads = (f"infections.{cls.kind}",)

    def evaluate(self, case: Case) -> Outcome:
        state = getattr(case.infections, self.kind)
        inputs = {f"infections.{self.kind}": state}
        if state == "active":
            return DEFER, f"Active {self.kind} infection: {self.active_reason}", inputs
        if state == "controlled":
            return FLAG, (f"{self.kind.capitalize()} infection well controlled on treatment: "
                          "physician to review."), inputs
        if state is None:
            return MISSING, f"{self.kind.capitalize()} infection status not recorded.", inputs
        return PASS, f"{self.kind.capitalize()} infection: {INFECTION_STATE[state]}.", inputs


class BacterialInfection(_InfectionRule):
    code = "bacterial_infection"
    title = "Bacterial infection"
    kind = "bacterial"
    active_reason = "a contraindication; treat until well controlled before proceeding."


class FungalInfection(_InfectionRule):
    code = "fungal_infection"
    title = "Fungal infection"
    kind = "fungal"
    active_reason = "a contraindication; treat until well controlled before proceeding."


class ViralInfection(_InfectionRule):
    code = "viral_infection"
    title = "Viral infection"
    kind = "viral"
    active_reason = "defer until controlled."


class _SerologyRule(Rule):
    """Latent HBV, HCV or HIV: proceed only with antiviral prophylaxis (rules 12-14)."""

    phase = SCREENING
    source = cite(INFECTION_MANAGEMENT)
    virus: str

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.reads = (f"infections.{cls.virus}", f"infections.{cls.virus}_prophylaxis")

    def evaluate(self, case: Case) -> Outcome:
        infections = case.infections
        result = getattr(infections, self.virus)
        name = self.virus.upper()
        inputs = {f"infections.{self.virus}": result}
        if result == "positive":
            prophylaxis = getattr(infections, f"{self.virus}_prophylaxis")
            inputs[f"infections.{self.virus}_prophylaxis"] = prophylaxis
            if prophylaxis:
                return FLAG, f"{name} positive with antiviral prophylaxis in place.", inputs
            return DEFER, (f"{name} positive without antiviral prophylaxis (recorded: {yes_no(prophylaxis)}): "
                           "prophylactic antiviral treatment is required when proceeding."), inputs
        if result == "negative":
            return PASS, f"{name} negative.", inputs
        return MISSING, f"{name} {label(result)}: test before proceeding.", inputs


class Hbv(_SerologyRule):
    code = "hbv"
    title = "Hepatitis B"
    virus = "hbv"


class Hcv(_SerologyRule):
    code = "hcv"
    title = "Hepatitis C"
    virus = "hcv"


class Hiv(_SerologyRule):
    code = "hiv"
    title = "HIV"
    virus = "hiv"


class DiseaseBurden(Rule):
    """Marrow blasts before CAR-T in B-ALL (rule 15, conditional on B-ALL)."""

    code = "disease_burden"
    reads = ("diagnosis", "marrow_blasts_pct", "mrd")
    phase = SCREENING
    title = "Disease burden (B-ALL)"
    source = cite((GUIDELINE, "Factors Affecting Outcomes: Disease Burden"))

    def evaluate(self, case: Case) -> Outcome:
        diagnosis = case.diagnosis
        inputs = {"diagnosis": diagnosis}
        if diagnosis is None:
            return MISSING, "Diagnosis not recorded: marrow blasts are assessed in B-ALL.", inputs
        if diagnosis != "b_all":
            return PASS, f"Does not apply: diagnosis is {DIAGNOSIS[diagnosis]}, not B-ALL.", inputs
        blasts, mrd = case.marrow_blasts_pct, case.mrd
        inputs["marrow_blasts_pct"] = as_written(blasts)
        inputs["mrd"] = mrd
        limit = self.texts["marrow_blasts_flag_pct"]
        if blasts is None:
            return MISSING, "Bone-marrow blasts not recorded.", inputs
        if blasts > self.limits["marrow_blasts_flag_pct"]:
            return FLAG, (f"Marrow blasts {plain(blasts)}% are above {limit}%: high burden gives inferior survival, "
                          "more toxicity and more CD19-negative relapse."), inputs
        note = " MRD-negative disease has the best outcomes." if mrd == "negative" else ""
        return PASS, f"Marrow blasts {plain(blasts)}% are not above {limit}%.{note}", inputs


RULES = (
    Indication, TargetAntigen, PriorTargetedTherapy, PriorInotuzumab, Age, PerformanceStatus, LifeExpectancy,
    PriorAlloHsct, BacterialInfection, FungalInfection, ViralInfection, Hbv, Hcv, Hiv, DiseaseBurden,
)
