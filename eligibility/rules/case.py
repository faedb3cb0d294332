"""The case input of criteria.md section 3: a typed, immutable case and its validation.

Validation follows section 7: a case that breaks the format is rejected as a whole, with every
bad field named by its JSON path, all found in one pass (pydantic-core reports them together).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, Optional

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from . import statuses
from .arithmetic import round_half_up, to_decimal

Stage = Literal["screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion"]
Diagnosis = Literal["b_all", "lbcl", "fl", "mcl", "cll", "mm", "ebv_lymphoma", "ptld", "npc", "other"]
DiseaseStatus = Literal["relapsed", "refractory", "mrd_positive", "first_line", "remission"]
InfectionState = Literal["none", "active", "controlled", "resolved"]
SerologyResult = Literal["negative", "positive", "not_tested"]
AntigenStatus = Literal["positive", "negative", "not_tested"]
MrdStatus = Literal["negative", "positive", "unknown"]
OrganResult = Literal["normal", "abnormal", "not_done"]
StartingMaterial = Literal["fresh", "cryopreserved"]
Lymphodepletion = Literal["flu_cy", "cy_only", "bendamustine", "other", "none"]
AlcUnit = Literal["10^9/L", "cells/uL"]
TemperatureUnit = Literal["C", "F"]

CELLS_PER_UL_PER_1E9_PER_L = 1000
ALC_PLACES = 3  # decimals in 10^9/L
TEMPERATURE_PLACES = 1  # decimals in C
#: Accepted temperature range per unit (section 3).
TEMPERATURE_RANGES = {"C": (Decimal(25), Decimal(45)), "F": (Decimal(77), Decimal(113))}

_CONFIG = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Alc(BaseModel):
    """Absolute lymphocyte count with the unit the lab reported."""

    model_config = _CONFIG
    value: Annotated[float, Field(ge=0)]
    unit: AlcUnit

    def in_1e9_per_l(self) -> float:
        """The count in 10^9/L, rounded half-up to 3 decimals before any comparison.

        1 cell/uL = 0.001 x 10^9/L, so 3 decimals in 10^9/L are whole cells/uL: round those,
        then divide (an integer over 1000 is the float nearest the decimal, as if typed).
        """
        if self.unit == "cells/uL":
            return round_half_up(self.value, 0) / CELLS_PER_UL_PER_1E9_PER_L
        return round_half_up(self.value, ALC_PLACES)


class Temperature(BaseModel):
    """Body temperature on the day of assessment, in C or F."""

    model_config = _CONFIG
    # The unit comes first so that the value's range check can read it.
    unit: TemperatureUnit
    value: float

    @field_validator("value")
    @classmethod
    def _in_range_for_unit(cls, value: float, info: ValidationInfo) -> float:
        unit = info.data.get("unit")
        if unit is not None:
            low, high = TEMPERATURE_RANGES[unit]
            if not low <= to_decimal(value) <= high:
                raise ValueError(f"must be between {low} and {high} {unit}")
        return value

    def in_celsius(self) -> float:
        """Degrees C, converted as C = (F - 32) x 5/9 in decimal arithmetic, rounded half-up to 1 decimal."""
        if self.unit == "C":
            return round_half_up(self.value, TEMPERATURE_PLACES)
        celsius = (to_decimal(self.value) - 32) * 5 / 9
        return float(celsius.quantize(Decimal(1).scaleb(-TEMPERATURE_PLACES), rounding=ROUND_HALF_UP))


class Infections(BaseModel):
    """Infection status and infectious-disease markers."""

    model_config = _CONFIG
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


class OrganFunction(BaseModel):
    """Organ assessments before conditioning."""

    model_config = _CONFIG
    cardiac: Optional[OrganResult] = None
    pulmonary: Optional[OrganResult] = None
    hepatic: Optional[OrganResult] = None
    renal: Optional[OrganResult] = None


NO_INFECTIONS_RECORDED = Infections()
NO_ORGAN_FUNCTION_RECORDED = OrganFunction()


def _or(empty: BaseModel):
    """``null`` means "not recorded": give the rules an empty group instead of ``None``."""
    return AfterValidator(lambda group: empty if group is None else group)


class Case(BaseModel):
    """One patient's case as recorded for a stage. Every field is optional: absent = not recorded."""

    model_config = _CONFIG
    case_id: Optional[str] = None
    stage: Stage = statuses.DEFAULT_STAGE
    age_years: Optional[Annotated[float, Field(ge=0, le=120)]] = None
    weight_kg: Optional[Annotated[float, Field(gt=0, le=350)]] = None
    diagnosis: Optional[Diagnosis] = None
    disease_status: Optional[DiseaseStatus] = None
    prior_lines: Optional[Annotated[int, Field(ge=0, le=20)]] = None
    product: Optional[str] = None
    ecog: Optional[Annotated[int, Field(ge=0, le=5)]] = None
    karnofsky: Optional[Annotated[int, Field(ge=0, le=100, multiple_of=10)]] = None
    lansky: Optional[Annotated[int, Field(ge=0, le=100, multiple_of=10)]] = None
    life_expectancy_weeks: Optional[Annotated[float, Field(ge=0)]] = None
    alc: Optional[Alc] = None
    infections: Annotated[Optional[Infections], _or(NO_INFECTIONS_RECORDED)] = NO_INFECTIONS_RECORDED
    prior_allo_hsct: Optional[bool] = None
    on_immunosuppression: Optional[bool] = None
    prior_bispecific: Optional[bool] = None
    prior_car_t: Optional[bool] = None
    prior_inotuzumab: Optional[bool] = None
    target_antigen_status: Optional[AntigenStatus] = None
    antigen_retested_after_targeted_therapy: Optional[bool] = None
    marrow_blasts_pct: Optional[Annotated[float, Field(ge=0, le=100)]] = None
    mrd: Optional[MrdStatus] = None
    organ_function: Annotated[Optional[OrganFunction], _or(NO_ORGAN_FUNCTION_RECORDED)] = (
        NO_ORGAN_FUNCTION_RECORDED
    )
    leukapheresis_date: Optional[datetime.date] = None
    starting_material: Optional[StartingMaterial] = None
    cryopreserved_months: Optional[Annotated[float, Field(ge=0)]] = None
    lymphodepletion: Optional[Lymphodepletion] = None
    tocilizumab_doses_available: Optional[Annotated[int, Field(ge=0)]] = None
    caregiver_confirmed: Optional[bool] = None
    travel_time_minutes: Optional[Annotated[float, Field(ge=0)]] = None
    driving_counselled: Optional[bool] = None
    temperature: Optional[Temperature] = None
    site_fact_accredited: Optional[bool] = None

    @field_validator("product")
    @classmethod
    def _known_product(cls, product: str | None, info: ValidationInfo) -> str | None:
        known = (info.context or {}).get("products")
        if product is not None and known is not None and product not in known:
            raise ValueError("is not a product of the catalogue; expected one of " + ", ".join(sorted(known)))
        return product


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
    if kind == "missing":
        return "is required"
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
        return f"must be at least {ctx['ge']}"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "less_than":
        return f"must be less than {ctx['lt']}"
    if kind == "multiple_of":
        return f"must be a multiple of {ctx['multiple_of']}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object" if error["loc"] else "the case must be a JSON object"
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', 'cannot be parsed')})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def field_path(loc: Iterable[Any]) -> str:
    """The JSON path of an error location, e.g. ``alc.unit``; ``$`` for the case itself."""
    return ".".join(str(part) for part in loc) or ROOT_FIELD


def translate_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Every pydantic error as ``{"field", "message"}``, in the order they were found."""
    return [{"field": field_path(error["loc"]), "message": _message(error)} for error in exc.errors()]


def _case_id_of(raw: bytes | str) -> Any:
    """The ``case_id`` of a rejected case, if it can be read at all (for batch error lines)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    case_id = data.get("case_id") if isinstance(data, dict) else None
    return case_id if isinstance(case_id, (str, int, float)) and not isinstance(case_id, bool) else None


def parse_case_json(raw: bytes | str, products: Iterable[str] | None = None) -> Case:
    """Parse and validate one case from JSON text.

    ``products`` are the product codes of the rule set's catalogue; an unknown product is an
    input error. Raises :class:`CaseValidationError` naming every bad field.
    """
    context = {"products": products} if products is not None else None
    try:
        return Case.model_validate_json(raw, context=context)
    except ValidationError as exc:
        raise CaseValidationError(translate_errors(exc), _case_id_of(raw)) from None


def parse_case(data: Mapping[str, Any], products: Iterable[str] | None = None) -> Case:
    """Parse and validate one case from Python values (dates may be ``date`` objects)."""
    try:
        raw = orjson.dumps(data)
    except TypeError:  # integers beyond 64 bits and the like: let validation name the field
        raw = json.dumps(data, default=str)
    return parse_case_json(raw, products)


def case_fields() -> dict[str, Any]:
    """The top-level fields of the case with their pydantic field info (for forms and docs)."""
    return dict(Case.model_fields)
