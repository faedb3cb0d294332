"""Hot read queries compiled once: their SQL kept on the database connection, their rows as tuples.

The worklist's queries are the same on every request (the physicians' queue, a user's permissions):
the ORM building their SQL again each time (five subqueries for the queue) and making model
instances of their rows (three a queue row) was a third of the physician's worklist (cProfile). A
query given here is built by the ORM once per database connection object (``connections[alias]``
is one per thread, kept for the thread's life, so a compiled query is never shared between
threads), then run with its parameters; its rows come through the ORM's own converters (SQLite
gives dates as text, the ORM parses them), as ``values()`` would give them, as tuples.

Only for a query whose SQL and parameters depend on nothing but its ``key`` (constants: no user, no
time, no value typed). Settings changed by a test forget them all.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Sequence

from django.core.signals import setting_changed
from django.db import connections
from django.db.models import QuerySet
from django.dispatch import receiver

_CACHE_ATTRIBUTE = "_compiled_queries"
_wrappers: weakref.WeakSet = weakref.WeakSet()  # the connection objects holding compiled queries


class _Compiled:
    __slots__ = ("sql", "params", "names", "converters", "compiler")

    def __init__(self, queryset: QuerySet, alias: str):
        compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        self.params = tuple(params)
        query = queryset.query
        self.names = (*query.extra_select, *query.values_select, *query.annotation_select)
        fields = [column[0] for column in compiler.select[:compiler.col_count]]
        self.converters = compiler.get_converters(fields)
        self.compiler = compiler


def rows(key: Hashable, build: Callable[[], QuerySet], *, using: str = "default") -> tuple[Sequence[str], list]:
    """The rows of ``build()`` (a ``values()`` queryset whose SQL and parameters depend on ``key``
    alone) as tuples, with the names of their columns: the queryset is built and compiled the first
    time ``key`` is asked for on this connection, then its SQL is only run."""
    connection = connections[using]
    cache = connection.__dict__.get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = connection.__dict__[_CACHE_ATTRIBUTE] = {}
        _wrappers.add(connection)
    compiled = cache.get(key)
    if compiled is None:
        compiled = cache[key] = _Compiled(build(), using)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, compiled.params)
        found = cursor.fetchall()
    if compiled.converters:
        found = [tuple(row) for row in compiled.compiler.apply_converters(found, compiled.converters)]
    return compiled.names, found


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    for connection in list(_wrappers):
        connection.__dict__.pop(_CACHE_ATTRIBUTE, None)
    _wrappers.clear()
