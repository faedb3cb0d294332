"""JSON for the model fields that hold cases and checklists (``CompactJSONField``): orjson, a C encoder and decoder
(ten times the standard library's speed on a 7 KB checklist), with the standard library as the
fallback for what orjson refuses, so every value the standard library accepts is still accepted.

Django's ``JSONField`` calls ``json.dumps(value, cls=encoder)`` and ``json.loads(text,
cls=decoder)``; these classes put orjson behind those calls. The values stored are validated
cases and the engine's checklists: they hold no NaN or infinity (the validation refuses them),
which is the one place the two encoders would write different JSON.

``JSONDocumentField`` is for the documents kept whole and never queried inside (an evaluation's
inputs and checklist): on PostgreSQL a ``json`` column, which keeps the text as written, rather than
``jsonb``, which parses every document into its binary form on write and prints it back on read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from django.db import models


class EncodedJSON(Mapping):
    """A JSON object held as the compact JSON it was encoded to (e.g. a checklist's ``as_json()``),
    decoded only if it is read: written to a ``CompactJSONField`` as those bytes, with no decoding
    and encoding again (decoding a 9 KB checklist costs more than evaluating it)."""

    __slots__ = ("_decoded", "encoded")

    def __init__(self, encoded: bytes):
        self.encoded = encoded
        self._decoded = None

    def _value(self) -> dict[str, Any]:
        if self._decoded is None:
            self._decoded = orjson.loads(self.encoded)
        return self._decoded

    def __getitem__(self, key: str) -> Any:
        return self._value()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._value())

    def __len__(self) -> int:
        return len(self._value())

    def __eq__(self, other: object) -> bool:
        return self._value() == (other._value() if isinstance(other, EncodedJSON) else other)

    __hash__ = None  # a mapping: unhashable, as a dict


class CompactJSONEncoder(json.JSONEncoder):
    """Compact UTF-8 JSON from orjson; the standard library for integers beyond 64 bits (and
    anything else orjson refuses, which then fails exactly as Django's default would). An
    :class:`EncodedJSON` is written as it was encoded."""

    def encode(self, o: Any) -> str:
        if isinstance(o, EncodedJSON):
            return o.encoded.decode()
        try:
            return orjson.dumps(o).decode()
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return super().encode(o)


class CompactJSONDecoder(json.JSONDecoder):
    """orjson's parser; the standard library for what orjson refuses (integers beyond 64 bits)."""

    def decode(self, s: str, *args: Any) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return super().decode(s, *args)


class CompactJSONField(models.JSONField):
    """A JSON column written and read with orjson (the classes above).

    It also defines ``get_placeholder``, which keeps Django's PostgreSQL bulk insert on ``VALUES``
    rows: with ``UNNEST`` arrays (Django 5.2's default) psycopg quotes every element of a text
    array in Python, one regular-expression substitution per double quote, which took 30 s for
    10,000 checklists; a ``VALUES`` parameter is quoted by libpq in C.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("encoder", CompactJSONEncoder)
        kwargs.setdefault("decoder", CompactJSONDecoder)
        super().__init__(*args, **kwargs)

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"


class JSONDocumentField(CompactJSONField):
    """A JSON document written and read whole, never queried inside: the checklist an evaluation
    produced and the inputs it read (kept exactly as they were: see ``Evaluation``).

    On PostgreSQL a ``json`` column: the text as the encoder wrote it, checked as JSON on write, and
    read back as that text (:func:`json_columns_as_text` has the driver hand it over undecoded, as
    Django does for ``jsonb``), for the field's decoder. A ``jsonb`` column converted every 9 KB
    checklist to its binary form when inserted and back to text when read (the values are written
    as the encoder's text, by an ORM save or ``bulk_create`` as by the evaluations' ``COPY``): half of the database's
    time for inserting an evaluation once the value's compression was LZ4 (migration 0034's note
    has the figures). ``json`` has no operators: key lookups (``__has_key``, ``__contains``, a key's
    value) and equality are not available on PostgreSQL, and nothing here uses them. SQLite stores
    JSON as text either way: there it is ``CompactJSONField``'s column.
    """

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        """On PostgreSQL the encoder's text itself, an untyped literal the column takes as ``json``
        (``JSONField`` sends ``jsonb``, which the server would parse and print back: reformatted,
        and the parsing this column is for saving)."""
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        return None if value is None else json.dumps(value, cls=self.encoder)


def json_columns_as_text(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created``: on PostgreSQL (psycopg 3), values of ``json`` columns are handed over
    as their text, not decoded by the driver with the standard library (which the field would then
    receive as a dict it cannot read): the field's decoder reads them, as Django sets up for
    ``jsonb``."""
    if connection.vendor != "postgresql":
        return
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if is_psycopg3:
        from psycopg.types.string import TextLoader

        connection.connection.adapters.register_loader("json", TextLoader)
