"""The rules engine: pure Python, no Django. Cases in, flagged checklists out.

This module is the engine's public interface: code outside ``eligibility.rules`` imports from here,
never from its submodules (``tests/project/test_layout.py`` checks it).

>>> from eligibility.rules import Engine, default_ruleset
>>> engine = Engine(default_ruleset())
>>> checklist = engine.evaluate(engine.parse({"stage": "screening", "ecog": 1}))
>>> checklist.overall, checklist.items[0].code, checklist.items[0].status
('incomplete', 'indication', 'missing')
"""

from .aftercare import PERIODS as AFTERCARE_PERIODS
from .aftercare import AftercarePeriod, after_infusion, period_days
from .arithmetic import native, plain, round_half_up
from .base import Rule
from .case import (
    MEASUREMENT_RANGES,
    TEMPERATURE_RANGES,
    TREATMENT_DATES,
    AlcUnit,
    Case,
    CaseValidationError,
    ChronicGvhd,
    Diagnosis,
    DrugClass,
    FirstLineResponse,
    LocalDateTime,
    SarsCov2Result,
    Sex,
    WashoutStatus,
    case_as_dict,
    case_as_json,
    case_date_errors,
    case_field_types,
    cockcroft_gault,
    error_model,
    parse_case,
    parse_case_json,
)
from .catalogue import CATALOGUE, CATALOGUE_BY_CODE, VERSION_1_RULES, CatalogueEntry, in_catalogue_order
from .checklist import Checklist, ChecklistItem, checklist_items, dumps
from .dated import not_current
from .engine import RULE_CLASSES, RULE_CODES, Engine
from .freshness import ANCHOR_WORDS, DATED_ITEMS, DatedItem, Expiry, expiries
from .presets import PRESETS, Preset, PresetDraft, PresetEntry, PresetRule, PresetValue, draft_from_preset, entry_text
from .report import checklist_text, errors_text
from .rulesetfile import (
    RuleSetFile,
    RuleSetFileError,
    ruleset_error_list,
    ruleset_from_file,
    ruleset_to_file,
    ruleset_with_settings,
)
from .statuses import (
    BLOCKING,
    DEFAULT_STAGE,
    DEFER,
    EXCLUDE,
    FLAG,
    MISSING,
    OVERALL_LABELS,
    PASS,
    PENDING,
    PHASE_LABELS,
    PHASE_ORDER,
    PHASES,
    PRE_APHERESIS,
    PRE_INFUSION,
    PRE_LYMPHODEPLETION,
    SCREENING,
    STATUS_LABELS,
    STATUSES,
    overall_result,
)
from .synthetic import add_criteria_v2_keys, synthetic_case, synthetic_cases
from .thresholds import (
    DEFAULT_PRODUCTS,
    DEFAULT_THRESHOLDS,
    OPTIONAL_GROUPS,
    RETIRED_THRESHOLDS,
    THRESHOLDS,
    THRESHOLDS_BY_KEY,
    VERSION_1_THRESHOLDS,
    IndicationEntry,
    Pathway,
    ProductSpec,
    RuleSetData,
    ThresholdSpec,
    default_ruleset,
    indication_as_dict,
    indication_from_dict,
    pathway_as_dict,
    pathway_from_dict,
    threshold_set_errors,
)
from .validation import (
    PRODUCT_CODES,
    group_add,
    group_remove,
    groups_held,
    product_errors,
    rules_disable,
    rules_enable,
    ruleset_errors,
)
from .vocabulary import (
    ANTIGEN_STATUS,
    CHOICES,
    CHRONIC_GVHD,
    DIAGNOSIS,
    DISEASE_STATUS,
    DRUG_CLASS,
    FIRST_LINE_RESPONSE,
    INFECTION_STATE,
    LABELS,
    LYMPHODEPLETION,
    MRD,
    ORGAN_RESULT,
    SARS_COV_2,
    SEROLOGY,
    SEX,
    STAGE,
    STARTING_MATERIAL,
    UNITS,
    WASHOUT_STATUS,
    count,
    measure,
    unit_symbol,
)

__all__ = [
    # the case
    "Case", "CaseValidationError", "Diagnosis", "AlcUnit", "TEMPERATURE_RANGES", "case_as_dict", "case_as_json",
    "case_field_types",
    "error_model",
    "parse_case", "parse_case_json",
    # the case, criteria-v2: new enums, measurement ranges, date-times, treatment-date order, Cockcroft-Gault
    "Sex", "DrugClass", "FirstLineResponse", "ChronicGvhd", "WashoutStatus", "SarsCov2Result", "LocalDateTime",
    "MEASUREMENT_RANGES", "TREATMENT_DATES", "cockcroft_gault", "case_date_errors",
    # the engine, its rules and its checklists
    "Engine", "RULE_CLASSES", "RULE_CODES", "Rule", "Checklist", "ChecklistItem", "checklist_items", "dumps",
    # current values (criteria-v2 3.2): why a dated value does not count, in the checklist's words
    "not_current",
    # after day 0 (issue 14): the periods after the infusion; freshness (criteria.md 17): what expires
    "AFTERCARE_PERIODS", "AftercarePeriod", "after_infusion", "period_days",
    "ANCHOR_WORDS", "DATED_ITEMS", "DatedItem", "Expiry", "expiries",
    # statuses, phases, stages and overall results
    "PASS", "FLAG", "MISSING", "DEFER", "EXCLUDE", "PENDING", "STATUSES", "BLOCKING", "STATUS_LABELS",
    "SCREENING", "PRE_APHERESIS", "PRE_LYMPHODEPLETION", "PRE_INFUSION", "PHASES", "PHASE_ORDER", "PHASE_LABELS",
    "DEFAULT_STAGE", "OVERALL_LABELS", "overall_result",
    # rule-set data: thresholds and products
    "ThresholdSpec", "THRESHOLDS", "THRESHOLDS_BY_KEY", "VERSION_1_THRESHOLDS", "OPTIONAL_GROUPS", "RETIRED_THRESHOLDS",
    "DEFAULT_THRESHOLDS", "threshold_set_errors",
    "ProductSpec", "IndicationEntry", "Pathway", "indication_as_dict", "indication_from_dict", "pathway_as_dict",
    "pathway_from_dict", "DEFAULT_PRODUCTS", "RuleSetData", "default_ruleset",
    # what a rule set may hold, and the edits that keep it so (criteria-v2 2.2, 2.3, 5.4)
    "ruleset_errors", "product_errors", "PRODUCT_CODES", "rules_enable", "rules_disable", "group_add", "group_remove",
    "groups_held",
    # presets (criteria-v2 2.4, 7) and rule-set files (2.6)
    "PRESETS", "Preset", "PresetRule", "PresetValue", "PresetEntry", "PresetDraft", "draft_from_preset", "entry_text",
    "RuleSetFile", "RuleSetFileError", "ruleset_to_file", "ruleset_from_file", "ruleset_with_settings",
    "ruleset_error_list",
    # the rule catalogue: which rules exist, in which order; which version 1 enables
    "CATALOGUE", "CATALOGUE_BY_CODE", "CatalogueEntry", "VERSION_1_RULES", "in_catalogue_order",
    # words for the case format: its keys, its choices, its units and counts
    "LABELS", "CHOICES", "ANTIGEN_STATUS", "DIAGNOSIS", "DISEASE_STATUS", "INFECTION_STATE", "LYMPHODEPLETION",
    "MRD", "ORGAN_RESULT", "SEROLOGY", "STAGE", "STARTING_MATERIAL", "UNITS", "unit_symbol", "measure", "count",
    "SEX", "DRUG_CLASS", "FIRST_LINE_RESPONSE", "CHRONIC_GVHD", "WASHOUT_STATUS", "SARS_COV_2",
    # numbers, text output, synthetic cases
    "native", "plain", "round_half_up", "checklist_text", "errors_text", "synthetic_case", "synthetic_cases",
    "add_criteria_v2_keys",
]
