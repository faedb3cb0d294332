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
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

import msgspec
import msgspec.inspect as schema
import orjson
from msgspec import Meta, Struct
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from . import statuses
from .arithmetic import plain, round_half_up, to_decimal

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

CELLS_PER_UL_PER_1E9_PER_L = 1000
ALC_PLACES = 3  # decimals in 10^9/L
TEMPERATURE_PLACES = 1  # decimals in C
#: Accepted temperature range per unit (section 3).
TEMPERATURE_RANGES = {"C": (25, 45), "F": (77, 113)}


class Alc(Struct, frozen=True, forbid_unknown_fields=True):
    """Absolute lymphocyte count with the unit the lab reported."""

    value: Annotated[float, Meta(ge=0)]
    unit: AlcUnit

    def in_1e9_per_l(self) -> float:
        """The count in 10^9/L, rounded half-up to 3 decimals before any comparison.

        1 cell/uL = 0.001 x 10^9/L, so 3 decimals in 10^9/L are whole cells/uL: round those, then
        divide (an integer over 1000 gives the float nearest the decimal, as if it had been typed).
        """
        if self.unit == "cells/uL":
            return round_half_up(self.value, 0) / CELLS_PER_UL_PER_1E9_PER_L
        return round_half_up(self.value, ALC_PLACES)


class _Temperature(Struct, frozen=True, forbid_unknown_fields=True, tag_field="unit"):
    """Body temperature on the day of assessment; the unit (the tag) selects the accepted range."""

    unit: ClassVar[str]
    value: float

    def in_celsius(self) -> float:
        """Degrees C, converted as C = (F - 32) x 5/9 in decimal arithmetic, rounded half-up to 1 decimal."""
        if self.unit == "C":
            return round_half_up(self.value, TEMPERATURE_PLACES)
        celsius = (to_decimal(self.value) - 32) * 5 / 9
        return float(celsius.quantize(Decimal(1).scaleb(-TEMPERATURE_PLACES), rounding=ROUND_HALF_UP))


class TemperatureC(_Temperature, tag="C"):
    unit: ClassVar[str] = "C"
    value: Annotated[float, Meta(ge=TEMPERATURE_RANGES["C"][0], le=TEMPERATURE_RANGES["C"][1])]


class TemperatureF(_Temperature, tag="F"):
    unit: ClassVar[str] = "F"
    value: Annotated[float, Meta(ge=TEMPERATURE_RANGES["F"][0], le=TEMPERATURE_RANGES["F"][1])]


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


class OrganFunction(Struct, frozen=True, forbid_unknown_fields=True):
    """Organ assessments before conditioning."""

    cardiac: Optional[OrganResult] = None
    pulmonary: Optional[OrganResult] = None
    hepatic: Optional[OrganResult] = None
    renal: Optional[OrganResult] = None


NO_INFECTIONS = Infections()
NO_ORGAN_FUNCTION = OrganFunction()


class Case(Struct, forbid_unknown_fields=True):
    """One patient's case as recorded for a stage. Every field is optional: absent = not recorded.

    ``infections`` and ``organ_function`` are never ``None`` once decoded (see ``decode_case``):
    a group not recorded reads as an empty group.
    """

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
    """The JSON path of an error location, e.g. ``alc.unit``; ``$`` for the case itself."""
    return ".".join(str(part) for part in loc) or ROOT_FIELD


def _field_and_message(error: Mapping[str, Any]) -> dict[str, str]:
    loc = error["loc"]
    if loc[:1] == ("temperature",):
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            message = "is required" if error["type"] == "union_tag_not_found" else "must be one of 'C' or 'F'"
            return {"field": "temperature.unit", "message": message}
        if len(loc) > 1 and loc[1] in TEMPERATURE_RANGES:  # pydantic names the union member: drop it
            unit, loc = loc[1], (loc[0], *loc[2:])
            if loc == ("temperature", "value") and error["type"] in ("greater_than_equal", "less_than_equal"):
                low, high = TEMPERATURE_RANGES[unit]
                return {"field": "temperature.value", "message": f"must be between {low} and {high} {unit}"}
    return {"field": field_path(loc), "message": _message(error)}


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
    return [], msgspec.json.decode(accepted.model_dump_json(exclude_none=True), type=case)


def _is_utf8(text: str) -> bool:
    """False for text holding lone surrogates (bytes such as ED A0 80, which msgspec lets through)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@functools.cache
def _decoder(case: type[Case]) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(case)


def decode_case(case: type[Case], raw: bytes | str) -> Case:
    """Decode and validate one case from JSON text; raises :class:`CaseValidationError` naming
    every bad field."""
    try:
        decoded = _decoder(case).decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        errors, decoded = _validate_again(case, raw)
        if errors:
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
    return decoded


def case_json(data: Mapping[str, Any]) -> bytes:
    """Python values (dates may be ``date`` objects) as the JSON text a case is validated from.

    The standard library's encoder, not orjson: it writes NaN and Infinity as such (which the
    validation then names as bad fields) where orjson would quietly write null ("not recorded").
    """
    return json.dumps(data, default=str).encode()


def parse_case_json(raw: bytes | str, products: Iterable[str] | None = None) -> Case:
    """Parse and validate one case from JSON text.

    ``products`` are the product codes of the rule set's catalogue (an unknown product is an
    input error); without them any product code passes here.
    """
    return decode_case(case_type(frozenset(products)) if products is not None else Case, raw)


def parse_case(data: Mapping[str, Any], products: Iterable[str] | None = None) -> Case:
    """Parse and validate one case given as Python values."""
    return parse_case_json(case_json(data), products)


def case_as_dict(case: Case) -> dict[str, Any]:
    """A decoded case back as JSON values (the snapshot stored beside an evaluation)."""
    return orjson.loads(msgspec.json.encode(case))


#: The groups of the case whose members are recorded one by one (``infections.hbv``).
GROUPS = ("infections", "organ_function")


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
