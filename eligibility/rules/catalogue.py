"""The rule catalogue (criteria-v2 section 2.1): every rule's number, code, phase and title.

A rule-set version enables a set of these codes; only enabled rules appear in a checklist, once
each, in catalogue order: by phase, then by rule number. This table is data (no rule logic), so
that a user interface can list rules that a version does not enable.
"""

from __future__ import annotations

from dataclasses import dataclass

from .statuses import PHASE_ORDER, PRE_APHERESIS, PRE_INFUSION, PRE_LYMPHODEPLETION, SCREENING


@dataclass(frozen=True)
class CatalogueEntry:
    """One rule of the catalogue."""

    number: int
    code: str
    phase: str
    title: str


_ENTRIES = (
    (1, "indication", SCREENING, "Indication"),
    (2, "target_antigen", SCREENING, "Target antigen"),
    (3, "prior_targeted_therapy", SCREENING, "Prior bispecific or CAR-T therapy"),
    (4, "prior_inotuzumab", SCREENING, "Prior inotuzumab ozogamicin"),
    (5, "age", SCREENING, "Age"),
    (6, "performance_status", SCREENING, "Performance status"),
    (7, "life_expectancy", SCREENING, "Life expectancy"),
    (8, "prior_allo_hsct", SCREENING, "Prior allogeneic HSCT"),
    (9, "bacterial_infection", SCREENING, "Bacterial infection"),
    (10, "fungal_infection", SCREENING, "Fungal infection"),
    (11, "viral_infection", SCREENING, "Viral infection"),
    (12, "hbv", SCREENING, "Hepatitis B"),
    (13, "hcv", SCREENING, "Hepatitis C"),
    (14, "hiv", SCREENING, "HIV"),
    (15, "disease_burden", SCREENING, "Disease burden (B-ALL)"),
    (16, "alc", PRE_APHERESIS, "Absolute lymphocyte count"),
    (17, "infectious_markers", PRE_APHERESIS, "Infectious-disease markers"),
    (18, "starting_material", PRE_APHERESIS, "Starting material"),
    (19, "lymphodepletion", PRE_LYMPHODEPLETION, "Lymphodepletion regimen"),
    (20, "organ_function", PRE_LYMPHODEPLETION, "Organ function"),
    (21, "tocilizumab", PRE_INFUSION, "Tocilizumab available"),
    (22, "caregiver", PRE_INFUSION, "Caregiver"),
    (23, "proximity", PRE_INFUSION, "Proximity to the treatment centre"),
    (24, "driving_counselled", PRE_INFUSION, "Driving restriction counselled"),
    (25, "fever", PRE_INFUSION, "Fever"),
    (26, "site_accreditation", PRE_INFUSION, "Site accreditation"),
    (27, "cns_involvement", SCREENING, "CNS involvement"),
    (28, "active_gvhd", SCREENING, "Active GvHD after allogeneic HSCT"),
    (29, "washout", PRE_APHERESIS, "Washout before leukapheresis"),
    (30, "sars_cov_2", PRE_LYMPHODEPLETION, "SARS-CoV-2 PCR"),
    (31, "hepatic_function", PRE_LYMPHODEPLETION, "Hepatic function (laboratory values)"),
    (32, "renal_function", PRE_LYMPHODEPLETION, "Renal function (creatinine clearance)"),
    (33, "cardiac_function", PRE_LYMPHODEPLETION, "Cardiac function (LVEF)"),
    (34, "pulmonary_function", PRE_LYMPHODEPLETION, "Pulmonary function (SpO2 on room air)"),
    (35, "product_on_site", PRE_LYMPHODEPLETION, "Product on site before lymphodepletion"),
    (36, "car_hematotox", PRE_LYMPHODEPLETION, "CAR-HEMATOTOX score"),
    (37, "easix", PRE_LYMPHODEPLETION, "EASIX (risk marker)"),
)

#: Every rule in catalogue order (phase, then number): 1-15, 27, 28, 16-18, 29, 19, 20, 30-37, 21-26.
CATALOGUE: tuple[CatalogueEntry, ...] = tuple(sorted(
    (CatalogueEntry(*entry) for entry in _ENTRIES), key=lambda entry: (PHASE_ORDER[entry.phase], entry.number)))
CATALOGUE_BY_CODE: dict[str, CatalogueEntry] = {entry.code: entry for entry in CATALOGUE}
#: Each code's position in the catalogue order.
CATALOGUE_POSITION: dict[str, int] = {entry.code: index for index, entry in enumerate(CATALOGUE)}
#: The rules version 1 enables: the 26 of criteria.md section 6.
VERSION_1_RULES: frozenset[str] = frozenset(entry.code for entry in CATALOGUE if entry.number <= 26)


def in_catalogue_order(codes) -> list[str]:
    """``codes`` (known codes) in catalogue order."""
    return sorted(codes, key=CATALOGUE_POSITION.__getitem__)
