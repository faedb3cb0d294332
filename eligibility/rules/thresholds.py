"""Rule data: every administrator-editable threshold and the product catalogue.

Logic lives in the rule classes; the numbers they compare against live here as data (criteria.md
sections 5 and 6). ``THRESHOLDS`` describes each value (label, unit, kind, allowed range, the rule
that reads it) so that a user interface can edit and validate it without knowing the rules.
The defaults are those of the source documents; the database holds the versioned copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .arithmetic import plain
from .catalogue import VERSION_1_RULES

# Kinds of threshold value: how an administrator's entry is validated.
COUNT = "count"  # a whole number
DECIMAL = "decimal"  # any number in range
PERCENT = "percent"  # a number 0-100


@dataclass(frozen=True)
class ThresholdSpec:
    """Describes one editable threshold: what it means and which values are allowed."""

    key: str
    label: str
    unit: str
    kind: str
    #: The catalogue default (a cited value), or ``None``: added "to be entered" (criteria-v2 2.3).
    default: Decimal | None
    minimum: Decimal
    maximum: Decimal
    #: The rule that reads it (the first, where several do).
    rule: str
    help_text: str = ""
    #: Further rules that read it (``pre_lymphodepletion_tests_max_days``: rules 30-34, 36, 37).
    extra_rules: tuple[str, ...] = ()
    #: The optional group it belongs to (criteria-v2 2.3: e.g. "dated ALC"), or ``None`` when it is
    #: required while one of its rules is enabled.
    group: str | None = None
    #: Where the default comes from (the citation shown beside it).
    default_source: str = ""

    @property
    def rules(self) -> tuple[str, ...]:
        """Every rule that reads this threshold."""
        return (self.rule, *self.extra_rules)

    def validation_errors(self, value: Decimal) -> list[str]:
        """Why ``value`` is not allowed for this threshold (empty when it is)."""
        errors = []
        if not value.is_finite():
            return ["must be a finite number"]
        if self.kind == COUNT and value != value.to_integral_value():
            errors.append("must be a whole number")
        if value < self.minimum or value > self.maximum:
            errors.append(f"must be between {plain(self.minimum)} and {plain(self.maximum)} {self.unit}".rstrip())
        return errors


def _spec(key, label, unit, kind, default, minimum, maximum, rule, help_text="", **more):
    return ThresholdSpec(
        key, label, unit, kind, None if default is None else Decimal(default), Decimal(minimum), Decimal(maximum),
        rule, help_text, **more)


THRESHOLDS: tuple[ThresholdSpec, ...] = (
    _spec("infant_age_years", "Infant age (flag below)", "years", DECIMAL, "1", "0", "18", "age",
          "Cell collection can be limiting in infants."),
    _spec("ecog_below", "ECOG must be below", "", COUNT, "2", "1", "6", "performance_status"),
    _spec("karnofsky_above", "Karnofsky must be above", "%", PERCENT, "60", "0", "100", "performance_status"),
    _spec("lansky_above", "Lansky must be above", "%", PERCENT, "60", "0", "100", "performance_status"),
    _spec("life_expectancy_exclude_weeks", "Life expectancy: exclude at or below", "weeks", DECIMAL,
          "6", "0", "104", "life_expectancy"),
    _spec("life_expectancy_flag_weeks", "Life expectancy: flag at or below", "weeks", DECIMAL,
          "8", "0", "104", "life_expectancy"),
    _spec("marrow_blasts_flag_pct", "Marrow blasts: flag above", "%", PERCENT, "5", "0", "100", "disease_burden"),
    _spec("alc_min_1e9_per_l", "Minimum ALC before leukapheresis", "x10^9/L", DECIMAL,
          "0.2", "0", "10", "alc"),
    _spec("markers_window_days", "Infectious-marker window before leukapheresis", "days", COUNT,
          "30", "0", "365", "infectious_markers"),
    _spec("cryopreserved_max_months", "Maximum age of cryopreserved starting material", "months", DECIMAL,
          "30", "0", "240", "starting_material"),
    _spec("tocilizumab_min_doses", "Tocilizumab doses on site (at least)", "doses", COUNT,
          "2", "1", "10", "tocilizumab"),
    _spec("tocilizumab_mg_per_kg", "Tocilizumab dose per kg", "mg/kg", DECIMAL, "8", "0.1", "20", "tocilizumab"),
    _spec("tocilizumab_max_dose_mg", "Tocilizumab maximum single dose", "mg", DECIMAL,
          "800", "1", "2000", "tocilizumab"),
    _spec("tocilizumab_interval_hours", "Tocilizumab repeat interval", "hours", COUNT, "8", "1", "72", "tocilizumab"),
    _spec("tocilizumab_max_doses", "Tocilizumab maximum number of doses", "doses", COUNT,
          "3", "1", "10", "tocilizumab"),
    _spec("caregiver_days", "Full-time caregiver after infusion", "days", COUNT, "30", "0", "365", "caregiver"),
    _spec("proximity_max_minutes", "Maximum travel time to the centre", "minutes", DECIMAL,
          "60", "0", "1440", "proximity"),
    _spec("proximity_stay_weeks", "Stay near the centre after infusion", "weeks", DECIMAL,
          "4", "0", "52", "proximity"),
    _spec("driving_restriction_weeks", "No driving after infusion", "weeks", DECIMAL,
          "8", "0", "52", "driving_counselled"),
    _spec("fever_c", "Fever: defer at or above", "C", DECIMAL, "38.0", "35", "42", "fever"),
    # --- criteria-v2 section 2.3: optional groups of version-1 rules, and the thresholds of rules 27-37 ---
    _spec("alc_max_age_days", "ALC counts when measured at most this long before leukapheresis", "days", COUNT,
          None, "0", "365", "alc", group="dated ALC", default_source="none found (criteria-v2 10, Q19)"),
    _spec("markers_max_days_after_collection", "Markers drawn at most this long after the leukapheresis date count",
          "days", COUNT, "0", "0", "30", "infectious_markers", group="dated markers",
          default_source="001 Pre-Leukapheresis Requirements: results available on the day of shipment"),
    _spec("fever_max_days_before_infusion", "Temperature counts when measured at most this long before infusion",
          "days", COUNT, "0", "0", "7", "fever", group="dated fever",
          default_source="criteria.md 3: temperature on the day of assessment"),
    _spec("tocilizumab_max_doses_total", "Tocilizumab maximum number of doses in total", "doses", COUNT,
          "4", "1", "10", "tocilizumab", group="corrected tocilizumab dosing",
          default_source="Santomasso 2021 (R6) CRS table; Kymriah USPI (R7)"),
    _spec("tocilizumab_low_weight_below_kg", "Tocilizumab low-weight dose below", "kg", DECIMAL,
          "30", "1", "350", "tocilizumab", group="corrected tocilizumab dosing", default_source="Kymriah USPI (R7)"),
    _spec("tocilizumab_low_weight_mg_per_kg", "Tocilizumab dose per kg below that weight", "mg/kg", DECIMAL,
          "12", "0.1", "20", "tocilizumab", group="corrected tocilizumab dosing", default_source="Kymriah USPI (R7)"),
    _spec("gvhd_acute_defer_from_grade", "Acute GvHD: defer from grade", "grade", COUNT, "2", "1", "4",
          "active_gvhd", default_source="Yakoub-Agha 2020 (R2) Table 1"),
    _spec("washout_corticosteroids_hours", "Last systemic corticosteroid dose at least this long before "
          "leukapheresis", "hours", COUNT, "72", "0", "2160", "washout", default_source="ASH table (R5)"),
    _spec("washout_chemotherapy_days", "Last cytotoxic chemotherapy at least this long before leukapheresis",
          "days", COUNT, "14", "0", "365", "washout", default_source="ASH table (R5): 2 weeks"),
    _spec("pre_lymphodepletion_tests_max_days", "Tests count when measured at most this long before "
          "lymphodepletion starts", "days", COUNT, None, "0", "365", "sars_cov_2",
          extra_rules=("hepatic_function", "renal_function", "cardiac_function", "pulmonary_function",
                       "car_hematotox", "easix"),
          default_source="none found (criteria-v2 10, Q19)"),
    _spec("bilirubin_max_umol_l", "Total bilirubin must be below", "umol/L", DECIMAL, "34", "1", "1000",
          "hepatic_function", default_source="Greco 2024 (R1) Table 1"),
    _spec("bilirubin_gilbert_max_umol_l", "With Gilbert's syndrome, bilirubin must be below", "umol/L", DECIMAL,
          "43", "1", "1000", "hepatic_function", default_source="Greco 2024 (R1) Table 1"),
    _spec("transaminases_flag_x_uln", "AST or ALT: flag at or above", "x ULN", DECIMAL, "4", "1", "100",
          "hepatic_function", default_source="Greco 2024 (R1) Table 1"),
    _spec("fludarabine_reduce_below_crcl_ml_min", "Creatinine clearance below which the fludarabine dose is "
          "reduced", "mL/min", DECIMAL, None, "1", "200", "renal_function",
          default_source="cut-off not verified (criteria-v2 10, Q2)"),
    _spec("lvef_flag_at_or_below_pct", "LVEF: flag at or below", "%", PERCENT, "40", "0", "100", "cardiac_function",
          default_source="Alfred Health (R19), institutional"),
    _spec("spo2_room_air_min_pct", "SpO2 on room air must be at least", "%", PERCENT, "92", "50", "100",
          "pulmonary_function", default_source="Greco 2024 (R1) Table 6"),
    _spec("hematotox_high_risk_from", "CAR-HEMATOTOX: high risk from", "points", COUNT, "2", "1", "7",
          "car_hematotox", default_source="Rejeski 2021 (R3)"),
    _spec("gcsf_ug_per_kg", "G-CSF dose when the risk is high", "ug/kg", DECIMAL, "5", "0.1", "50", "car_hematotox",
          default_source="EHA/EBMT ICAHT table (R4)"),
    _spec("gcsf_from_day", "G-CSF from this day after infusion", "day", COUNT, "2", "0", "30", "car_hematotox",
          default_source="EHA/EBMT ICAHT table (R4)"),
)

THRESHOLDS_BY_KEY: dict[str, ThresholdSpec] = {spec.key: spec for spec in THRESHOLDS}
#: Keys that earlier releases held and that retired (criteria-v2 2.3): their values moved into the
#: products' indication entries (5.2); no rule set holds them any more.
RETIRED_THRESHOLDS = ("min_prior_lines_lbcl", "min_prior_lines_fl", "min_prior_lines_mcl", "min_prior_lines_cll",
                      "min_prior_lines_mm")
#: The thresholds version 1 holds: the required thresholds of its 26 rules, no optional group.
VERSION_1_THRESHOLDS: tuple[ThresholdSpec, ...] = tuple(
    spec for spec in THRESHOLDS if spec.rule in VERSION_1_RULES and spec.group is None)
#: Version 1's values (the source documents').
DEFAULT_THRESHOLDS: dict[str, Decimal] = {spec.key: spec.default for spec in VERSION_1_THRESHOLDS}
#: The optional groups (criteria-v2 section 2.3): each switches an extension of a version-1 rule
#: on when the rule set holds every one of its thresholds.
OPTIONAL_GROUPS: dict[str, tuple[str, ...]] = {}
for _spec_of_group in THRESHOLDS:
    if _spec_of_group.group is not None:
        OPTIONAL_GROUPS.setdefault(_spec_of_group.group, ())
        OPTIONAL_GROUPS[_spec_of_group.group] += (_spec_of_group.key,)
del _spec_of_group

#: (lower, upper) pairs that must stay strictly ordered.
ORDERED_PAIRS = (
    ("life_expectancy_exclude_weeks", "life_expectancy_flag_weeks"),
    ("tocilizumab_min_doses", "tocilizumab_max_doses"),
)


def threshold_set_errors(values: Mapping[str, Decimal]) -> dict[str, list[str]]:
    """Validate a complete set of thresholds: each value's range and the ordered pairs."""
    errors: dict[str, list[str]] = {}
    for key in DEFAULT_THRESHOLDS.keys() - values.keys():
        errors[key] = ["is required"]
    for key, value in values.items():
        spec = THRESHOLDS_BY_KEY.get(key)
        problems = ["is not a known threshold"] if spec is None else spec.validation_errors(value)
        if problems:
            errors[key] = problems
    for lower, upper in ORDERED_PAIRS:
        if lower in values and upper in values and not values[lower] < values[upper]:
            label = THRESHOLDS_BY_KEY[upper].label
            errors.setdefault(lower, []).append(f"must be below '{label}' ({plain(values[upper])})")
    return errors


@dataclass(frozen=True)
class Pathway:
    """One way a product's indication for a diagnosis can be met (criteria-v2 section 5.1): every
    condition it sets must hold; ``None`` (or empty, false) sets none."""

    label: str = ""
    min_prior_lines: int | None = None
    required_drug_classes: frozenset[str] = frozenset()
    first_line_response_in: frozenset[str] | None = None
    disease_status_in: frozenset[str] | None = None
    min_relapse_number: int | None = None
    transplant_ineligible: bool = False
    lenalidomide_refractory: bool = False


@dataclass(frozen=True)
class IndicationEntry:
    """A product's indication for one diagnosis (criteria-v2 section 5.1): its age limits and its
    pathways (alternatives: any one met suffices), with the citation appended to the item's source."""

    diagnosis: str
    pathways: tuple[Pathway, ...]
    min_age_years: Decimal | None = None
    max_age_years: Decimal | None = None
    source: str = ""


@dataclass(frozen=True)
class ProductSpec:
    """One cell-therapy product of the catalogue (criteria.md section 5) with its indication
    entries (criteria-v2 section 5): the diagnoses it is indicated for, each with its age limits
    and pathways."""

    code: str
    name: str
    target: str
    accepts_cryopreserved: bool = False
    investigational: bool = False
    #: Its indication entries (criteria-v2 section 5), one per diagnosis, ordered by diagnosis.
    indications: tuple[IndicationEntry, ...] = ()

    @property
    def diagnoses(self) -> frozenset[str]:
        """The diagnoses of its entries."""
        return frozenset(entry.diagnosis for entry in self.indications)

    def indication(self, diagnosis: str | None) -> IndicationEntry | None:
        """Its entry for ``diagnosis``, if it has one."""
        return next((entry for entry in self.indications if entry.diagnosis == diagnosis), None)


_PATHWAY_SETS = ("required_drug_classes", "first_line_response_in", "disease_status_in")


def pathway_as_dict(pathway: Pathway) -> dict:
    """A pathway as the JSON object of a rule-set file (criteria-v2 2.6): every field, sets sorted."""
    def value(name):
        found = getattr(pathway, name)
        return sorted(found) if name in _PATHWAY_SETS and found is not None else found
    return {name: value(name) for name in ("label", "min_prior_lines", "required_drug_classes",
                                           "first_line_response_in", "disease_status_in", "min_relapse_number",
                                           "transplant_ineligible", "lenalidomide_refractory")}


def pathway_from_dict(data: Mapping) -> Pathway:
    """A pathway from its JSON object (``pathway_as_dict`` read back; validated elsewhere)."""
    def as_set(name):
        found = data.get(name)
        return None if found is None else frozenset(found)
    return Pathway(label=data.get("label") or "", min_prior_lines=data.get("min_prior_lines"),
                   required_drug_classes=frozenset(data.get("required_drug_classes") or ()),
                   first_line_response_in=as_set("first_line_response_in"),
                   disease_status_in=as_set("disease_status_in"), min_relapse_number=data.get("min_relapse_number"),
                   transplant_ineligible=bool(data.get("transplant_ineligible")),
                   lenalidomide_refractory=bool(data.get("lenalidomide_refractory")))


def indication_as_dict(entry: IndicationEntry) -> dict:
    """An indication entry as the JSON object of a rule-set file (criteria-v2 2.6), ages as numbers."""
    def age(value):
        return None if value is None else (int(value) if value == value.to_integral_value() else float(value))
    return {"diagnosis": entry.diagnosis, "min_age_years": age(entry.min_age_years),
            "max_age_years": age(entry.max_age_years), "source": entry.source,
            "pathways": [pathway_as_dict(pathway) for pathway in entry.pathways]}


def indication_from_dict(data: Mapping) -> IndicationEntry:
    """An indication entry from its JSON object (``indication_as_dict`` read back)."""
    def age(value):
        return None if value is None else Decimal(str(value))
    return IndicationEntry(diagnosis=data["diagnosis"], min_age_years=age(data.get("min_age_years")),
                           max_age_years=age(data.get("max_age_years")), source=data.get("source") or "",
                           pathways=tuple(pathway_from_dict(pathway) for pathway in data["pathways"]))


#: Version 1's minimum prior lines by diagnosis (criteria.md section 5; criteria-v2 5.2 moved them
#: from the thresholds into each product's entries).
VERSION_1_MIN_PRIOR_LINES = {"lbcl": 2, "fl": 2, "mcl": 1, "cll": 1, "mm": 1}


def _version_1_entries(diagnoses, ages=None):
    """A product's entries as criteria-v2 5.2 migrates version 1: one pathway per diagnosis with
    that diagnosis's minimum prior lines (none for the others); ``ages``: diagnosis -> (min, max)."""
    ages = ages or {}
    return tuple(
        IndicationEntry(diagnosis=diagnosis, min_age_years=ages.get(diagnosis, (None, None))[0],
                        max_age_years=ages.get(diagnosis, (None, None))[1],
                        pathways=(Pathway(min_prior_lines=VERSION_1_MIN_PRIOR_LINES.get(diagnosis)),))
        for diagnosis in sorted(diagnoses))


DEFAULT_PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec("tisagenlecleucel", "Kymriah", "CD19", accepts_cryopreserved=True,
                indications=_version_1_entries({"b_all", "lbcl", "fl"}, {"b_all": (None, Decimal(25))})),
    ProductSpec("axicabtagene_ciloleucel", "Yescarta", "CD19", indications=_version_1_entries({"lbcl", "fl"})),
    ProductSpec("lisocabtagene_maraleucel", "Breyanzi", "CD19",
                indications=_version_1_entries({"lbcl", "fl", "mcl", "cll"})),
    ProductSpec("brexucabtagene_autoleucel", "Tecartus", "CD19", indications=_version_1_entries({"mcl", "b_all"})),
    ProductSpec("obecabtagene_autoleucel", "Aucatzyl", "CD19", indications=_version_1_entries({"b_all"})),
    ProductSpec("idecabtagene_vicleucel", "Abecma", "BCMA", indications=_version_1_entries({"mm"})),
    ProductSpec("ciltacabtagene_autoleucel", "Carvykti", "BCMA", indications=_version_1_entries({"mm"})),
    ProductSpec("inaticabtagene_autoleucel", "CNCT19", "CD19",
                indications=_version_1_entries({"b_all"}, {"b_all": (Decimal(18), None)})),
    ProductSpec("baltaleucel_t", "Baltaleucel-T (CMD-003)", "EBV", investigational=True,
                indications=_version_1_entries({"ebv_lymphoma", "ptld", "npc"})),
)


@dataclass(frozen=True)
class RuleSetData:
    """A rule set as plain values: what the engine needs, loaded once per evaluation or batch.

    ``thresholds`` holds the thresholds the rule set holds (a key absent is not held; ``None`` is
    "to be entered", allowed in a draft only); ``enabled_rules`` the codes of the rules it runs.
    """

    name: str
    version: int | None
    thresholds: Mapping[str, Decimal | None]
    products: Mapping[str, ProductSpec]
    enabled_rules: frozenset[str] = VERSION_1_RULES


DEFAULT_RULESET_NAME = "Default (source documents)"


def default_ruleset() -> RuleSetData:
    """Version 1 as the source documents give it (the database's migration creates the same)."""
    return RuleSetData(
        name=DEFAULT_RULESET_NAME,
        version=1,
        thresholds=dict(DEFAULT_THRESHOLDS),
        products={product.code: product for product in DEFAULT_PRODUCTS},
    )
