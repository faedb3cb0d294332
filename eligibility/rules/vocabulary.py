"""Words for the case format: its keys (the label of each case path), the words of its choices and
its units, for reasons, forms, pages and the PDF. One place: the intake form's field table takes its
labels and choice words from here, and so does every screen that shows a recorded value."""

from .arithmetic import plain
from .statuses import PHASE_LABELS

DIAGNOSIS = {
    "b_all": "B-ALL",
    "lbcl": "large B-cell lymphoma (LBCL)",
    "fl": "follicular lymphoma (FL)",
    "mcl": "mantle cell lymphoma (MCL)",
    "cll": "chronic lymphocytic leukaemia (CLL)",
    "mm": "multiple myeloma (MM)",
    "ebv_lymphoma": "EBV-positive lymphoma",
    "ptld": "post-transplant lymphoproliferative disorder (PTLD)",
    "npc": "nasopharyngeal carcinoma (NPC)",
    "mzl": "marginal zone lymphoma (MZL)",
    "other": "another diagnosis",
}
DISEASE_STATUS = {
    "relapsed": "relapsed",
    "refractory": "refractory",
    "mrd_positive": "MRD-positive",
    "first_line": "first line",
    "remission": "in remission",
}
INFECTION_STATE = {
    "none": "none",
    "active": "active",
    "controlled": "well controlled on treatment",
    "resolved": "resolved",
}
SEROLOGY = {"negative": "negative", "positive": "positive (latent/chronic)", "not_tested": "not tested"}
ANTIGEN_STATUS = {"positive": "positive", "negative": "negative", "not_tested": "not tested"}
MRD = {"negative": "negative", "positive": "positive", "unknown": "unknown"}
ORGAN_RESULT = {"normal": "normal", "abnormal": "abnormal", "not_done": "not done"}
STARTING_MATERIAL = {"fresh": "fresh", "cryopreserved": "cryopreserved"}
LYMPHODEPLETION = {
    "flu_cy": "fludarabine + cyclophosphamide",
    "cy_only": "cyclophosphamide only",
    "bendamustine": "bendamustine",
    "other": "another regimen",
    "none": "none",
}
SEX = {"female": "female", "male": "male"}
DRUG_CLASS = {
    "btk_inhibitor": "BTK inhibitor",
    "bcl2_inhibitor": "BCL-2 inhibitor",
    "imid": "immunomodulatory drug (IMiD)",
    "proteasome_inhibitor": "proteasome inhibitor",
    "anti_cd38": "anti-CD38 antibody",
}
FIRST_LINE_RESPONSE = {
    "refractory": "refractory to first-line therapy",
    "relapse_within_12_months": "relapse within 12 months of first-line therapy",
    "relapse_after_12_months": "relapse more than 12 months after first-line therapy",
}
CHRONIC_GVHD = {"none": "none", "limited": "limited", "extensive": "extensive"}
WASHOUT_STATUS = {"never": "never received", "ongoing": "ongoing", "stopped": "stopped"}
SARS_COV_2 = {"negative": "negative", "positive": "positive", "not_tested": "not tested"}
#: A checklist's stage is named by the last phase it checks: the phase labels, not a second list.
STAGE = PHASE_LABELS

#: Units in clinical typography, by the code a case or a threshold stores (``10^9/L`` in a case,
#: ``x10^9/L`` in a threshold: one spelling). Reasons, pages and the PDF write units this way.
UNITS = {
    "10^9/L": "×10⁹/L",
    "x10^9/L": "×10⁹/L",
    "cells/uL": "cells/µL",
    "C": "°C",
    "F": "°F",
    "umol/L": "µmol/L",
    "mg/dL": "mg/dL",
    "U/L": "U/L",
    "mL/min": "mL/min",
    "10^3/uL": "×10³/µL",
    "g/dL": "g/dL",
    "g/L": "g/L",
    "mg/L": "mg/L",
    "ng/mL": "ng/mL",
    "ug/L": "µg/L",
    "%": "%",
    "xULN": "×ULN",
}


def unit_symbol(code: str | None) -> str:
    """A stored unit as people write it (``"10^9/L"`` -> ``"×10⁹/L"``); other units as they are."""
    if not code:
        return ""
    return UNITS.get(code, code)


#: Units that are nouns, and their singular: exactly one is ``1 year``, ``1 prior line``.
NOUN_UNITS = {"years": "year", "lines": "line", "weeks": "week", "doses": "dose", "days": "day",
              "months": "month", "minutes": "minute", "hours": "hour"}


def measure(value, unit: str | None) -> str:
    """A number with its unit symbol: ``101.2 °F``, ``0.15 ×10⁹/L``, ``150 cells/µL``, ``5%``;
    a noun unit in the singular for exactly one (``1 year``, ``2 years``)."""
    symbol = unit_symbol(unit)
    if symbol == "%":
        return f"{plain(value)}%"
    if value == 1 and symbol in NOUN_UNITS:
        symbol = NOUN_UNITS[symbol]
    return f"{plain(value)} {symbol}".strip()


def count(number, singular: str, plural: str | None = None) -> str:
    """A number with its noun, singular for exactly one: ``1 prior line``, ``4 prior lines``,
    ``0.5 weeks``."""
    word = singular if number == 1 else (plural or f"{singular}s")
    return f"{plain(number)} {word}"


#: Each case path as people name it (the intake form's labels): the checklist's "values used", the
#: history, the PDF and the impact preview name a recorded value by these words, never by its key.
LABELS = {
    "case_id": "Case identifier",
    "stage": "Stage",
    "diagnosis": "Diagnosis",
    "disease_status": "Disease status",
    "prior_lines": "Prior systemic lines of therapy",
    "product": "Product",
    "target_antigen_status": "Target antigen on the tumour (CD19, BCMA or EBV)",
    "age_years": "Age (years)",
    "weight_kg": "Weight (kg)",
    "ecog": "ECOG performance status",
    "karnofsky": "Karnofsky (%)",
    "lansky": "Lansky (%)",
    "life_expectancy_weeks": "Life expectancy (weeks)",
    "prior_allo_hsct": "Prior allogeneic HSCT",
    "on_immunosuppression": "On immunosuppression",
    "prior_bispecific": "Prior bispecific antibody (e.g. blinatumomab)",
    "prior_car_t": "Prior CAR-T",
    "antigen_retested_after_targeted_therapy": "Target re-confirmed at relapse after bispecific or CAR-T",
    "prior_inotuzumab": "Prior inotuzumab ozogamicin",
    "infections.bacterial": "Bacterial infection",
    "infections.fungal": "Fungal infection",
    "infections.viral": "Viral infection",
    "infections.hbv": "Hepatitis B",
    "infections.hbv_prophylaxis": "HBV antiviral prophylaxis in place",
    "infections.hcv": "Hepatitis C",
    "infections.hcv_prophylaxis": "HCV antiviral prophylaxis in place",
    "infections.hiv": "HIV",
    "infections.hiv_prophylaxis": "HIV antiviral prophylaxis in place",
    "marrow_blasts_pct": "Bone-marrow blasts (%)",
    "mrd": "Minimal residual disease",
    "alc": "Absolute lymphocyte count",
    "infections.markers_tested_on": "Infectious-disease markers drawn on",
    "leukapheresis_date": "Leukapheresis date (planned or done)",
    "starting_material": "Starting material",
    "cryopreserved_months": "Age of cryopreserved material (months)",
    "lymphodepletion": "Planned lymphodepletion",
    "organ_function.cardiac": "Cardiac (EKG/echo)",
    "organ_function.pulmonary": "Pulmonary (lung function)",
    "organ_function.hepatic": "Hepatic (liver tests)",
    "organ_function.renal": "Renal (kidney tests)",
    "tocilizumab_doses_available": "Tocilizumab doses on site for this patient",
    "caregiver_confirmed": "Full-time caregiver arranged",
    "travel_time_minutes": "Travel time, lodging to treatment centre (minutes)",
    "driving_counselled": "Driving restriction explained",
    "driving_counselled_weeks": "Driving restriction explained (weeks)",
    "temperature": "Temperature",
    "site_fact_accredited": "Site holds FACT-JACIE accreditation",
    # criteria-v2 section 4.1
    "as_of": "Evaluation date",
    "lymphodepletion_start_date": "Lymphodepletion start date (planned or done)",
    "infusion_date": "CAR-T infusion date (planned or done)",
    "sex": "Sex",
    "prior_drug_classes": "Drug classes received in prior lines",
    "first_line_response": "Response to first-line therapy",
    "transplant_eligible": "Eligible for haematopoietic stem-cell transplantation",
    "relapse_number": "Number of relapses",
    "lenalidomide_refractory": "Refractory to lenalidomide",
    "cns_involvement": "Current CNS involvement",
    "anticonvulsant_prophylaxis": "Anticonvulsant prophylaxis planned or in place",
    "gvhd.acute_grade": "Acute GvHD grade (0 = none)",
    "gvhd.chronic": "Chronic GvHD",
    "washout.systemic_corticosteroids": "Systemic corticosteroids",
    "washout.systemic_corticosteroids.status": "Systemic corticosteroids",
    "washout.systemic_corticosteroids.last_dose_at": "Last dose of systemic corticosteroids (date and time)",
    "washout.cytotoxic_chemotherapy": "Cytotoxic chemotherapy",
    "washout.cytotoxic_chemotherapy.status": "Cytotoxic chemotherapy",
    "washout.cytotoxic_chemotherapy.last_dose_on": "Last dose of cytotoxic chemotherapy",
    "infections.sars_cov_2": "SARS-CoV-2 PCR (nasopharyngeal)",
    "infections.sars_cov_2_tested_on": "SARS-CoV-2 swab taken on",
    "labs.bilirubin": "Total bilirubin",
    "labs.ast": "AST",
    "labs.ast.uln": "AST upper limit of normal (U/L)",
    "labs.alt": "ALT",
    "labs.alt.uln": "ALT upper limit of normal (U/L)",
    "labs.creatinine": "Serum creatinine",
    "labs.creatinine_clearance": "Creatinine clearance, measured",
    "labs.anc": "Absolute neutrophil count",
    "labs.haemoglobin": "Haemoglobin",
    "labs.platelets": "Platelets",
    "labs.crp": "C-reactive protein (CRP)",
    "labs.ferritin": "Ferritin",
    "labs.ldh": "Lactate dehydrogenase (LDH)",
    "lvef": "Left ventricular ejection fraction (echo or MUGA)",
    "spo2_room_air": "SpO₂ on room air",
    "gilbert_syndrome": "Gilbert's syndrome",
    "product_received_on": "CAR-T product received on site",
    "product_manufacture_confirmed": "Manufacturer confirmed successful manufacture",
    "alc.measured_on": "Absolute lymphocyte count measured on",
    "temperature.measured_at": "Temperature taken at",
    # issue 14
    "weight_measured_on": "Weight measured on",
}
# The date of each measurement object, in the words of its value ("Total bilirubin measured on").
LABELS.update({f"{path}.measured_on": f"{LABELS[path]} measured on"
               for path in [*(key for key in LABELS if key.startswith("labs.") and key.count(".") == 1),
                            "lvef", "spo2_room_air"]})

#: The words of each choice of the case format, by case path.
CHOICES = {
    "stage": STAGE,
    "diagnosis": DIAGNOSIS,
    "disease_status": DISEASE_STATUS,
    "target_antigen_status": ANTIGEN_STATUS,
    **{f"infections.{kind}": INFECTION_STATE for kind in ("bacterial", "fungal", "viral")},
    **{f"infections.{virus}": SEROLOGY for virus in ("hbv", "hcv", "hiv")},
    "mrd": MRD,
    "starting_material": STARTING_MATERIAL,
    "lymphodepletion": LYMPHODEPLETION,
    **{f"organ_function.{organ}": ORGAN_RESULT for organ in ("cardiac", "pulmonary", "hepatic", "renal")},
    "sex": SEX,
    "prior_drug_classes": DRUG_CLASS,
    "first_line_response": FIRST_LINE_RESPONSE,
    "gvhd.chronic": CHRONIC_GVHD,
    "washout.systemic_corticosteroids.status": WASHOUT_STATUS,
    "washout.cytotoxic_chemotherapy.status": WASHOUT_STATUS,
    "infections.sars_cov_2": SARS_COV_2,
}
