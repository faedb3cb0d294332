"""The case input of criteria.md section 3: a typed case and its validation.

Two libraries, one schema:

- The case is decoded by msgspec into the structs below (C speed: the batch path runs at tens
  of thousands of cases a second). msgspec stops at the first error.
- Section 7 asks for every bad field at once, so when msgspec rejects a case, a pydantic model
  derived from the same structs (``error_model``) validates it again and names every bad field
  by its JSON path, in one pass. Tests check that both accept exactly the same cases.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, ClassVar, Literal, Optional, Union, get_args

import msgspec
import msgspec.inspect as schema
import orjson
from msgspec import Meta, Struct
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, create_model

from . import statuses
from .arithmetic import plain, round_half_up, to_decimal

Stage = Literal["screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion"]
Diagnosis = Literal["b_all", "lbcl", "fl", "mcl", "cll", "mm", "ebv_lymphoma", "ptld", "npc", "mzl", "other"]
DiseaseStatus = Literal["relapsed", "refractory", "mrd_positive", "first_line", "remission"]
InfectionState = Literal["none", "active", "controlled", "resolved"]
SerologyResult = Literal["negative", "positive", "not_tested"]
AntigenStatus = Literal["positive", "negative", "not_tested"]
MrdStatus = Literal["negative", "positive", "unknown"]
OrganResult = Literal["normal", "abnormal", "not_done"]
StartingMaterial = Literal["fresh", "cryopreserved"]
Lymphodepletion = Literal["flu_cy", "cy_only", "bendamustine", "other", "none"]
AlcUnit = Literal["10^9/L", "cells/uL"]
# criteria-v2 section 4.1
Sex = Literal["female", "male"]
DrugClass = Literal["btk_inhibitor", "bcl2_inhibitor", "imid", "proteasome_inhibitor", "anti_cd38"]
FirstLineResponse = Literal["refractory", "relapse_within_12_months", "relapse_after_12_months"]
ChronicGvhd = Literal["none", "limited", "extensive"]
WashoutStatus = Literal["never", "ongoing", "stopped"]
SarsCov2Result = Literal["negative", "positive", "not_tested"]

CELLS_PER_UL_PER_1E9_PER_L = 1000
ALC_PLACES = 3  # decimals in 10^9/L
TEMPERATURE_PLACES = 1  # decimals in C
#: Accepted temperature range per unit (section 3).
TEMPERATURE_RANGES = {"C": (25, 45), "F": (77, 113)}


class LocalDateTime(datetime.datetime):
    """A date-time of criteria-v2 section 3.1: ``YYYY-MM-DDTHH:MM`` or ``YYYY-MM-DDTHH:MM:SS``, the local
    time of the treating site, no offset, no fraction of a second. It keeps the text as recorded
    (``text``), which is what a case is encoded back to (the stored snapshot is the case as recorded)."""

    PATTERN: ClassVar[re.Pattern] = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?")
    MESSAGE: ClassVar[str] = "must be a real date and time written YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS"

    @classmethod
    def from_text(cls, text: Any) -> LocalDateTime:
        """The date-time ``text`` records; ``ValueError`` (with a coordinator's message) otherwise."""
        if not isinstance(text, str) or not cls.PATTERN.fullmatch(text):
            raise ValueError(cls.MESSAGE)
        try:
            parsed = cls.fromisoformat(text)
        except ValueError:  # 2026-02-30T08:00, 25:00, ...
            raise ValueError(cls.MESSAGE) from None
        parsed.__dict__["written"] = text
        return parsed

    @property
    def text(self) -> str:
        """The date-time as recorded (one computed from it, e.g. by adding a timedelta, to the second)."""
        return self.__dict__.get("written") or self.isoformat(timespec="seconds")

    def __reduce_ex__(self, protocol: Any) -> tuple:
        # copies and pickles keep the text as recorded (datetime's own reduction would drop it)
        return (LocalDateTime.from_text, (self.text,))


def _decode_hook(kind: type, value: Any) -> Any:
    if kind is LocalDateTime:
        return LocalDateTime.from_text(value)
    raise NotImplementedError(kind)


def _encode_hook(value: Any) -> Any:
    if isinstance(value, LocalDateTime):
        return value.text
    raise NotImplementedError(type(value))


def _half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


class Alc(Struct, frozen=True, forbid_unknown_fields=True):
    """Absolute lymphocyte count with the unit the lab reported."""

    value: Annotated[float, Meta(ge=0)]
    unit: AlcUnit
    measured_on: Optional[datetime.date] = None

    def in_1e9_per_l(self) -> float:
        """The count in 10^9/L, rounded half-up to 3 decimals before any comparison.

        1 cell/uL = 0.001 x 10^9/L, so 3 decimals in 10^9/L are whole cells/uL: round those, then
        divide (an integer over 1000 gives the float nearest the decimal, as if it had been typed).
        """
        if self.unit == "cells/uL":
            return round_half_up(self.value, 0) / CELLS_PER_UL_PER_1E9_PER_L
        return round_half_up(self.value, ALC_PLACES)


class _Temperature(Struct, frozen=True, forbid_unknown_fields=True, tag_field="unit", kw_only=True):
    """Body temperature on the day of assessment; the unit (the tag) selects the accepted range."""

    unit: ClassVar[str]
    value: float
    measured_at: Optional[LocalDateTime] = None

    def in_celsius(self) -> float:
        """Degrees C, converted as C = (F - 32) x 5/9 in decimal arithmetic, rounded half-up to 1 decimal."""
        if self.unit == "C":
            return round_half_up(self.value, TEMPERATURE_PLACES)
        celsius = (to_decimal(self.value) - 32) * 5 / 9
        return float(_half_up(celsius, TEMPERATURE_PLACES))


class TemperatureC(_Temperature, tag="C"):
    unit: ClassVar[str] = "C"
    value: Annotated[float, Meta(ge=TEMPERATURE_RANGES["C"][0], le=TEMPERATURE_RANGES["C"][1])]


class TemperatureF(_Temperature, tag="F"):
    unit: ClassVar[str] = "F"
    value: Annotated[float, Meta(ge=TEMPERATURE_RANGES["F"][0], le=TEMPERATURE_RANGES["F"][1])]


# --- Measurement objects (criteria-v2 section 4.2) -----------------------------------------------------
#
# A measurement with one range for all its units has ``unit`` as a plain enum member. One whose range
# depends on the unit is a union of structs tagged by ``unit`` (as temperature is): one struct per
# unit, each with its own range, checked in C by msgspec and named by the error model without the
# union member (``labs.bilirubin.value``).


class _Measurement(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A laboratory or bedside value with its unit and the date it was measured.

    ``compared()`` is the value in the unit it is compared in, rounded half-up in decimal arithmetic
    on the number as written to the places of section 4.2 (the class's ``FACTOR`` converts the unit
    it was recorded in, ``PLACES`` are the decimals kept).
    """

    FACTOR: ClassVar[Decimal] = Decimal(1)
    PLACES: ClassVar[int] = 0
    value: float
    measured_on: Optional[datetime.date] = None

    def compared(self) -> Decimal:
        """The value in the unit of comparison, rounded half-up to the places of section 4.2."""
        return _half_up(to_decimal(self.value) * self.FACTOR, self.PLACES)


class _TaggedMeasurement(_Measurement, tag_field="unit"):
    unit: ClassVar[str]


def _range(low: float, high: float, *, exclusive_low: bool = False) -> Meta:
    return Meta(gt=low, le=high) if exclusive_low else Meta(ge=low, le=high)


#: Per unit, the accepted value range of each measurement whose range depends on its unit (section 4.2):
#: ``(low, high, low excluded)``; the structs below take their ranges from it.
MEASUREMENT_RANGES: dict[str, dict[str, tuple[float, float, bool]]] = {
    "labs.bilirubin": {"umol/L": (0, 1026, False), "mg/dL": (0, 60, False)},
    "labs.creatinine": {"umol/L": (0, 3094, True), "mg/dL": (0, 35, True)},
    "labs.anc": {"10^9/L": (0, 500, False), "cells/uL": (0, 500000, False)},
    "labs.haemoglobin": {"g/dL": (0, 25, False), "g/L": (0, 250, False)},
    "labs.crp": {"mg/dL": (0, 100, False), "mg/L": (0, 1000, False)},
}
BILIRUBIN_UMOL_PER_MG = Decimal("17.1")
CREATININE_UMOL_PER_MG = Decimal("88.4")


def _value(key: str, unit: str) -> Any:
    low, high, exclusive = MEASUREMENT_RANGES[key][unit]
    return Annotated[float, _range(low, high, exclusive_low=exclusive)]


class BilirubinUmolL(_TaggedMeasurement, tag="umol/L"):
    """Total bilirubin in umol/L; compared in umol/L to 1 decimal."""

    unit: ClassVar[str] = "umol/L"
    PLACES: ClassVar[int] = 1
    value: _value("labs.bilirubin", "umol/L")


class BilirubinMgDl(_TaggedMeasurement, tag="mg/dL"):
    """Total bilirubin in mg/dL (1 mg/dL = 17.1 umol/L); compared in umol/L to 1 decimal."""

    unit: ClassVar[str] = "mg/dL"
    FACTOR: ClassVar[Decimal] = BILIRUBIN_UMOL_PER_MG
    PLACES: ClassVar[int] = 1
    value: _value("labs.bilirubin", "mg/dL")


class _Creatinine(_TaggedMeasurement):
    def mg_dl(self) -> Decimal:
        """Serum creatinine in mg/dL, unrounded (1 mg/dL = 88.4 umol/L): formulas round their result only."""
        value = to_decimal(self.value)
        return value if self.unit == "mg/dL" else value / CREATININE_UMOL_PER_MG

    def compared(self) -> Decimal:
        """Creatinine is compared in mg/dL, unrounded (section 4.2)."""
        return self.mg_dl()


class CreatinineUmolL(_Creatinine, tag="umol/L"):
    unit: ClassVar[str] = "umol/L"
    value: _value("labs.creatinine", "umol/L")


class CreatinineMgDl(_Creatinine, tag="mg/dL"):
    unit: ClassVar[str] = "mg/dL"
    value: _value("labs.creatinine", "mg/dL")


class AncE9L(_TaggedMeasurement, tag="10^9/L"):
    """ANC in 10^9/L; compared in cells/uL, whole cells (= 3 decimals in 10^9/L, as ALC)."""

    unit: ClassVar[str] = "10^9/L"
    FACTOR: ClassVar[Decimal] = Decimal(CELLS_PER_UL_PER_1E9_PER_L)
    value: _value("labs.anc", "10^9/L")


class AncCellsUl(_TaggedMeasurement, tag="cells/uL"):
    unit: ClassVar[str] = "cells/uL"
    value: _value("labs.anc", "cells/uL")


class HaemoglobinGDl(_TaggedMeasurement, tag="g/dL"):
    """Haemoglobin in g/dL; compared in g/dL to 1 decimal."""

    unit: ClassVar[str] = "g/dL"
    PLACES: ClassVar[int] = 1
    value: _value("labs.haemoglobin", "g/dL")


class HaemoglobinGL(_TaggedMeasurement, tag="g/L"):
    unit: ClassVar[str] = "g/L"
    FACTOR: ClassVar[Decimal] = Decimal("0.1")
    PLACES: ClassVar[int] = 1
    value: _value("labs.haemoglobin", "g/L")


class CrpMgDl(_TaggedMeasurement, tag="mg/dL"):
    """C-reactive protein in mg/dL; compared in mg/dL to 2 decimals."""

    unit: ClassVar[str] = "mg/dL"
    PLACES: ClassVar[int] = 2
    value: _value("labs.crp", "mg/dL")


class CrpMgL(_TaggedMeasurement, tag="mg/L"):
    unit: ClassVar[str] = "mg/L"
    FACTOR: ClassVar[Decimal] = Decimal("0.1")
    PLACES: ClassVar[int] = 2
    value: _value("labs.crp", "mg/L")


class Transaminase(_Measurement):
    """AST or ALT in U/L with the laboratory's upper limit of normal; compared as value / ULN, 2 decimals."""

    value: Annotated[float, Meta(ge=0, le=100000)]
    unit: Literal["U/L"]
    uln: Annotated[float, Meta(gt=0, le=1000)]

    def compared(self) -> Decimal:
        """The multiple of the upper limit of normal (x ULN), rounded half-up to 2 decimals."""
        return _half_up(to_decimal(self.value) / to_decimal(self.uln), 2)


class CreatinineClearance(_Measurement):
    """Measured creatinine clearance (e.g. 24-hour urine) in mL/min; compared to 0 decimals."""

    value: Annotated[float, Meta(ge=0, le=500)]
    unit: Literal["mL/min"]


class Platelets(_Measurement):
    """Platelets; 1 x 10^3/uL = 1 x 10^9/L; compared in 10^9/L to 0 decimals."""

    value: Annotated[float, Meta(ge=0, le=5000)]
    unit: Literal["10^9/L", "10^3/uL"]


class Ferritin(_Measurement):
    """Ferritin; 1 ng/mL = 1 ug/L; compared in ng/mL to 0 decimals."""

    value: Annotated[float, Meta(ge=0, le=200000)]
    unit: Literal["ng/mL", "ug/L"]


class Ldh(_Measurement):
    """Lactate dehydrogenase in U/L; compared to 0 decimals."""

    value: Annotated[float, Meta(ge=0, le=100000)]
    unit: Literal["U/L"]


class Percentage(_Measurement):
    """LVEF or SpO2 on room air in %; compared to 0 decimals."""

    value: Annotated[float, Meta(ge=0, le=100)]
    unit: Literal["%"]


#: Cockcroft-Gault (criteria-v2 section 4.3): the formula was derived in adults (18-92 years, R22).
COCKCROFT_GAULT_MIN_AGE = 18
COCKCROFT_GAULT_FEMALE_FACTOR = Decimal("0.85")


def cockcroft_gault(age_years: float | None, weight_kg: float | None, sex: str | None,
                    creatinine_mg_dl: Decimal | float | None) -> int | None:
    """Estimated creatinine clearance in mL/min (Cockcroft and Gault, Nephron 1976; criteria-v2 4.3).

    (140 - age) x weight / (72 x creatinine in mg/dL), x 0.85 for a woman, in decimal arithmetic on
    the numbers as written; only the result is rounded, half-up to a whole mL/min. ``None`` under 18
    years (no estimate: record a measured clearance) or when an input is not recorded.
    """
    if age_years is None or weight_kg is None or sex is None or creatinine_mg_dl is None:
        return None
    if age_years < COCKCROFT_GAULT_MIN_AGE:
        return None
    creatinine = creatinine_mg_dl if isinstance(creatinine_mg_dl, Decimal) else to_decimal(creatinine_mg_dl)
    if creatinine <= 0:  # not a serum creatinine (the case format refuses it): no estimate
        return None
    clearance = (140 - to_decimal(age_years)) * to_decimal(weight_kg) / (72 * creatinine)
    if sex == "female":
        clearance *= COCKCROFT_GAULT_FEMALE_FACTOR
    return int(_half_up(clearance, 0))


Bilirubin = Union[BilirubinUmolL, BilirubinMgDl]
Creatinine = Union[CreatinineUmolL, CreatinineMgDl]
Anc = Union[AncE9L, AncCellsUl]
Haemoglobin = Union[HaemoglobinGDl, HaemoglobinGL]
Crp = Union[CrpMgDl, CrpMgL]


class Labs(Struct, frozen=True, forbid_unknown_fields=True):
    """Laboratory values with their units and dates (criteria-v2 section 4.2)."""

    bilirubin: Optional[Bilirubin] = None
    ast: Optional[Transaminase] = None
    alt: Optional[Transaminase] = None
    creatinine: Optional[Creatinine] = None
    creatinine_clearance: Optional[CreatinineClearance] = None
    anc: Optional[Anc] = None
    haemoglobin: Optional[Haemoglobin] = None
    platelets: Optional[Platelets] = None
    crp: Optional[Crp] = None
    ferritin: Optional[Ferritin] = None
    ldh: Optional[Ldh] = None


class Gvhd(Struct, frozen=True, forbid_unknown_fields=True):
    """Current graft-versus-host disease."""

    acute_grade: Optional[Annotated[int, Meta(ge=0, le=4)]] = None
    chronic: Optional[ChronicGvhd] = None


class CorticosteroidWashout(Struct, frozen=True, forbid_unknown_fields=True):
    """Systemic corticosteroids: never, ongoing or stopped (with the time of the last dose)."""

    status: WashoutStatus
    last_dose_at: Optional[LocalDateTime] = None


class ChemotherapyWashout(Struct, frozen=True, forbid_unknown_fields=True):
    """Cytotoxic chemotherapy: never, ongoing or stopped (with the date of the last dose)."""

    status: WashoutStatus
    last_dose_on: Optional[datetime.date] = None


class Washout(Struct, frozen=True, forbid_unknown_fields=True):
    """Treatments that need a washout before leukapheresis."""

    systemic_corticosteroids: Optional[CorticosteroidWashout] = None
    cytotoxic_chemotherapy: Optional[ChemotherapyWashout] = None


class Infections(Struct, frozen=True, forbid_unknown_fields=True):
    """Infection status and infectious-disease markers."""

    bacterial: Optional[InfectionState] = None
    fungal: Optional[InfectionState] = None
    viral: Optional[InfectionState] = None
    hbv: Optional[SerologyResult] = None
    hcv: Optional[SerologyResult] = None
    hiv: Optional[SerologyResult] = None
    hbv_prophylaxis: Optional[bool] = None
    hcv_prophylaxis: Optional[bool] = None
    hiv_prophylaxis: Optional[bool] = None
    markers_tested_on: Optional[datetime.date] = None
    sars_cov_2: Optional[SarsCov2Result] = None
    sars_cov_2_tested_on: Optional[datetime.date] = None


class OrganFunction(Struct, frozen=True, forbid_unknown_fields=True):
    """Organ assessments before conditioning."""

    cardiac: Optional[OrganResult] = None
    pulmonary: Optional[OrganResult] = None
    hepatic: Optional[OrganResult] = None
    renal: Optional[OrganResult] = None


NO_INFECTIONS = Infections()
NO_ORGAN_FUNCTION = OrganFunction()
NO_LABS = Labs()
NO_GVHD = Gvhd()
NO_WASHOUT = Washout()


class Case(Struct, forbid_unknown_fields=True, dict=True):
    """One patient's case as recorded for a stage. Every field is optional: absent = not recorded.

    The groups (``infections``, ``organ_function``, ``labs``, ``gvhd``, ``washout``) are never ``None``
    once decoded (see ``decode_case``): a group not recorded reads as an empty group.

    ``as_of`` stays as recorded (``None`` when absent: the stored snapshot is the case as recorded);
    ``evaluation_date`` is the effective evaluation date the rules read: ``as_of``, or the default
    given when the case was parsed (today when none). It is not a field: it is never encoded.
    """

    #: The effective evaluation date (criteria-v2 section 3.1), set by ``decode_case``.
    evaluation_date: ClassVar[Optional[datetime.date]] = None

    case_id: Optional[str] = None
    stage: Optional[Stage] = statuses.DEFAULT_STAGE
    age_years: Optional[Annotated[float, Meta(ge=0, le=120)]] = None
    weight_kg: Optional[Annotated[float, Meta(gt=0, le=350)]] = None
    diagnosis: Optional[Diagnosis] = None
    disease_status: Optional[DiseaseStatus] = None
    prior_lines: Optional[Annotated[int, Meta(ge=0, le=20)]] = None
    product: Optional[str] = None
    ecog: Optional[Annotated[int, Meta(ge=0, le=5)]] = None
    karnofsky: Optional[Annotated[int, Meta(ge=0, le=100, multiple_of=10)]] = None
    lansky: Optional[Annotated[int, Meta(ge=0, le=100, multiple_of=10)]] = None
    life_expectancy_weeks: Optional[Annotated[float, Meta(ge=0)]] = None
    alc: Optional[Alc] = None
    infections: Optional[Infections] = NO_INFECTIONS
    prior_allo_hsct: Optional[bool] = None
    on_immunosuppression: Optional[bool] = None
    prior_bispecific: Optional[bool] = None
    prior_car_t: Optional[bool] = None
    prior_inotuzumab: Optional[bool] = None
    target_antigen_status: Optional[AntigenStatus] = None
    antigen_retested_after_targeted_therapy: Optional[bool] = None
    marrow_blasts_pct: Optional[Annotated[float, Meta(ge=0, le=100)]] = None
    mrd: Optional[MrdStatus] = None
    organ_function: Optional[OrganFunction] = NO_ORGAN_FUNCTION
    leukapheresis_date: Optional[datetime.date] = None
    starting_material: Optional[StartingMaterial] = None
    cryopreserved_months: Optional[Annotated[float, Meta(ge=0)]] = None
    lymphodepletion: Optional[Lymphodepletion] = None
    tocilizumab_doses_available: Optional[Annotated[int, Meta(ge=0)]] = None
    caregiver_confirmed: Optional[bool] = None
    travel_time_minutes: Optional[Annotated[float, Meta(ge=0)]] = None
    driving_counselled: Optional[bool] = None
    #: The driving restriction (weeks) explained when ``driving_counselled`` was recorded as true; the
    #: web application stores it with the answer so that a later restriction is not read into it.
    driving_counselled_weeks: Optional[Annotated[float, Meta(ge=0, le=52)]] = None
    temperature: Optional[Union[TemperatureC, TemperatureF]] = None
    site_fact_accredited: Optional[bool] = None
    # criteria-v2 section 4.1 (after the keys of version 1: a stored snapshot keeps its order)
    as_of: Optional[datetime.date] = None
    lymphodepletion_start_date: Optional[datetime.date] = None
    infusion_date: Optional[datetime.date] = None
    sex: Optional[Sex] = None
    #: A JSON list, read as a tuple: values the engine remembers results by must be hashable.
    prior_drug_classes: Optional[tuple[DrugClass, ...]] = None
    first_line_response: Optional[FirstLineResponse] = None
    transplant_eligible: Optional[bool] = None
    relapse_number: Optional[Annotated[int, Meta(ge=0, le=20)]] = None
    lenalidomide_refractory: Optional[bool] = None
    cns_involvement: Optional[bool] = None
    anticonvulsant_prophylaxis: Optional[bool] = None
    gvhd: Optional[Gvhd] = NO_GVHD
    washout: Optional[Washout] = NO_WASHOUT
    labs: Optional[Labs] = NO_LABS
    lvef: Optional[Percentage] = None
    spo2_room_air: Optional[Percentage] = None
    gilbert_syndrome: Optional[bool] = None
    product_received_on: Optional[datetime.date] = None
    product_manufacture_confirmed: Optional[bool] = None
    # issue 14 (after every earlier key: a stored snapshot keeps its order); no rule reads it
    #: The day ``weight_kg`` was measured: an observed date (criteria.md 9.1).
    weight_measured_on: Optional[datetime.date] = None


@functools.cache
def case_type(product_codes: frozenset[str]) -> type[Case]:
    """The case struct of a catalogue: ``product`` must be one of its codes (an enum, checked in C)."""
    if not product_codes:
        return Case
    codes = Literal[tuple(sorted(product_codes))]  # type: ignore[valid-type]
    return msgspec.defstruct("Case", [("product", Optional[codes], None)], bases=(Case,),
                             forbid_unknown_fields=True)


# --- The error report: a pydantic model derived from the structs -------------------------------------

_PYDANTIC_CONFIG = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
_CONSTRAINTS = ("ge", "gt", "le", "lt", "multiple_of")


def _annotation(info: schema.Type) -> Any:
    """The pydantic annotation that accepts what msgspec's type ``info`` accepts."""
    if isinstance(info, schema.NoneType):
        return type(None)
    if isinstance(info, schema.IntType | schema.FloatType):
        python_type = int if isinstance(info, schema.IntType) else float
        limits = {name: getattr(info, name) for name in _CONSTRAINTS if getattr(info, name) is not None}
        return Annotated[python_type, Field(**limits)] if limits else python_type
    if isinstance(info, schema.StrType):
        return str
    if isinstance(info, schema.BoolType):
        return bool
    if isinstance(info, schema.DateType):
        return datetime.date
    if isinstance(info, schema.CustomType) and info.cls is LocalDateTime:
        # The text as written (a string that the same check accepts), so that the model's dump decodes again.
        return Annotated[str, PlainValidator(_local_datetime_text)]
    if isinstance(info, schema.ListType):
        return list[_annotation(info.item_type)]
    if isinstance(info, schema.VarTupleType):
        return tuple[_annotation(info.item_type), ...]
    if isinstance(info, schema.LiteralType):
        return Literal[info.values]
    if isinstance(info, schema.StructType):
        return _model(info.cls)
    if isinstance(info, schema.UnionType):
        members = [_annotation(member) for member in info.types]
        structs = [member for member in info.types if isinstance(member, schema.StructType)]
        if len(structs) > 1:  # a tagged union: the tag chooses the member, as in msgspec
            tagged = Annotated[Union[tuple(_model(s.cls) for s in structs)], Field(discriminator=structs[0].tag_field)]
            others = [_annotation(member) for member in info.types if not isinstance(member, schema.StructType)]
            members = [tagged, *others]
        return Union[tuple(members)] if len(members) > 1 else members[0]
    raise TypeError(f"no pydantic equivalent for {info!r}")


def _local_datetime_text(value: Any) -> str:
    LocalDateTime.from_text(value)
    return value


@functools.cache
def _model(struct: type[Struct]) -> type[BaseModel]:
    info = schema.type_info(struct)
    fields: dict[str, Any] = {}
    if info.tag_field is not None:
        fields[info.tag_field] = (Literal[info.tag], ...)
    for field in info.fields:
        default = ... if field.required else None
        fields[field.name] = (_annotation(field.type), default)
    return create_model(struct.__name__, __config__=_PYDANTIC_CONFIG, **fields)


def error_model(case: type[Case] = Case) -> type[BaseModel]:
    """The pydantic model that reports every bad field of a case the struct ``case`` rejects."""
    return _model(case)


class CaseValidationError(ValueError):
    """A case that breaks section 3: ``errors`` holds ``{"field", "message"}`` for every bad field."""

    def __init__(self, errors: list[dict[str, str]], case_id: Any = None):
        self.errors = errors
        self.case_id = case_id
        super().__init__("; ".join(f"{error['field']}: {error['message']}" for error in errors))


ROOT_FIELD = "$"


def _message(error: Mapping[str, Any]) -> str:
    """A message a coordinator understands for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing" or (error.get("input", ...) is None and error["loc"] and isinstance(error["loc"][-1], str)):
        # A required member that is null is missing (criteria-v2 section 9): optional keys accept null.
        return "is required"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("list_type", "list_parsing", "tuple_type"):
        return "must be a list"
    if kind == "extra_forbidden":
        return "is not a recognised field"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return "must be a whole number"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind == "string_type":
        return "must be text"
    if kind.startswith("date_"):
        return "must be a real date written YYYY-MM-DD"
    if kind == "greater_than_equal":
        return f"must be at least {plain(ctx['ge'])}"
    if kind == "greater_than":
        return f"must be greater than {plain(ctx['gt'])}"
    if kind == "less_than_equal":
        return f"must be at most {plain(ctx['le'])}"
    if kind == "less_than":
        return f"must be less than {plain(ctx['lt'])}"
    if kind == "multiple_of":
        return f"must be a multiple of {plain(ctx['multiple_of'])}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object" if error["loc"] else "the case must be a JSON object"
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', 'cannot be parsed')})"
    return str(error["msg"])


def field_path(loc: Iterable[Any]) -> str:
    """The JSON path of an error location, e.g. ``alc.unit``, ``prior_drug_classes[1]``; ``$`` for the
    case itself."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or ROOT_FIELD


@functools.cache
def tagged_unions() -> dict[tuple[str, ...], dict[str, type[Struct]]]:
    """Every case path whose value is a union of structs tagged by ``unit`` (temperature, bilirubin, ...),
    with its struct per unit. The error model's locations name the union member after that path
    (``labs.bilirubin.mg/dL.value``); the report does not."""
    found: dict[tuple[str, ...], dict[str, type[Struct]]] = {}

    def walk(struct: type[Struct], prefix: tuple[str, ...]) -> None:
        for field in schema.type_info(struct).fields:
            types = field.type.types if isinstance(field.type, schema.UnionType) else (field.type,)
            structs = [member for member in types if isinstance(member, schema.StructType)]
            if len(structs) > 1:
                found[(*prefix, field.name)] = {member.tag: member.cls for member in structs}
            elif structs:
                walk(structs[0].cls, (*prefix, field.name))

    walk(Case, ())
    return found


def _range_text(member: type[Struct], unit: str) -> str:
    value = next(field.type for field in schema.type_info(member).fields if field.name == "value")
    if value.gt is not None:
        return f"must be greater than {plain(value.gt)} and at most {plain(value.le)} {unit}"
    return f"must be between {plain(value.ge)} and {plain(value.le)} {unit}"


def _field_and_message(error: Mapping[str, Any]) -> dict[str, str]:
    loc = tuple(error["loc"])
    for size in range(1, len(loc) + 1):
        members = tagged_unions().get(loc[:size])
        if members is None:
            continue
        owner = loc[:size]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found") and len(loc) == size:
            given = (error.get("input") or {}).get("unit") if isinstance(error.get("input"), dict) else None
            if error["type"] == "union_tag_not_found" or given is None:
                message = "is required"
            else:
                message = "must be one of " + " or ".join(repr(unit) for unit in members)
            return {"field": field_path((*owner, "unit")), "message": message}
        if len(loc) > size and loc[size] in members:  # pydantic names the union member: drop it
            unit, loc = loc[size], (*owner, *loc[size + 1:])
            if loc == (*owner, "value") and error["type"] in (
                    "greater_than_equal", "less_than_equal", "greater_than", "less_than"):
                return {"field": field_path(loc), "message": _range_text(members[unit], unit)}
        break
    return {"field": field_path(loc), "message": _message({**error, "loc": loc})}


def translate_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Every pydantic error as ``{"field", "message"}``, in the order they were found."""
    return [_field_and_message(error) for error in exc.errors()]


def _case_id_of(raw: bytes | str) -> Any:
    """The ``case_id`` of a rejected case, if it can be read at all (for batch error lines)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:  # the standard library reads what orjson refuses (1e400, integers beyond 64 bits)
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return None
    case_id = data.get("case_id") if isinstance(data, dict) else None
    return case_id if isinstance(case_id, str) and _is_utf8(case_id) else None


def _validate_again(case: type[Case], raw: bytes | str) -> tuple[list[dict[str, str]], Case | None]:
    """Validate a case msgspec rejected with the pydantic model, which names every bad field.

    Returns the errors, or no errors and the case where pydantic accepts it after all: a key
    given twice is read as its last value by JSON parsers, while msgspec checks every copy.
    """
    try:
        accepted = error_model(case).model_validate_json(raw)
    except ValidationError as exc:
        return translate_errors(exc), None
    except UnicodeDecodeError:
        return [{"field": ROOT_FIELD, "message": "is not valid UTF-8 text"}], None
    return [], _decoder(case).decode(accepted.model_dump_json(exclude_none=True))


def _is_utf8(text: str) -> bool:
    """False for text holding lone surrogates (bytes such as ED A0 80, which msgspec lets through)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@functools.cache
def _decoder(case: type[Case]) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(case, dec_hook=_decode_hook)


_ENCODER = msgspec.json.Encoder(enc_hook=_encode_hook)

# --- Checks across fields: dates (criteria-v2 sections 3.1 and 9) --------------------------------------

#: The measurement objects of ``labs``, in the order of the case format.
LAB_NAMES = tuple(field.name for field in schema.type_info(Labs).fields)
#: Treatment dates in the order they must keep (each may be planned: in the future).
TREATMENT_DATES = ("leukapheresis_date", "lymphodepletion_start_date", "infusion_date")
#: The washout members and the member that records the last dose (only with status ``stopped``).
WASHOUT_LAST_DOSE = {"systemic_corticosteroids": "last_dose_at", "cytotoxic_chemotherapy": "last_dose_on"}
ONLY_WHEN_STOPPED = "only with status stopped"
_LAB_DATE_PATHS = tuple((name, f"labs.{name}.measured_on") for name in LAB_NAMES)
_WASHOUT_PATHS = tuple((name, member, f"washout.{name}.{member}") for name, member in WASHOUT_LAST_DOSE.items())


def _date_errors(observed: list[tuple[str, datetime.date]], treatments: list[tuple[str, datetime.date]],
                 washouts: list[tuple[str, str]], effective: datetime.date | None) -> list[dict[str, str]]:
    """The errors of section 9 across fields, from the dates and washout members recorded.

    ``observed``: the observed dates (3.1) with their paths (a date-time by its date); ``treatments``: the
    treatment dates recorded, in their order; ``washouts``: the path of each washout's last dose
    recorded with a status other than stopped; ``effective``: the effective ``as_of`` (``None``: unknown,
    as when ``as_of`` itself is bad).
    """
    errors = []
    late = [path for path, day in observed if day > effective] if effective is not None else []
    if late:
        after = f"must not be after as_of ({effective.isoformat()})"
        errors += [{"field": path, "message": after} for path in late]
    for index, (key, day) in enumerate(treatments):
        for earlier_key, earlier in reversed(treatments[:index]):  # the nearest earlier key first
            if day < earlier:
                errors.append({"field": key, "message": f"must not be before {earlier_key}"})
                break
    errors += [{"field": path, "message": ONLY_WHEN_STOPPED} for path in washouts]
    return errors


def _case_date_errors(case: Case) -> list[dict[str, str]]:
    """The errors across fields of a decoded case.

    On the hot path: a case without the dates of criteria-v2 is cleared in a few attribute reads
    (the batch runs tens of thousands of cases a second).
    """
    alc, temperature, infections = case.alc, case.temperature, case.infections
    if (case.labs is NO_LABS and case.washout is NO_WASHOUT and case.lvef is None and case.spo2_room_air is None
            and case.product_received_on is None and infections.sars_cov_2_tested_on is None
            and (alc is None or alc.measured_on is None)
            and (temperature is None or temperature.measured_at is None)
            and case.lymphodepletion_start_date is None and case.infusion_date is None
            and case.weight_measured_on is None):
        return []
    observed = []
    if case.weight_measured_on is not None:
        observed.append(("weight_measured_on", case.weight_measured_on))
    if alc is not None and alc.measured_on is not None:
        observed.append(("alc.measured_on", alc.measured_on))
    labs = case.labs
    if labs is not NO_LABS:
        for name, path in _LAB_DATE_PATHS:
            measurement = getattr(labs, name)
            if measurement is not None and measurement.measured_on is not None:
                observed.append((path, measurement.measured_on))
    if case.lvef is not None and case.lvef.measured_on is not None:
        observed.append(("lvef.measured_on", case.lvef.measured_on))
    if case.spo2_room_air is not None and case.spo2_room_air.measured_on is not None:
        observed.append(("spo2_room_air.measured_on", case.spo2_room_air.measured_on))
    if temperature is not None and temperature.measured_at is not None:
        observed.append(("temperature.measured_at", temperature.measured_at.date()))
    if infections.sars_cov_2_tested_on is not None:
        observed.append(("infections.sars_cov_2_tested_on", infections.sars_cov_2_tested_on))
    washouts = []
    if case.washout is not NO_WASHOUT:
        for name, member, path in _WASHOUT_PATHS:
            washout = getattr(case.washout, name)
            last = getattr(washout, member, None)
            if last is not None:
                if washout.status != "stopped":
                    washouts.append(path)
                observed.append((path, last.date() if member == "last_dose_at" else last))
    if case.product_received_on is not None:
        observed.append(("product_received_on", case.product_received_on))
    treatments = [(key, day) for key in TREATMENT_DATES if (day := getattr(case, key)) is not None]
    return _date_errors(observed, treatments, washouts, case.evaluation_date)


def _date_of(value: Any) -> datetime.date | None:
    """A well-formed ``YYYY-MM-DD`` date of raw JSON, or ``None`` (a bad one is a type error of its own)."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-" and value.isascii():
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _date_of_datetime(value: Any) -> datetime.date | None:
    try:
        return LocalDateTime.from_text(value).date()
    except ValueError:
        return None


def case_date_errors(data: Any, as_of: datetime.date | None = None) -> list[dict[str, str]]:
    """The errors across fields of criteria-v2 section 9 (observed dates after ``as_of``, treatment
    dates out of order, a washout's last dose without status stopped) in case data given as JSON
    values, from the fields that are well formed: a bad field is an error of its own, reported by the
    type check. ``as_of``: the evaluation date of a case that records none (``None``: today).

    The decoder makes the same checks on the decoded case; a case is valid when the error model
    accepts it and this finds nothing (tests check both routes agree).
    """
    if not isinstance(data, dict):
        return []
    default = as_of or datetime.date.today()

    def group(value: Any) -> dict:
        return value if isinstance(value, dict) else {}

    observed = []

    def observe(path: str, value: Any, read=_date_of) -> None:
        if (day := read(value)) is not None:
            observed.append((path, day))

    observe("weight_measured_on", data.get("weight_measured_on"))

    observe("alc.measured_on", group(data.get("alc")).get("measured_on"))
    labs = group(data.get("labs"))
    for name in LAB_NAMES:
        observe(f"labs.{name}.measured_on", group(labs.get(name)).get("measured_on"))
    for name in ("lvef", "spo2_room_air"):
        observe(f"{name}.measured_on", group(data.get(name)).get("measured_on"))
    observe("temperature.measured_at", group(data.get("temperature")).get("measured_at"), _date_of_datetime)
    observe("infections.sars_cov_2_tested_on", group(data.get("infections")).get("sars_cov_2_tested_on"))
    washouts = []
    for name, member in WASHOUT_LAST_DOSE.items():
        washout = group(group(data.get("washout")).get(name))
        read = _date_of_datetime if member == "last_dose_at" else _date_of
        path = f"washout.{name}.{member}"
        observe(path, washout.get(member), read)
        status = washout.get("status")
        if read(washout.get(member)) is not None and status in get_args(WashoutStatus) and status != "stopped":
            washouts.append(path)
    observe("product_received_on", data.get("product_received_on"))
    treatments = [(key, day) for key in TREATMENT_DATES if (day := _date_of(data.get(key))) is not None]
    recorded = data.get("as_of")
    effective = default if recorded is None else _date_of(recorded)
    return _date_errors(observed, treatments, washouts, effective)


def _raw_date_errors(raw: bytes | str, as_of: datetime.date | None) -> list[dict[str, str]]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    return case_date_errors(data, as_of)


def decode_case(case: type[Case], raw: bytes | str, as_of: datetime.date | None = None) -> Case:
    """Decode and validate one case from JSON text; raises :class:`CaseValidationError` naming
    every bad field.

    ``as_of``: the evaluation date of a case that records none (criteria-v2 section 3.1); ``None``:
    today. The case keeps ``as_of`` as recorded; ``case.evaluation_date`` is the effective date.
    """
    try:
        decoded = _decoder(case).decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        errors, decoded = _validate_again(case, raw)
        if errors:
            known = {error["field"] for error in errors}
            errors += [error for error in _raw_date_errors(raw, as_of) if error["field"] not in known]
            raise CaseValidationError(errors, _case_id_of(raw)) from None
    if decoded.case_id is not None and not decoded.case_id.isascii() and not _is_utf8(decoded.case_id):
        raise CaseValidationError([{"field": ROOT_FIELD, "message": "is not valid UTF-8 text"}])
    # null means "not recorded", as an absent key does: the default stage, an empty group.
    if decoded.stage is None:
        decoded.stage = statuses.DEFAULT_STAGE
    if decoded.infections is None:
        decoded.infections = NO_INFECTIONS
    if decoded.organ_function is None:
        decoded.organ_function = NO_ORGAN_FUNCTION
    if decoded.labs is None:
        decoded.labs = NO_LABS
    if decoded.gvhd is None:
        decoded.gvhd = NO_GVHD
    if decoded.washout is None:
        decoded.washout = NO_WASHOUT
    # (today() only when needed: it reads the clock, which costs as much as the checks below)
    decoded.evaluation_date = decoded.as_of or as_of or datetime.date.today()
    errors = _case_date_errors(decoded)
    if errors:
        raise CaseValidationError(errors, decoded.case_id)
    return decoded


def case_json(data: Mapping[str, Any]) -> bytes:
    """Python values (dates may be ``date`` objects) as the JSON text a case is validated from.

    The standard library's encoder, not orjson: it writes NaN and Infinity as such (which the
    validation then names as bad fields) where orjson would quietly write null ("not recorded").
    """
    return json.dumps(data, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, LocalDateTime):
        return value.text
    return str(value)


def parse_case_json(raw: bytes | str, products: Iterable[str] | None = None,
                    as_of: datetime.date | None = None) -> Case:
    """Parse and validate one case from JSON text.

    ``products`` are the product codes of the rule set's catalogue (an unknown product is an
    input error); without them any product code passes here. ``as_of``: the evaluation date of a
    case that records none (``None``: today).
    """
    return decode_case(case_type(frozenset(products)) if products is not None else Case, raw, as_of)


def parse_case(data: Mapping[str, Any], products: Iterable[str] | None = None,
               as_of: datetime.date | None = None) -> Case:
    """Parse and validate one case given as Python values."""
    return parse_case_json(case_json(data), products, as_of)


def case_as_dict(case: Case) -> dict[str, Any]:
    """A decoded case back as JSON values (the snapshot stored beside an evaluation): the case as
    recorded (``as_of`` absent stays null; date-times as written)."""
    return orjson.loads(case_as_json(case))


def case_as_json(case: Case) -> bytes:
    """:func:`case_as_dict` as compact JSON (what ``orjson.dumps`` gives for it)."""
    return _ENCODER.encode(case)


#: The groups of the case whose members are recorded one by one (``infections.hbv``).
GROUPS = ("infections", "organ_function", "labs", "gvhd", "washout")


@functools.cache
def case_field_types() -> dict[str, schema.Type]:
    """Every case path (``infections.hbv`` for a member of a group) with its msgspec type, ``None``
    stripped from optional ones: what a form or a page needs to know of a recorded value."""
    types: dict[str, schema.Type] = {}

    def required(info):
        if isinstance(info, schema.UnionType):
            members = [member for member in info.types if not isinstance(member, schema.NoneType)]
            return members[0] if len(members) == 1 else schema.UnionType(tuple(members))
        return info

    for case_field in schema.type_info(Case).fields:
        info = required(case_field.type)
        if isinstance(info, schema.StructType) and case_field.name in GROUPS:
            for sub in info.fields:
                types[f"{case_field.name}.{sub.name}"] = required(sub.type)
        else:
            types[case_field.name] = info
    return types
