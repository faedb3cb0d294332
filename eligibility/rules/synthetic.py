"""Plausible, varied, reproducible synthetic cases for demos, benchmarks and property tests.

No real patient is behind any of them: values are drawn from a seeded generator around the
thresholds so that every status of every rule occurs.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

from .thresholds import DEFAULT_PRODUCTS

STAGES = ("screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion")


def synthetic_case(rng: random.Random, index: int = 0, *, criteria_v2: bool = False) -> dict[str, Any]:
    """One synthetic case as criteria.md section 3 JSON values; with ``criteria_v2``, about half of the
    cases also carry the keys of criteria-v2 section 4.1 (see :func:`add_criteria_v2_keys`), and the
    version-1 keys of every case stay those drawn without it."""
    product = rng.choice(DEFAULT_PRODUCTS)
    diagnosis = rng.choice(sorted(product.diagnoses)) if rng.random() < 0.95 else rng.choice(["lbcl", "mm", "other"])
    markers = datetime.date(2026, 1, 1) + datetime.timedelta(days=rng.randrange(300))
    case: dict[str, Any] = {
        "case_id": f"synthetic-{index:07d}",
        "stage": rng.choices(STAGES, weights=(2, 1, 1, 4))[0],
        "age_years": round(rng.uniform(0.5, 85), 1) if rng.random() < 0.97 else None,
        "weight_kg": round(rng.uniform(8, 140), 1),
        "diagnosis": diagnosis,
        "disease_status": rng.choices(["relapsed", "refractory", "mrd_positive", "first_line", "remission"],
                                      weights=(10, 10, 1, 1, 1))[0],
        "prior_lines": rng.randrange(0, 6),
        "product": product.code,
        "life_expectancy_weeks": rng.choice([4, 6, 7, 8, 9, 12, 26, 52]),
        "alc": rng.choice([
            {"value": round(rng.uniform(0.05, 2.0), 2), "unit": "10^9/L"},
            {"value": rng.randrange(50, 2000), "unit": "cells/uL"},
        ]),
        "infections": {
            "bacterial": rng.choices(["none", "active", "controlled", "resolved"], weights=(20, 1, 1, 2))[0],
            "fungal": rng.choices(["none", "active", "controlled", "resolved"], weights=(20, 1, 1, 2))[0],
            "viral": rng.choices(["none", "active", "controlled", "resolved"], weights=(20, 1, 1, 2))[0],
            "hbv": rng.choices(["negative", "positive", "not_tested"], weights=(20, 1, 1))[0],
            "hcv": rng.choices(["negative", "positive", "not_tested"], weights=(20, 1, 1))[0],
            "hiv": rng.choices(["negative", "positive", "not_tested"], weights=(20, 1, 1))[0],
            "hbv_prophylaxis": rng.random() < 0.5,
            "markers_tested_on": markers.isoformat(),
        },
        "prior_allo_hsct": rng.random() < 0.15,
        "on_immunosuppression": rng.random() < 0.1,
        "prior_bispecific": rng.random() < 0.2,
        "prior_car_t": rng.random() < 0.05,
        "prior_inotuzumab": rng.random() < 0.05,
        "antigen_retested_after_targeted_therapy": rng.random() < 0.7,
        "target_antigen_status": rng.choices(["positive", "negative", "not_tested"], weights=(20, 1, 1))[0],
        "organ_function": {
            organ: rng.choices(["normal", "abnormal", "not_done"], weights=(20, 1, 1))[0]
            for organ in ("cardiac", "pulmonary", "hepatic", "renal")
        },
        "leukapheresis_date": (markers + datetime.timedelta(days=rng.randrange(0, 45))).isoformat(),
        "starting_material": rng.choices(["fresh", "cryopreserved"], weights=(10, 1))[0],
        "lymphodepletion": rng.choices(["flu_cy", "cy_only", "bendamustine", "other", "none"],
                                       weights=(20, 1, 1, 1, 1))[0],
        "tocilizumab_doses_available": rng.choice([0, 1, 2, 2, 2, 3, 4]),
        "caregiver_confirmed": rng.random() < 0.9,
        "travel_time_minutes": rng.choice([10, 25, 35, 45, 60, 61, 75, 90, 120, 121, 180]),
        "driving_counselled": rng.random() < 0.8,
        "temperature": rng.choice([
            {"value": round(rng.uniform(36.0, 38.6), 1), "unit": "C"},
            {"value": round(rng.uniform(96.8, 101.5), 1), "unit": "F"},
        ]),
        "site_fact_accredited": rng.random() < 0.9,
    }
    # Scales as programmes record them: ECOG for adults, Lansky for children, sometimes Karnofsky too.
    if case["age_years"] is not None and case["age_years"] < 16:
        case["lansky"] = rng.choice([40, 50, 60, 70, 80, 90, 100])
    else:
        case["ecog"] = rng.choices([0, 1, 2, 3], weights=(6, 8, 2, 1))[0]
        if rng.random() < 0.2:
            case["karnofsky"] = rng.choice([50, 60, 70, 80, 90])
    if diagnosis == "b_all":
        case["marrow_blasts_pct"] = rng.choice([0, 1.5, 5, 5.1, 20, 60])
        case["mrd"] = rng.choice(["negative", "positive", "unknown"])
    if case["starting_material"] == "cryopreserved":
        case["cryopreserved_months"] = rng.choice([3, 12, 30, 31, 40])
    # The new keys come from a generator of their own, seeded from this one's state without drawing
    # from it: the version-1 keys of every case, and the cases after it, stay those of earlier releases.
    if criteria_v2:
        extra = random.Random(hash(rng.getstate()))  # noqa: S311 (reproducible synthetic data, not security)
        if extra.random() < 0.5:
            add_criteria_v2_keys(case, extra)
            if extra.random() < 0.05:
                case["diagnosis"] = "mzl"  # the new diagnosis: no version-1 product lists it
    return case


def _day(day: datetime.date) -> str:
    return day.isoformat()


#: Measurement objects as laboratories report them: (key, unit, low, high, decimals), one row per unit.
LAB_UNITS = {
    "bilirubin": [("umol/L", 3, 60, 0), ("mg/dL", 0.2, 3.5, 1)],
    "creatinine": [("umol/L", 40, 250, 0), ("mg/dL", 0.4, 2.8, 2)],
    "creatinine_clearance": [("mL/min", 20, 140, 0)],
    "anc": [("10^9/L", 0.1, 8, 2), ("cells/uL", 100, 8000, 0)],
    "haemoglobin": [("g/dL", 6, 16, 1), ("g/L", 60, 160, 0)],
    "platelets": [("10^9/L", 10, 400, 0), ("10^3/uL", 10, 400, 0)],
    "crp": [("mg/dL", 0.1, 15, 2), ("mg/L", 1, 150, 1)],
    "ferritin": [("ng/mL", 20, 4000, 0), ("ug/L", 20, 4000, 0)],
    "ldh": [("U/L", 120, 900, 0)],
}


def _measurement(rng: random.Random, unit: str, low: float, high: float, places: int,
                 measured_on: datetime.date) -> dict[str, Any]:
    value = round(rng.uniform(low, high), places)
    return {"value": int(value) if places == 0 else value, "unit": unit, "measured_on": _day(measured_on)}


def add_criteria_v2_keys(case: dict[str, Any], rng: random.Random) -> None:
    """Add the keys of criteria-v2 section 4.1 to a synthetic case: treatment dates in order, an
    evaluation date ``as_of``, and observed values (labs with units, washout, GvHD, ...) dated on or
    before it, each key recorded in most cases and left out in some."""
    leukapheresis = datetime.date.fromisoformat(case["leukapheresis_date"])
    lymphodepletion = leukapheresis + datetime.timedelta(days=rng.randrange(14, 36))
    infusion = lymphodepletion + datetime.timedelta(days=rng.randrange(2, 8))
    as_of = leukapheresis + datetime.timedelta(days=rng.randrange(-10, 45))

    def observed(latest: datetime.date, spread: int) -> datetime.date:
        """A date on or before both ``latest`` and ``as_of``, up to ``spread`` days earlier."""
        return min(latest, as_of) - datetime.timedelta(days=rng.randrange(0, spread + 1))

    def sometimes(probability: float = 0.85) -> bool:
        return rng.random() < probability

    case["as_of"] = _day(as_of)
    if sometimes():
        case["lymphodepletion_start_date"] = _day(lymphodepletion)
    if sometimes():
        case["infusion_date"] = _day(infusion)
    extras: dict[str, Any] = {
        "sex": rng.choice(["female", "male"]),
        "prior_drug_classes": rng.sample(
            ["btk_inhibitor", "bcl2_inhibitor", "imid", "proteasome_inhibitor", "anti_cd38"], rng.randrange(0, 4)),
        "first_line_response": rng.choice(["refractory", "relapse_within_12_months", "relapse_after_12_months"]),
        "transplant_eligible": rng.random() < 0.4,
        "relapse_number": rng.randrange(0, 5),
        "lenalidomide_refractory": rng.random() < 0.3,
        "cns_involvement": rng.random() < 0.05,
        "anticonvulsant_prophylaxis": rng.random() < 0.3,
        "gilbert_syndrome": rng.random() < 0.03,
        "product_manufacture_confirmed": rng.random() < 0.8,
        "gvhd": {"acute_grade": rng.choices([0, 1, 2, 3, 4], weights=(20, 2, 2, 1, 1))[0],
                 "chronic": rng.choices(["none", "limited", "extensive"], weights=(20, 2, 1))[0]},
        "lvef": {"value": rng.randrange(30, 71), "unit": "%", "measured_on": _day(observed(lymphodepletion, 40))},
        "spo2_room_air": {"value": rng.randrange(88, 101), "unit": "%",
                          "measured_on": _day(observed(lymphodepletion, 10))},
    }
    if as_of >= leukapheresis and sometimes(0.7):
        extras["product_received_on"] = _day(observed(infusion, 5))
    labs: dict[str, Any] = {}
    for key, units in LAB_UNITS.items():
        if sometimes():
            labs[key] = _measurement(rng, *rng.choice(units), observed(lymphodepletion, 14))
    for key in ("ast", "alt"):
        if sometimes():
            uln = rng.choice([35, 40, 45, 50])
            labs[key] = {**_measurement(rng, "U/L", 10, uln * 6, 0, observed(lymphodepletion, 14)), "uln": uln}
    extras["labs"] = labs
    steroids = rng.choices(["never", "ongoing", "stopped"], weights=(5, 1, 3))[0]
    chemotherapy = rng.choices(["never", "ongoing", "stopped"], weights=(2, 1, 5))[0]
    extras["washout"] = {"systemic_corticosteroids": {"status": steroids},
                         "cytotoxic_chemotherapy": {"status": chemotherapy}}
    if steroids == "stopped":
        last = observed(leukapheresis, 30)
        extras["washout"]["systemic_corticosteroids"]["last_dose_at"] = f"{_day(last)}T{rng.randrange(6, 23):02d}:00"
    if chemotherapy == "stopped":
        extras["washout"]["cytotoxic_chemotherapy"]["last_dose_on"] = _day(observed(leukapheresis, 60))
    case.update({key: value for key, value in extras.items() if sometimes()})
    if sometimes():
        case["infections"]["sars_cov_2"] = rng.choices(["negative", "positive", "not_tested"], weights=(20, 1, 2))[0]
        case["infections"]["sars_cov_2_tested_on"] = _day(observed(lymphodepletion, 10))
    if sometimes(0.7):
        case["alc"]["measured_on"] = _day(observed(leukapheresis, 10))
    if sometimes(0.7):
        taken = observed(infusion, 1)
        case["temperature"]["measured_at"] = f"{_day(taken)}T{rng.randrange(6, 20):02d}:{rng.randrange(60):02d}"


def synthetic_cases(count: int, seed: int = 1, *, criteria_v2: bool = False) -> list[dict[str, Any]]:
    """``count`` synthetic cases, the same for the same seed (``criteria_v2``: see :func:`synthetic_case`)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data, not security)
    return [synthetic_case(rng, index, criteria_v2=criteria_v2) for index in range(count)]
