"""Rule-set files (criteria-v2 section 2.6): a rule set as JSON that leaves the application and
comes back, and the ``--set KEY=VALUE`` settings of the command line.

``ruleset_to_file`` writes one version always as the same bytes (the example's key order, two
spaces of indentation, UTF-8, a final newline; every number as written, a count without a
fraction). ``ruleset_from_file`` reads any key order back and refuses a bad file with every error
at once, each named by its JSON path (``products.<code>.indications[0].pathways[0].min_prior_lines``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from .arithmetic import plain
from .catalogue import CATALOGUE_BY_CODE, in_catalogue_order
from .thresholds import (
    COUNT,
    DEFAULT_PRODUCTS,
    RETIRED_THRESHOLDS,
    THRESHOLDS,
    THRESHOLDS_BY_KEY,
    IndicationEntry,
    Pathway,
    ProductSpec,
    RuleSetData,
)
from .validation import PRODUCT_CODES, ruleset_errors

FORMAT = "cart-ruleset"
FORMAT_VERSION = 1
TOP_FIELDS = ("format", "format_version", "name", "based_on", "enabled_rules", "thresholds", "products")
BASED_ON_FIELDS = ("name", "version")
PRODUCT_FIELDS = ("name", "target", "accepts_cryopreserved", "investigational", "indications")
ENTRY_FIELDS = ("diagnosis", "min_age_years", "max_age_years", "source", "pathways")
PATHWAY_FIELDS = ("label", "min_prior_lines", "required_drug_classes", "first_line_response_in",
                  "disease_status_in", "min_relapse_number", "transplant_ineligible", "lenalidomide_refractory")
_PRODUCT_ORDER = {product.code: index for index, product in enumerate(DEFAULT_PRODUCTS)}
_THRESHOLD_ORDER = {spec.key: index for index, spec in enumerate(THRESHOLDS)}


class RuleSetFileError(ValueError):
    """A refused rule-set file or setting: ``errors`` lists every problem as ``{"field", "message"}``."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{error['field']}: {error['message']}" for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class RuleSetFile:
    """A rule-set file read back: its name, the version it names as its base, and its data
    (``ruleset.version`` is ``None``: a file is no stored version)."""

    name: str
    based_on: tuple[str, int] | None
    ruleset: RuleSetData


# --- Writing ------------------------------------------------------------------------------------------

class _Number:
    """A number written exactly as given (JSON text), never through a binary float."""

    __slots__ = ("text",)

    def __init__(self, value: Decimal | int):
        self.text = plain(value) if isinstance(value, Decimal) else str(value)


def _encode(value: Any, indent: str = "") -> str:
    """JSON as ``json.dumps(indent=2, ensure_ascii=False)`` writes it, numbers as ``_Number`` says."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        members = ",\n".join(f"{inner}{json.dumps(key, ensure_ascii=False)}: {_encode(item, inner)}"
                             for key, item in value.items())
        return "{\n" + members + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _encode(item, inner) for item in value) + "\n" + indent + "]"
    if isinstance(value, _Number):
        return value.text
    return json.dumps(value, ensure_ascii=False)


def _number(value: Decimal | int | None) -> _Number | None:
    return None if value is None else _Number(value)


def _pathway(pathway: Pathway) -> dict:
    def as_list(values):
        return None if values is None else sorted(values)
    return {"label": pathway.label, "min_prior_lines": _number(pathway.min_prior_lines),
            "required_drug_classes": sorted(pathway.required_drug_classes),
            "first_line_response_in": as_list(pathway.first_line_response_in),
            "disease_status_in": as_list(pathway.disease_status_in),
            "min_relapse_number": _number(pathway.min_relapse_number),
            "transplant_ineligible": pathway.transplant_ineligible,
            "lenalidomide_refractory": pathway.lenalidomide_refractory}


def _product(product: ProductSpec) -> dict:
    return {"name": product.name, "target": product.target, "accepts_cryopreserved": product.accepts_cryopreserved,
            "investigational": product.investigational,
            "indications": [{"diagnosis": entry.diagnosis, "min_age_years": _number(entry.min_age_years),
                             "max_age_years": _number(entry.max_age_years), "source": entry.source,
                             "pathways": [_pathway(pathway) for pathway in entry.pathways]}
                            for entry in sorted(product.indications, key=lambda entry: entry.diagnosis)]}


def ruleset_to_file(data: RuleSetData, based_on: tuple[str, int] | None) -> bytes:
    """``data`` as a rule-set file: the same data always gives the same bytes. ``based_on``: the
    (name, version) of the version it was drafted from, or ``None``."""
    thresholds = sorted(data.thresholds.items(), key=lambda item: (_THRESHOLD_ORDER.get(item[0], len(THRESHOLDS)),
                                                                     item[0]))
    products = sorted(data.products.items(), key=lambda item: (_PRODUCT_ORDER.get(item[0], len(_PRODUCT_ORDER)),
                                                                item[0]))
    document = {
        "format": FORMAT,
        "format_version": _Number(FORMAT_VERSION),
        "name": data.name,
        "based_on": None if based_on is None else {"name": based_on[0], "version": _Number(based_on[1])},
        "enabled_rules": in_catalogue_order(code for code in data.enabled_rules if code in CATALOGUE_BY_CODE)
        + sorted(code for code in data.enabled_rules if code not in CATALOGUE_BY_CODE),
        "thresholds": {key: _threshold_number(key, value) for key, value in thresholds},
        "products": {code: _product(product) for code, product in products},
    }
    return (_encode(document) + "\n").encode("utf-8")


def _threshold_number(key: str, value: Decimal | None) -> _Number | None:
    if value is None:
        return None
    spec = THRESHOLDS_BY_KEY.get(key)
    if spec is not None and spec.kind == COUNT and value == value.to_integral_value():
        return _Number(int(value))
    return _Number(value)


# --- Reading ------------------------------------------------------------------------------------------

class _Object(dict):
    """A JSON object that remembers the keys it was given more than once."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    found = _Object(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        found.repeated = tuple(key for key, _ in pairs if key in seen or seen.add(key))
    return found


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number a rule-set file may hold")


class _Reader:
    """Collects every error of one file, by JSON path."""

    def __init__(self):
        self.errors: list[dict[str, str]] = []

    def error(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def fields(self, value: Any, path: str, names: tuple[str, ...]) -> bool:
        """Whether ``value`` is an object with exactly ``names``; each field unknown, missing or
        given twice is an error."""
        where = path or "$"
        if not isinstance(value, dict):
            self.error(where, "must be a JSON object")
            return False
        prefix = f"{path}." if path else ""
        for key in getattr(value, "repeated", ()):
            self.error(f"{prefix}{key}", "is given more than once")
        for key in value:
            if key not in names:
                self.error(f"{prefix}{key}", "is not a known field")
        for key in names:
            if key not in value:
                self.error(f"{prefix}{key}", "is required")
        return True

    def typed(self, value: Any, path: str, check: Callable[[Any], bool], wanted: str) -> bool:
        if check(value):
            return True
        self.error(path, f"must be {wanted}")
        return False


def _is_text(value) -> bool:
    return isinstance(value, str)


def _is_bool(value) -> bool:
    return isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return _is_int(value) or isinstance(value, Decimal)


def _is_int_or_null(value) -> bool:
    return value is None or _is_int(value)


def _is_number_or_null(value) -> bool:
    return value is None or _is_number(value)


def _is_text_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_text_list_or_null(value) -> bool:
    return value is None or _is_text_list(value)


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def _is_list(value) -> bool:
    return isinstance(value, list)


#: Each field's check, what it must be, and the stand-in a bad or missing value is read as, chosen so
#: that it adds no error of its own: the rest of the product is still validated in the same pass.
_PATHWAY_CHECKS = {
    "label": (_is_text, "text", "-"),
    "min_prior_lines": (_is_int_or_null, "a whole number or null", None),
    "required_drug_classes": (_is_text_list, "a list of drug-class codes", []),
    "first_line_response_in": (_is_text_list_or_null, "a list of first-line responses or null", None),
    "disease_status_in": (_is_text_list_or_null, "a list of disease statuses or null", None),
    "min_relapse_number": (_is_int_or_null, "a whole number or null", None),
    "transplant_ineligible": (_is_bool, "true or false", False),
    "lenalidomide_refractory": (_is_bool, "true or false", False),
}
_ENTRY_CHECKS = {
    "diagnosis": (_is_text, "a diagnosis code", None),
    "min_age_years": (_is_number_or_null, "a number or null", None),
    "max_age_years": (_is_number_or_null, "a number or null", None),
    "source": (_is_text, "text (may be empty)", ""),
    "pathways": (_is_list, "a list of pathways", []),
}
_PRODUCT_CHECKS = {
    "name": (_is_text, "text", "-"),
    "target": (_is_text, "CD19, BCMA or EBV", "CD19"),
    "accepts_cryopreserved": (_is_bool, "true or false", False),
    "investigational": (_is_bool, "true or false", False),
    "indications": (_is_list, "a list of indication entries", []),
}


def _read(reader: _Reader, value: Any, path: str, checks: dict) -> dict | None:
    """Each field of ``checks`` from object ``value``: as given when it passes its check, else its
    stand-in (the error is recorded); ``None`` when ``value`` is not an object."""
    if not reader.fields(value, path, tuple(checks)):
        return None
    found = {}
    for name, (check, wanted, stand_in) in checks.items():
        if name in value and reader.typed(value[name], f"{path}.{name}", check, wanted):
            found[name] = value[name]
        else:
            found[name] = stand_in
    return found


def _pathway_from(reader: _Reader, value: Any, path: str) -> Pathway | None:
    found = _read(reader, value, path, _PATHWAY_CHECKS)
    if found is None:
        return None
    for name in ("required_drug_classes", "first_line_response_in", "disease_status_in"):
        values = found[name]
        if values is not None and len(set(values)) != len(values):
            reader.error(f"{path}.{name}", "repeats a value")

    def as_set(values):
        return None if values is None else frozenset(values)
    return Pathway(label=found["label"], min_prior_lines=found["min_prior_lines"],
                   required_drug_classes=frozenset(found["required_drug_classes"]),
                   first_line_response_in=as_set(found["first_line_response_in"]),
                   disease_status_in=as_set(found["disease_status_in"]),
                   min_relapse_number=found["min_relapse_number"],
                   transplant_ineligible=found["transplant_ineligible"],
                   lenalidomide_refractory=found["lenalidomide_refractory"])


def _entry_from(reader: _Reader, value: Any, path: str) -> IndicationEntry | None:
    found = _read(reader, value, path, _ENTRY_CHECKS)
    if found is None:
        return None
    pathways = [_pathway_from(reader, pathway, f"{path}.pathways[{index}]")
                for index, pathway in enumerate(found["pathways"])]
    if found["diagnosis"] is None or None in pathways:
        return None
    return IndicationEntry(diagnosis=found["diagnosis"], pathways=tuple(pathways),
                           min_age_years=_decimal(found["min_age_years"]),
                           max_age_years=_decimal(found["max_age_years"]), source=found["source"])


def _product_from(reader: _Reader, code: str, value: Any, path: str) -> ProductSpec | None:
    found = _read(reader, value, path, _PRODUCT_CHECKS)
    if found is None:
        return None
    entries = [_entry_from(reader, entry, f"{path}.indications[{index}]")
               for index, entry in enumerate(found["indications"])]
    if None in entries:
        # An entry or pathway that is not an object, or an entry without a readable diagnosis: the
        # product's other checks would name shifted indices, so they wait for the next attempt.
        return None
    # Kept in the file's order while validated (errors name the file's indices).
    return ProductSpec(code=code, name=found["name"], target=found["target"],
                       accepts_cryopreserved=found["accepts_cryopreserved"],
                       investigational=found["investigational"], indications=tuple(entries))


def _threshold_value(reader: _Reader, key: str, value: Any, path: str) -> tuple[bool, Decimal | None]:
    """``(readable, value)``: a JSON number as the decimal written, or ``None``."""
    if value is None:
        return True, None
    if not _is_number(value):
        reader.error(path, "must be a number, or null for a value to be entered")
        return False, None
    spec = THRESHOLDS_BY_KEY.get(key)
    if spec is not None and spec.kind == COUNT and isinstance(value, Decimal) and value.is_finite() \
            and value == value.to_integral_value():
        reader.error(path, f"must be a whole number written without a fraction ({plain(value)})")
    return True, Decimal(value)


def _loads(raw: bytes | str) -> Any:
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_object)


def _data_errors(reader: _Reader, data: RuleSetData, *, publishable: bool, threshold_prefix: str,
                 unreadable: frozenset[str] = frozenset()) -> None:
    """The errors of ``ruleset_errors`` as fields: a threshold key under ``threshold_prefix``. A key
    in ``unreadable`` was given but could not be read (its error is recorded): it is not also absent."""
    for key, messages in ruleset_errors(data, publishable=publishable).items():
        if key in unreadable:
            continue
        field = key if key == "enabled_rules" or key.startswith("products.") else f"{threshold_prefix}{key}"
        for message in messages:
            reader.error(field, message)


def ruleset_from_file(raw: bytes | str) -> RuleSetFile:
    """Read a rule-set file (any key order) and validate it as a draft (criteria-v2 2.3, 2.6, 5.4).

    Raises :class:`RuleSetFileError` with every error, each named by its JSON path."""
    reader = _Reader()
    try:
        document = _loads(raw)
    except UnicodeDecodeError:
        raise RuleSetFileError([{"field": "$", "message": "is not UTF-8 text"}]) from None
    except (ValueError, RecursionError) as exc:
        raise RuleSetFileError([{"field": "$", "message": f"is not JSON ({exc})"}]) from None
    if not reader.fields(document, "", TOP_FIELDS):
        raise RuleSetFileError(reader.errors)
    if "format" in document and document["format"] != FORMAT:
        reader.error("format", f'must be "{FORMAT}"')
    if "format_version" in document and (not _is_int(document["format_version"])
                                         or document["format_version"] != FORMAT_VERSION):
        reader.error("format_version", f"must be {FORMAT_VERSION}")
    name = document.get("name")
    if "name" in document and (not isinstance(name, str) or not name.strip()):
        reader.error("name", "must be a name (text, not empty)")
    based_on = None
    if document.get("based_on") is not None and reader.fields(document["based_on"], "based_on", BASED_ON_FIELDS):
        base = document["based_on"]
        named = "name" in base and reader.typed(base["name"], "based_on.name", _is_text, "text")
        numbered = "version" in base and reader.typed(
            base["version"], "based_on.version", lambda found: _is_int(found) and found >= 1, "a version number")
        if named and numbered:
            based_on = (base["name"], base["version"])
    enabled: list[str] = []
    rules = document.get("enabled_rules")
    if "enabled_rules" in document and reader.typed(rules, "enabled_rules", lambda found: isinstance(found, list),
                                                     "a list of rule codes"):
        for index, code in enumerate(rules):
            if not isinstance(code, str) or code not in CATALOGUE_BY_CODE:
                reader.error(f"enabled_rules[{index}]", f"is not a known rule code ({code})")
            elif code in enabled:
                reader.error(f"enabled_rules[{index}]", f"repeats {code}")
            else:
                enabled.append(code)
    thresholds: dict[str, Decimal | None] = {}
    unreadable: set[str] = set()
    held = document.get("thresholds")
    if "thresholds" in document and reader.typed(held, "thresholds", lambda found: isinstance(found, dict),
                                                 "an object of threshold values by key"):
        for key in getattr(held, "repeated", ()):
            reader.error(f"thresholds.{key}", "is given more than once")
        for key, value in held.items():
            readable, number = _threshold_value(reader, key, value, f"thresholds.{key}")
            if readable:
                thresholds[key] = number
            else:
                unreadable.add(key)
    products: dict[str, ProductSpec] = {}
    given = document.get("products")
    if "products" in document and reader.typed(given, "products", lambda found: isinstance(found, dict),
                                               "an object of products by code"):
        for key in getattr(given, "repeated", ()):
            reader.error(f"products.{key}", "is given more than once")
        for code, value in given.items():
            if code not in PRODUCT_CODES:
                reader.error(f"products.{code}", "is not a product code of the catalogue (criteria.md 5)")
                continue
            product = _product_from(reader, code, value, f"products.{code}")
            if product is not None:
                products[code] = product
    data = RuleSetData(name=name if isinstance(name, str) else "", version=None, thresholds=thresholds,
                       products=products, enabled_rules=frozenset(enabled))
    _data_errors(reader, data, publishable=False, threshold_prefix="thresholds.", unreadable=frozenset(unreadable))
    if reader.errors:
        raise RuleSetFileError(reader.errors)
    products = {code: replace(product, indications=tuple(sorted(product.indications, key=lambda e: e.diagnosis)))
                for code, product in products.items()}
    return RuleSetFile(name=name, based_on=based_on, ruleset=replace(data, products=products))


# --- The command line's --set KEY=VALUE ---------------------------------------------------------------

def ruleset_with_settings(data: RuleSetData, settings: Iterable[str], *,
                          threshold_prefix: str = "thresholds.") -> RuleSetData:
    """``data`` with each ``KEY=VALUE`` applied (a held key takes the value, a key not held is added)
    and checked to be publishable (criteria-v2 2.6): every optional group whole, no value to be
    entered. Raises :class:`RuleSetFileError`; a bad setting is named ``--set KEY``, a problem of
    the rule set by ``threshold_prefix`` and the key (``--set `` for a preset, which has no file)."""
    reader = _Reader()
    values: dict[str, Decimal] = {}
    seen: set[str] = set()
    for setting in settings:
        key, sign, text = setting.partition("=")
        key = key.strip()
        field = f"--set {key}"
        if not sign or not key:
            reader.error("--set", f"must be KEY=VALUE ({setting})")
            continue
        if key in seen:
            reader.error(field, "is given more than once")
            continue
        seen.add(key)
        if key in RETIRED_THRESHOLDS:
            reader.error(field, "is retired: minimum prior lines are set in each product's indication entries")
            continue
        spec = THRESHOLDS_BY_KEY.get(key)
        if spec is None:
            reader.error(field, "is not a threshold key")
            continue
        try:
            value = _loads(text)
        except (ValueError, RecursionError):
            value = text
        if not _is_number(value):
            reader.error(field, f"must be a number written as in a rule-set file (got {text!r})")
            continue
        _, number = _threshold_value(reader, key, value, field)
        for problem in spec.validation_errors(number):
            reader.error(field, problem)
        values[key] = number
    if reader.errors:
        raise RuleSetFileError(reader.errors)
    data = replace(data, thresholds={**data.thresholds, **values})
    _data_errors(reader, data, publishable=True, threshold_prefix=threshold_prefix)
    if reader.errors:
        raise RuleSetFileError(reader.errors)
    return data


def ruleset_error_list(data: RuleSetData, *, publishable: bool,
                       threshold_prefix: str = "thresholds.") -> list[dict[str, str]]:
    """``ruleset_errors`` as ``{"field", "message"}`` objects (threshold keys under ``threshold_prefix``),
    as the commands print them."""
    reader = _Reader()
    _data_errors(reader, data, publishable=publishable, threshold_prefix=threshold_prefix)
    return reader.errors
