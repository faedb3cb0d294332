"""``among``: a key in a list of integer keys, the list passed as ONE parameter.

``filter(pk__in=keys)`` with a thousand keys costs the ORM a ``get_prep_value`` of each key and a
placeholder each, then psycopg quoting each into the SQL (Django's default, client-side binding);
the server parses the thousand constants of every statement, and the statement's text differs with
the number of keys. The bulk re-evaluation after a publish filters every batch so several times (up
to 1,000 keys, a dozen statements a batch): a tenth of a worker's time (py-spy, one part of 10,000).

``filter(pk__among=keys)`` is ``"id" = ANY(%s::bigint[])`` on PostgreSQL (the keys one array) and
``"id" IN (SELECT value FROM json_each(%s))`` on SQLite (the keys one JSON array; SQLite looks each
up by the index, as for ``IN (...)``). One parameter, so the statement's text is the same whatever the
keys: :func:`eligibility.common.compiled.rows_among` builds it once and runs it with each batch's keys.

Integer keys of integer columns only (primary keys and foreign keys to them): another value, a key
beyond 64 bits, or a column of another type is refused with ``TypeError`` before any SQL runs (on
SQLite a text column would silently match nothing, on PostgreSQL fail). An empty list matches
nothing. PostgreSQL and SQLite only (``NotSupportedError`` elsewhere).

``among_rows``: a key among the rows of a subquery (a ``values_list`` of one column, often sliced:
a page's keys). ``IN (subquery)`` elsewhere; on PostgreSQL ``= ANY(ARRAY(subquery))``: the subquery
is run once, before the rest (its keys an array), and each of its keys looked up by the index. With
``IN (subquery)`` the planner may instead hash the subquery's rows and scan the whole table against
them: the worklist page's patients, a scan of every patient while that is estimated cheaper than the
page's 25 index look-ups (0.7 of the page query's 1.7 ms of server time at 3,000 patients).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from django.db import NotSupportedError
from django.db.models import ForeignObject, IntegerField, Lookup
from django.db.models.lookups import In
from django.db.models.sql.query import Query


class Keys(list):
    """Integer keys, checked once; the parameter of an ``among`` lookup (SQLite binds it as JSON)."""

    def __init__(self, keys: Iterable[int] = ()):
        super().__init__(keys)
        for key in self:
            if not isinstance(key, int) or isinstance(key, bool):
                raise TypeError(f"among: integer keys only, not {type(key).__name__}")
            if not -(2**63) <= key < 2**63:
                raise TypeError("among: a key beyond 64 bits")


sqlite3.register_adapter(Keys, lambda keys: json.dumps(keys))


class Among(Lookup):
    lookup_name = "among"
    prepare_rhs = False

    def get_prep_lookup(self) -> Keys:
        field = getattr(self.lhs, "output_field", None)
        if not isinstance(getattr(field, "target_field", field), IntegerField):
            raise TypeError(f"among: integer columns only, not {type(field).__name__}")
        return self.rhs if isinstance(self.rhs, Keys) else Keys(self.rhs)

    def as_sql(self, compiler, connection):
        raise NotSupportedError(f"among: PostgreSQL and SQLite only, not {connection.vendor}")

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, self.rhs)

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} IN (SELECT value FROM json_each(%s))", (*lhs_params, self.rhs)  # noqa: S608 (a column)


class AmongRows(In):
    """The column among the values of a one-column subquery (a ``values_list`` of the column wanted:
    a subquery of whole model rows is compared by its primary key, as ``In``, not ``RelatedIn``,
    compares it; no relation here targets another column)."""

    lookup_name = "among_rows"

    def get_prep_lookup(self):
        if not isinstance(getattr(self.rhs, "query", self.rhs), Query):
            raise TypeError(f"among_rows: a subquery only, not {type(self.rhs).__name__}")
        return super().get_prep_lookup()

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)  # "(SELECT ...)"
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


for lookup in (Among, AmongRows):
    IntegerField.register_lookup(lookup)  # AutoField, BigAutoField, BigIntegerField, ... too
    ForeignObject.register_lookup(lookup)  # a relation's lookups are its own: the foreign key's column
