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


def synthetic_case(rng: random.Random, index: int = 0) -> dict[str, Any]:
    """One synthetic case as criteria.md section 3 JSON values."""
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
    return case


def synthetic_cases(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """``count`` synthetic cases, the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data, not security)
    return [synthetic_case(rng, index) for index in range(count)]
