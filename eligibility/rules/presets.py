"""Presets (criteria-v2 sections 2.4 and 7): read-only definitions, versioned with the code, of the
rules to enable and disable, the thresholds and optional groups to set, and the indication entries
to set, each with its citation.

A preset is never a rule set by itself: :func:`draft_from_preset` applies one on top of a base
version (the active one, for a draft) and gives the draft's data, its change note (every change
with its citation, one a line) and the thresholds left "to be entered".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from .arithmetic import plain
from .catalogue import CATALOGUE_BY_CODE
from .thresholds import THRESHOLDS_BY_KEY, IndicationEntry, Pathway, RuleSetData
from .validation import rules_disable, rules_enable
from .vocabulary import DIAGNOSIS, DISEASE_STATUS, DRUG_CLASS, FIRST_LINE_RESPONSE

#: A preset's value for a threshold that has no reference value: the administrator enters it
#: (the base version's value is kept where it holds one).
TO_BE_ENTERED = None


@dataclass(frozen=True)
class PresetRule:
    """A rule a preset enables or disables, and why."""

    code: str
    citation: str


@dataclass(frozen=True)
class PresetValue:
    """A threshold a preset sets: a value, or ``TO_BE_ENTERED``."""

    key: str
    value: Decimal | None
    citation: str


@dataclass(frozen=True)
class PresetEntry:
    """An indication entry a preset sets for a product (it replaces the entry for that diagnosis)."""

    product: str
    entry: IndicationEntry
    citation: str


@dataclass(frozen=True)
class Preset:
    """One preset of criteria-v2 section 7."""

    code: str
    title: str
    enable: tuple[PresetRule, ...] = ()
    disable: tuple[PresetRule, ...] = ()
    #: Thresholds, those of the optional groups it holds included (each group whole).
    thresholds: tuple[PresetValue, ...] = ()
    entries: tuple[PresetEntry, ...] = ()


@dataclass(frozen=True)
class PresetDraft:
    """What a preset makes of a base version: the draft's data (``version`` ``None``), its change
    note, and the thresholds it holds without a value (sorted keys)."""

    ruleset: RuleSetData
    change_note: str
    to_be_entered: list[str]


# --- Section 8: the titles to cite -------------------------------------------------------------------
KYMRIAH_USPI = "Kymriah US prescribing information"
YESCARTA_2L = "FDA approval of Yescarta for second-line LBCL, April 2022"
BREYANZI_2L = "FDA approval of Breyanzi for second-line LBCL, 24 June 2022"
BREYANZI_CLL = "FDA approval of Breyanzi for CLL/SLL, 14 March 2024"
BREYANZI_MCL = "FDA approval of Breyanzi for MCL, 30 May 2024"
BREYANZI_MZL = "FDA approval of Breyanzi for MZL, 4 December 2025"
CARVYKTI_ABECMA = "FDA approvals of Carvykti and Abecma, April 2024"
AUCATZYL = "FDA approval of Aucatzyl, 8 November 2024"
PRODUCT_TABLE = "research report, product table (US)"

NO_REFERENCE_VALUE = "no reference value found (criteria-v2 10, Q19)"
GRECO_T1 = "Greco 2024 (R1) Table 1 [V2]"
GRECO_T6 = "Greco 2024 (R1) Table 6 [V2]"
TOCILIZUMAB_CITATION = ("Santomasso 2021 (R6) CRS table [V]; Exp Hematol Oncol 2020 (R8) Table 2 [V]; "
                        "Kymriah USPI (R7) [V2]")

# --- 7.1: common to both presets ----------------------------------------------------------------------
COMMON_THRESHOLDS = (
    PresetValue("alc_max_age_days", TO_BE_ENTERED, f"dated ALC (rule 16): {NO_REFERENCE_VALUE}"),
    PresetValue("markers_max_days_after_collection", Decimal(0),
                "dated markers (rule 17): CAR-T Cell Therapy: Overview and Clinical Applications (001) - "
                "Pre-Leukapheresis Requirements (30 days; results available on the day of shipment)"),
    PresetValue("fever_max_days_before_infusion", Decimal(0),
                'dated fever (rule 25): criteria.md 3 ("on the day of assessment"); Baltaleucel-T drug overview '
                "(000) (38 C)"),
    PresetValue("tocilizumab_max_doses_total", Decimal(4), f"corrected tocilizumab dosing (rule 21): "
                                                           f"{TOCILIZUMAB_CITATION}"),
    PresetValue("tocilizumab_low_weight_below_kg", Decimal(30), f"corrected tocilizumab dosing (rule 21): "
                                                                f"{TOCILIZUMAB_CITATION}"),
    PresetValue("tocilizumab_low_weight_mg_per_kg", Decimal(12), f"corrected tocilizumab dosing (rule 21): "
                                                                 f"{TOCILIZUMAB_CITATION}"),
)


def _entry(product: str, diagnosis: str, source: str, citation: str, *pathways: Pathway,
           min_age: int | None = None, max_age: int | None = None) -> PresetEntry:
    return PresetEntry(product, IndicationEntry(
        diagnosis=diagnosis, pathways=pathways, source=source,
        min_age_years=None if min_age is None else Decimal(min_age),
        max_age_years=None if max_age is None else Decimal(max_age)), citation)


SECOND_LINE_EARLY = Pathway(label="second line: refractory to first-line therapy or relapse within 12 months",
                            min_prior_lines=1,
                            first_line_response_in=frozenset({"refractory", "relapse_within_12_months"}))
AT_LEAST_2_LINES = Pathway(label="at least 2 prior lines", min_prior_lines=2)
TWO_LINES = Pathway(min_prior_lines=2)

# --- 7.2: "US labels (June 2025)" ----------------------------------------------------------------------
US_LABELS = Preset(
    code="us_labels_2025_06",
    title="US labels (June 2025)",
    thresholds=COMMON_THRESHOLDS + (
        PresetValue("proximity_stay_weeks", Decimal(2),
                    'FDA Safety Communication, 26 June 2025 (R9): labels require monitoring "for at least two '
                    'weeks" [V]; ARM press release, 27 June 2025 (R10): proximity 4 -> 2 weeks [V]; openFDA labels '
                    '(R11): Kymriah, Breyanzi "REMS (5.3) Removed 6/2025" [V]'),
        PresetValue("driving_restriction_weeks", Decimal(2),
                    "ARM press release, 27 June 2025 (R10): driving 8 -> 2 weeks [V]; openFDA Abecma label (R11): "
                    '"Effects on Ability to Drive ... (5.11) Removed 6/2025" [V]'),
    ),
    entries=(
        _entry("tisagenlecleucel", "b_all", KYMRIAH_USPI,
               "Kymriah USPI via clinicaladvisor (R7) [V2]; age 25: 002 and R7 [V2]",
               Pathway(label="refractory disease", disease_status_in=frozenset({"refractory"})),
               Pathway(label="second or later relapse", disease_status_in=frozenset({"relapsed"}),
                       min_relapse_number=2),
               max_age=25),
        _entry("tisagenlecleucel", "lbcl", KYMRIAH_USPI, "Kymriah USPI (R7) [V2]", TWO_LINES),
        _entry("tisagenlecleucel", "fl", KYMRIAH_USPI, "Kymriah USPI (R7) [V2]", TWO_LINES),
        _entry("axicabtagene_ciloleucel", "lbcl", YESCARTA_2L,
               "FDA approval, April 2022 (R12) [V]; report product table (R23) [V]",
               AT_LEAST_2_LINES, SECOND_LINE_EARLY),
        _entry("axicabtagene_ciloleucel", "fl", PRODUCT_TABLE,
               "report product table (R23) [V] (accelerated approval, 2021)", TWO_LINES),
        _entry("lisocabtagene_maraleucel", "lbcl", BREYANZI_2L, "FDA approval, 24 June 2022 (R13) [V]",
               AT_LEAST_2_LINES, SECOND_LINE_EARLY,
               Pathway(label="second line: relapse after first-line therapy, not eligible for HSCT (age or "
                             "comorbidity)", min_prior_lines=1,
                       first_line_response_in=frozenset({"relapse_within_12_months", "relapse_after_12_months"}),
                       transplant_ineligible=True)),
        _entry("lisocabtagene_maraleucel", "fl", PRODUCT_TABLE, "report product table (R23) [V]", TWO_LINES),
        _entry("lisocabtagene_maraleucel", "mcl", BREYANZI_MCL, "FDA approval, 30 May 2024 (R15) [V]",
               Pathway(min_prior_lines=2, required_drug_classes=frozenset({"btk_inhibitor"}))),
        _entry("lisocabtagene_maraleucel", "cll", BREYANZI_CLL, "FDA accelerated approval, 14 March 2024 (R14) [V]",
               Pathway(min_prior_lines=2, required_drug_classes=frozenset({"btk_inhibitor", "bcl2_inhibitor"}))),
        _entry("lisocabtagene_maraleucel", "mzl", BREYANZI_MZL, "FDA approval, 4 December 2025 (R16) [V]",
               TWO_LINES),
        _entry("brexucabtagene_autoleucel", "b_all", PRODUCT_TABLE,
               "report (R23): adult B-ALL, US adults [V]", Pathway(), min_age=18),
        _entry("obecabtagene_autoleucel", "b_all", AUCATZYL,
               "FDA approval, 8 November 2024, no REMS (R18) [V]", Pathway(), min_age=18),
        _entry("idecabtagene_vicleucel", "mm", CARVYKTI_ABECMA, "FDA approval, April 2024 (R17) [V]",
               Pathway(min_prior_lines=2,
                       required_drug_classes=frozenset({"imid", "proteasome_inhibitor", "anti_cd38"}))),
        _entry("ciltacabtagene_autoleucel", "mm", CARVYKTI_ABECMA, "FDA approval, April 2024 (R17) [V]",
               Pathway(min_prior_lines=1, required_drug_classes=frozenset({"proteasome_inhibitor", "imid"}),
                       lenalidomide_refractory=True)),
    ),
)

# --- 7.3: "EBMT/EHA best practice" ------------------------------------------------------------------------
EBMT_EHA = Preset(
    code="ebmt_eha",
    title="EBMT/EHA best practice",
    enable=(
        PresetRule("cns_involvement", f"{GRECO_T1}, EBMT/EHA recommendations column"),
        PresetRule("active_gvhd", "Yakoub-Agha 2020 (R2) Table 1 [V]"),
        PresetRule("sars_cov_2", f"{GRECO_T1}, EBMT/EHA recommendations column"),
        PresetRule("hepatic_function", f"{GRECO_T1}, EBMT/EHA recommendations column"),
        PresetRule("pulmonary_function", f"{GRECO_T6}, EBMT/EHA recommendations column"),
        PresetRule("product_on_site", f"{GRECO_T6}, EBMT/EHA recommendations column"),
        PresetRule("car_hematotox", "Rejeski 2021 (R3) [V]; EHA/EBMT ICAHT table (R4) [V]"),
    ),
    thresholds=COMMON_THRESHOLDS + (
        PresetValue("gvhd_acute_defer_from_grade", Decimal(2), "Yakoub-Agha 2020 (R2) Table 1 [V]"),
        PresetValue("pre_lymphodepletion_tests_max_days", TO_BE_ENTERED, NO_REFERENCE_VALUE),
        PresetValue("bilirubin_max_umol_l", Decimal(34), GRECO_T1),
        PresetValue("bilirubin_gilbert_max_umol_l", Decimal(43), GRECO_T1),
        PresetValue("transaminases_flag_x_uln", Decimal(4), GRECO_T1),
        PresetValue("spo2_room_air_min_pct", Decimal(92), GRECO_T6),
        PresetValue("hematotox_high_risk_from", Decimal(2), "Rejeski 2021 (R3) [V]"),
        PresetValue("gcsf_ug_per_kg", Decimal(5), "EHA/EBMT ICAHT table (R4) [V]"),
        PresetValue("gcsf_from_day", Decimal(2), "EHA/EBMT ICAHT table (R4) [V]"),
    ),
)

#: Every preset by its code (a public command-line value, criteria-v2 2.6).
PRESETS: dict[str, Preset] = {preset.code: preset for preset in (US_LABELS, EBMT_EHA)}


def _value_text(key: str, value: Decimal | None) -> str:
    if value is None:
        return "to be entered"
    unit = THRESHOLDS_BY_KEY[key].unit
    if unit in ("day", "grade"):  # a day after infusion, a grade: named before the number
        return f"{unit} {plain(value)}"
    return f"{plain(value)} {unit}".rstrip()


def entry_text(entry: IndicationEntry) -> str:
    """An indication entry in words (its age limits and pathways), for change notes and pages."""
    def pathway_text(pathway: Pathway) -> str:
        conditions = []
        if pathway.min_prior_lines is not None:
            conditions.append(f"at least {pathway.min_prior_lines} prior line{'s' * (pathway.min_prior_lines != 1)}")
        if pathway.required_drug_classes:
            conditions.append("prior " + " and ".join(
                DRUG_CLASS[code] for code in DRUG_CLASS if code in pathway.required_drug_classes))
        if pathway.first_line_response_in is not None:
            conditions.append("first-line response " + " or ".join(
                FIRST_LINE_RESPONSE[code] for code in FIRST_LINE_RESPONSE if code in pathway.first_line_response_in))
        if pathway.disease_status_in is not None:
            conditions.append("disease " + " or ".join(
                DISEASE_STATUS[code] for code in DISEASE_STATUS if code in pathway.disease_status_in))
        if pathway.min_relapse_number is not None:
            conditions.append(f"at least {pathway.min_relapse_number} relapses")
        if pathway.transplant_ineligible:
            conditions.append("not eligible for HSCT")
        if pathway.lenalidomide_refractory:
            conditions.append("refractory to lenalidomide")
        text = ", ".join(conditions) or "no minimum"
        return f'"{pathway.label}": {text}' if pathway.label else text

    ages = []
    if entry.min_age_years is not None:
        ages.append(f"age at least {plain(entry.min_age_years)}")
    if entry.max_age_years is not None:
        ages.append(f"age at most {plain(entry.max_age_years)}")
    pathways = "; ".join(pathway_text(pathway) for pathway in entry.pathways)
    if len(entry.pathways) > 1:
        pathways = f"any of: {pathways}"
    cited = [f'cited as "{entry.source}"'] if entry.source else []
    return "; ".join([*ages, pathways, *cited])


def draft_from_preset(base: RuleSetData, code: str) -> PresetDraft:
    """The draft ``PRESETS[code]`` makes on top of ``base`` (criteria-v2 2.4).

    ``enabled_rules`` = the base's, plus the preset's enabled codes, minus its disabled ones
    (enabling adds the rules' thresholds at their defaults); the preset's thresholds override, but
    a key it leaves "to be entered" keeps the base's value where the base holds one; its indication
    entries replace the base's entries of the same product and diagnosis, or are added (a product
    the base's catalogue does not hold is not added). Everything else stays as in ``base``.
    Raises ``KeyError`` for an unknown code."""
    preset = PRESETS[code]
    lines = [f'Drafted from the preset "{preset.title}" on top of version {base.version} ({base.name}).']
    data = rules_enable(base, [rule.code for rule in preset.enable])
    data = rules_disable(data, [rule.code for rule in preset.disable])
    for rule in preset.enable:
        if rule.code not in base.enabled_rules:
            lines.append(f"Rule enabled: {CATALOGUE_BY_CODE[rule.code].title} ({rule.code}). Source: {rule.citation}")
    for rule in preset.disable:
        if rule.code in base.enabled_rules:
            lines.append(f"Rule disabled: {CATALOGUE_BY_CODE[rule.code].title} ({rule.code}). "
                         f"Source: {rule.citation}")
    thresholds = dict(data.thresholds)
    added_by_rules = set(thresholds) - set(base.thresholds)
    for setting in preset.thresholds:
        value = setting.value
        if value is TO_BE_ENTERED and base.thresholds.get(setting.key) is not None:
            value = base.thresholds[setting.key]
        thresholds[setting.key] = value
    for key in in_threshold_order(set(thresholds) | set(base.thresholds)):
        before, after = base.thresholds.get(key), thresholds.get(key)
        if key in base.thresholds and key in thresholds and before == after:
            continue
        citation = next((setting.citation for setting in preset.thresholds if setting.key == key), None)
        if citation is None and key in added_by_rules:
            citation = f"catalogue default ({THRESHOLDS_BY_KEY[key].default_source})"
        was = _value_text(key, before) if key in base.thresholds else "not held"
        lines.append(f"{THRESHOLDS_BY_KEY[key].label} ({key}): {was} -> {_value_text(key, after)}. "
                     f"Source: {citation}")
    products = dict(data.products)
    for setting in preset.entries:
        product = products.get(setting.product)
        if product is None:
            lines.append(f"Not set: the indication of {setting.product} for {DIAGNOSIS[setting.entry.diagnosis]} "
                         f"(the product is not in the catalogue of version {base.version}).")
            continue
        old = product.indication(setting.entry.diagnosis)
        if old == setting.entry:
            continue
        entries = [entry for entry in product.indications if entry.diagnosis != setting.entry.diagnosis]
        entries.append(setting.entry)
        products[setting.product] = replace(product, indications=tuple(sorted(entries, key=lambda e: e.diagnosis)))
        was = "new" if old is None else entry_text(old)
        lines.append(f"{product.name} for {DIAGNOSIS[setting.entry.diagnosis]}: {was} -> "
                     f"{entry_text(setting.entry)}. Source: {setting.citation}")
    ruleset = replace(data, name=f"{preset.title} (from version {base.version})", version=None,
                      thresholds=thresholds, products=products)
    return PresetDraft(ruleset=ruleset, change_note="\n".join(lines),
                       to_be_entered=sorted(key for key, value in thresholds.items() if value is None))


def in_threshold_order(keys) -> list[str]:
    """Known threshold ``keys`` in the order of the threshold table (others, sorted, after them)."""
    order = {key: index for index, key in enumerate(THRESHOLDS_BY_KEY)}
    return sorted(keys, key=lambda key: (order.get(key, len(order)), key))
