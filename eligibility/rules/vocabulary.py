"""Words for the enum values of the case format, for reasons, forms and pages."""

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
#: A checklist's stage is named by the last phase it checks: the phase labels, not a second list.
STAGE = PHASE_LABELS
