"""Hot read queries compiled once: their SQL kept on the database connection.

The worklist's queries are the same on every request (the physicians' queue, a user's permissions):
the ORM building their SQL again each time (five subqueries for the queue) and making model
instances of their rows (three a queue row) was a third of the physician's worklist (cProfile). A
query given here is built by the ORM once per database connection object (``connections[alias]``
is one per thread, kept for the thread's life, so a compiled query is never shared between
threads), then run with its parameters. :func:`rows` gives its rows as tuples, through the ORM's
own converters (SQLite gives dates as text, the ORM parses them), as ``values()`` would give them;
:func:`objects` gives model instances, read by the ORM's own iteration with the compiler kept (its
``as_sql`` answering the SQL built the first time): ``select_related``, annotations and
``prefetch_related`` as usual. A query the ORM knows matches nothing is not kept.

:func:`rows` and :func:`objects` are for a query whose SQL and parameters depend on nothing but its
``key`` (constants: no user, no time, no value typed). :func:`rows_for` and :func:`objects_for` are
for one of values that change per request (a patient's key, an episode's): built once with
stand-ins of the values' types, run with each call's values in their places (nothing of one
request's values is kept for the next). :func:`rows_among` is for a batch's keys. Settings changed
by a test forget them all.
"""

from __future__ import annotations

import copy
import uuid
import weakref
from collections.abc import Callable, Hashable, Iterable, Sequence

from django.core.exceptions import EmptyResultSet
from django.core.signals import setting_changed
from django.db import NotSupportedError, connections
from django.db.models import Prefetch, QuerySet
from django.dispatch import receiver

from .kept import Kept
from .lookups import Keys

_CACHE_ATTRIBUTE = "_compiled_queries"
#: Queries kept per connection (a few tens of KB each); past it, the least recently used is dropped.
KEPT = 128
_wrappers: weakref.WeakSet = weakref.WeakSet()  # the connection objects holding compiled queries


class _Compiled:
    __slots__ = ("sql", "params", "names", "converters", "compiler", "keys_at", "values_at")

    def __init__(self, queryset: QuerySet, alias: str, keys: Keys | None = None,
                 sentinels: Sequence[object] | None = None, twin: tuple | None = None):
        compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()  # also sets up what reading its rows needs (select, klass_info)
        self.params = tuple(params)
        connection = connections[alias]
        #: Where the ``among`` lookup's keys are in the parameters (:func:`rows_among`), or None.
        self.keys_at = None
        if keys is not None:
            found = [index for index, param in enumerate(self.params) if isinstance(param, Keys)]
            if len(found) != 1:
                raise ValueError(f"rows_among: a query with one __among lookup, not {len(found)}")
            self.keys_at = found[0]
        #: Where each value of :func:`objects_for` and :func:`rows_for` goes in the parameters:
        #: (parameter index, value index, as the database takes it), or None.
        self.values_at = None if sentinels is None else _values_at(self.sql, self.params, sentinels, twin)
        if connection.vendor == "postgresql" and keys is None and sentinels is None:
            # The constants written into the SQL, as Django's cursor (binding them in Python) sends them
            # anyway: a statement without parameters, prepared with the plan for these very values (a
            # prepared statement with parameters gets a generic plan, slower here for rare filter values).
            from psycopg import ClientCursor

            connection.ensure_connection()
            self.sql, self.params = ClientCursor(connection.connection).mogrify(self.sql, self.params), ()
        sql, kept = self.sql, self.params
        compiler.as_sql = lambda *args, **kwargs: (sql, kept)  # this compiler's SQL, built once
        self.names = _names(queryset)
        fields = [column[0] for column in compiler.select[:compiler.col_count]]
        self.converters = converters = compiler.get_converters(fields)

        def kept_converters(expressions):
            # The ORM's iteration asks for them on every run (each column's field and backend asked
            # again: a sixth of a checklist page's ORM time, cProfile): the same columns every run.
            if len(expressions) != len(fields):
                raise RuntimeError("compiled: a kept query asked for the converters of other columns")
            return converters

        compiler.get_converters = kept_converters
        self.compiler = compiler


def _names(queryset: QuerySet) -> tuple[str, ...]:
    """The column names of a ``values()`` queryset's rows, in the order the ORM selects them: as
    ``values()`` named them (Django 5.2 keeps that order in ``Query.selected``, annotations among
    the fields), else its extra columns, fields, then annotations."""
    query = queryset.query
    if query.selected is not None:
        return tuple(query.selected)
    return (*query.extra_select, *query.values_select, *query.annotation_select)


def _cache(connection) -> dict:
    cache = connection.__dict__.get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = connection.__dict__[_CACHE_ATTRIBUTE] = {}
        _wrappers.add(connection)
    return cache


def _compiled(key: Hashable, build: Callable[[], QuerySet], using: str,
              keys: Keys | None = None) -> tuple[QuerySet, _Compiled | None]:
    """The queryset of ``key`` and its compiled SQL (``None``: the query matches nothing, as the ORM
    knows before asking the database: not kept). ``keys``: :func:`rows_among`'s."""
    cache = _cache(connections[using])
    found = cache.pop(key, None)
    if found is not None:
        cache[key] = found  # the most recently used last: the least recently used goes first
    else:
        queryset = build() if keys is None else build(keys)
        try:
            compiled = _Compiled(queryset, using, keys)
        except EmptyResultSet:
            return queryset, None
        if len(cache) >= KEPT:
            cache.pop(next(iter(cache)))
        found = cache[key] = (queryset, compiled)
    return found


def _fetch(compiled: _Compiled, using: str, params: Sequence[object] | None = None) -> list:
    """Run ``compiled``'s SQL and fetch its rows (as the database driver gives them); ``params``:
    those of :func:`rows_for` and :func:`objects_for` (with their values in place), bound on the
    server on PostgreSQL (a constant query's are in its SQL there): see :func:`fetch`."""
    if params is None:
        params = compiled.params
        if not params and connections[using].vendor == "postgresql":
            params = None  # a constant query: its constants written into its SQL, run as written
    return fetch(compiled.sql, params, using=using)


def fetch(sql: str, params: Sequence[object] | None = None, *, using: str = "default") -> list:
    """The rows (tuples, as the database driver gives them) of a read statement: ``sql`` with ``%s``
    placeholders, whose text is the same on every run (names from the models' meta, never a value),
    ``params`` its values. For the compiled queries above and for hand-written hot ones (a user's
    permissions, on every page).

    PostgreSQL: through a psycopg cursor of the kind that can prepare statements (Django's own bind
    parameters in Python and cannot), made and wrapped as Django makes and wraps its cursors (the
    connection's time zone; the queries counted, logged and wrapped as any other), so that psycopg
    prepares a statement run five times on the connection (``prepare_threshold``): the server plans
    it once, not on every request (2 ms of each page query's 3 ms at 100,000 open assessments,
    ``EXPLAIN ANALYZE``'s planning time). psycopg forgets them on a rollback (they are prepared
    again five runs later). A statement prepared before a migration changed a column it reads fails
    ("cached plan must not change result type"): outside a transaction, the connection's prepared
    statements are dropped and it runs once more. Behind a pooler that cannot keep prepared
    statements, ``prepare_threshold`` None (settings) turns them off. Other databases: Django's cursor.
    ``params`` None: the SQL is run as written (not read for placeholders); given, even empty, a
    literal ``%`` in the SQL is written ``%%`` (as for Django's cursor)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    try:
        return _fetch_prepared(connection, sql, params)
    except NotSupportedError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "0A000" or connection.in_atomic_block:
            raise
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")  # psycopg forgets what it had prepared too
        return _fetch_prepared(connection, sql, params)


def _fetch_prepared(connection, sql: str, params: Sequence[object] | None = None) -> list:
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    connection.validate_thread_sharing()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)
        if connection.timezone != connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
            register_tzloader(connection.timezone, raw)  # as Django's create_cursor does
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        cursor.execute(sql, params)  # constants: in the SQL (_Compiled); values: bound on the server
        return cursor.fetchall()


def rows(key: Hashable, build: Callable[[], QuerySet], *, using: str = "default") -> tuple[Sequence[str], list]:
    """The rows of ``build()`` (a ``values()`` queryset whose SQL and parameters depend on ``key``
    alone) as tuples, with the names of their columns: the queryset is built and compiled the first
    time ``key`` is asked for on this connection, then its SQL is only run."""
    queryset, compiled = _compiled(key, build, using)
    if compiled is None:
        return _names(queryset), []
    return compiled.names, _converted(compiled, _fetch(compiled, using))


def made_rows(key: Hashable, build: Callable[[], QuerySet], make: Callable[[dict], object], made: Kept, *,
              using: str = "default") -> list:
    """See :func:`made_rows_with` (all the columns are the row's own)."""
    return made_rows_with(key, build, make, made, using=using)[0]


def made_rows_with(key: Hashable, build: Callable[[], QuerySet], make: Callable[[dict], object], made: Kept,
                   *, own: int | None = None, using: str = "default") -> tuple[list, dict | None]:
    """:func:`rows`, each made into an object by ``make`` (given the row as a dict of its columns)
    once per process for the same row: ``made`` (a bounded ``Kept``) keeps the objects by the row as the database driver
    gave it (every value of every column, before the ORM's converters), so a row read again with
    even one value changed is made again. ``make`` must depend on the row alone, and its objects
    must not be changed afterwards: they are shared by every request that reads the same row.

    ``own``: the number of leading columns that are the row's own (its object is made from and kept
    by those); the others are the statement's (the same on every row: a page's count), given apart
    as a dict from the first row (None without rows), so that a change to them makes no row again."""
    queryset, compiled = _compiled(key, build, using)
    if compiled is None:
        return [], None
    names, found, shown = compiled.names, _fetch(compiled, using), []
    own = len(names) if own is None else own
    for raw in found:
        row = tuple(raw)[:own]
        try:
            obj, keep = made.get(row), True
        except TypeError:  # a value that cannot be a key (an array): made every time
            obj, keep = None, False
        if obj is None:
            obj = make(dict(zip(names[:own], _converted(compiled, [tuple(raw)])[0][:own], strict=True)))
            if keep:
                made.put(row, obj)
        shown.append(obj)
    tail = None
    if found and own < len(names):
        tail = dict(zip(names[own:], _converted(compiled, [tuple(found[0])])[0][own:], strict=True))
    return shown, tail


def _converted(compiled: _Compiled, found: list) -> list:
    """The rows as the ORM gives them (its converters: SQLite's dates, JSON decoded)."""
    if compiled.converters:
        return [tuple(row) for row in compiled.compiler.apply_converters(found, compiled.converters)]
    return found


def rows_among(key: Hashable, build: Callable[[Keys], QuerySet], keys: Iterable[int], *,
               using: str = "default") -> tuple[Sequence[str], list]:
    """:func:`rows` of a query filtered by ``__among=`` keys that change from run to run (a batch's
    rows): ``build(keys)`` makes the ``values()`` queryset for the keys it is given, its SQL and its
    other parameters depending on ``key`` alone. Built and compiled the first time ``key`` is asked
    for on this connection; then only run, with these ``keys`` in the place of the first ones (the
    ``among`` lookup's one parameter: the statement's text is the same whatever the keys). Run as
    Django runs any statement (not prepared: a plan for each batch's keys)."""
    keys = keys if isinstance(keys, Keys) else Keys(keys)
    queryset, compiled = _compiled(("among", key), build, using, keys)  # never mistaken for a rows() key
    if compiled is None:  # never kept: the ORM knew the query matched nothing, whatever the keys
        return _names(queryset), []
    params = list(compiled.params)
    params[compiled.keys_at] = keys
    with connections[using].cursor() as cursor:
        cursor.execute(compiled.sql, params)
        return compiled.names, _converted(compiled, cursor.fetchall())


def _sentinel(value: object, index: int, variant: int) -> object:
    """A stand-in for the ``index``-th value of a parameterised query, of the value's type: the query
    is built twice, with two variants of each, and the places where the two builds differ are the
    values' (:func:`_values_at`)."""
    if isinstance(value, bool) or not isinstance(value, (int, uuid.UUID, str)):
        raise TypeError(f"compiled: a query's values are integers, UUIDs or strings, not {type(value).__name__}")
    if isinstance(value, int):
        # Within every integer column's range, small and positive ones included (the ORM knows a
        # value out of a column's range matches nothing, or drops a comparison with it).
        return 30011 + 2 * index + variant
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=(0xC0DE_D0C5 << 96) + 2 * index + variant)
    # With the characters a pattern lookup escapes or adds (``__iexact``, ``__contains``): changed,
    # so refused, rather than a value put in unescaped.
    return f"\x1f%_compiled value {index}.{variant}\x1f"


def _form(param: object, sentinel: object) -> object:
    """How ``param`` holds ``sentinel``: ``None`` as itself, ``"hex"`` a UUID as its hex (as
    ``UUIDField`` sends it where the database has no such type), the class wrapping an integer
    (psycopg's ``Int8``, as Django wraps a big integer); ``False`` if it does not hold it."""
    if type(param) is type(sentinel) and param == sentinel:
        return None
    if isinstance(sentinel, int) and isinstance(param, int) and not isinstance(param, bool) and param == sentinel:
        return type(param)
    if isinstance(sentinel, uuid.UUID) and param == sentinel.hex:
        return "hex"
    return False


def _values_at(sql: str, params: Sequence[object], sentinels: Sequence[object], twin: tuple) -> tuple:
    """Where each value is in a compiled query's parameters, and in what form the database takes it:
    (parameter index, value index, form). ``twin``: the SQL and parameters of the same query built
    with the other stand-ins. A place is a value's where the two builds hold their own stand-in in
    the same form; every other parameter and the SQL must be the same in both. Refused: a value
    never used, changed by a lookup, written into the SQL (a slice's LIMIT), or deciding its text."""
    twin_sql, twin_params, twin_sentinels = twin
    if twin_sql != sql or len(twin_params) != len(params):
        raise ValueError("compiled: the query's SQL depends on its values (written into it, not parameters)")
    places, found = [], set()
    for position, (param, other) in enumerate(zip(params, twin_params, strict=True)):
        for index, (sentinel, other_sentinel) in enumerate(zip(sentinels, twin_sentinels, strict=True)):
            form = _form(param, sentinel)
            if form is not False and _form(other, other_sentinel) == form:
                places.append((position, index, form))
                found.add(index)
                break
        else:
            if param != other:
                raise ValueError(f"compiled: parameter {position} of the query depends on its values, changed")
    if len(found) != len(sentinels):
        missing = sorted(set(range(len(sentinels))) - found)
        raise ValueError(f"compiled: value(s) {missing} of the query are not parameters of its SQL as given")
    return tuple(places)


def _bound(compiled: _Compiled, values: Sequence[object]) -> list:
    """The compiled query's parameters with ``values`` in their places (each of the type the query was
    first built with: a value of another type would be compared otherwise by the database)."""
    params = list(compiled.params)
    for position, index, form in compiled.values_at:
        value = values[index]
        if form == "hex":
            if not isinstance(value, uuid.UUID):
                raise TypeError(f"compiled: value {index} was a UUID when the query was built")
            value = value.hex
        elif form is not None:  # an integer, wrapped as the ORM wrapped the stand-in
            if type(value) is not int:
                raise TypeError(f"compiled: value {index} was an int when the query was built")
            value = form(value)
        elif type(value) is not type(params[position]):
            raise TypeError(f"compiled: value {index} was a {type(params[position]).__name__} when the query was built")
        params[position] = value
    return params


def _compiled_for(key: Hashable, build: Callable[..., QuerySet], values: Sequence[object],
                  using: str) -> tuple[QuerySet, _Compiled | None, list | None]:
    """The queryset and compiled SQL of a parameterised query (built once per connection with
    stand-ins for its values), and the parameters for these ``values`` (None: not kept)."""
    cache = _cache(connections[using])
    found = cache.pop(("for", key), None)
    if found is not None:
        cache[("for", key)] = found
    else:
        sentinels = [_sentinel(value, index, 0) for index, value in enumerate(values)]
        twins = [_sentinel(value, index, 1) for index, value in enumerate(values)]
        queryset = build(*sentinels)
        try:
            twin_sql, twin_params = build(*twins).query.get_compiler(using=using).as_sql()
            compiled = _Compiled(queryset, using, sentinels=sentinels, twin=(twin_sql, tuple(twin_params), twins))
        except EmptyResultSet:  # the ORM knew, from the stand-ins, that nothing matches: kept as such
            compiled = None
        if len(cache) >= KEPT:
            cache.pop(next(iter(cache)))
        found = cache[("for", key)] = (queryset, compiled)
    queryset, compiled = found
    if compiled is None:  # built for these values each time, the ORM deciding what they match
        return build(*values), None, None
    return queryset, compiled, _bound(compiled, values)


def rows_for(key: Hashable, build: Callable[..., QuerySet], *values: object,
             using: str = "default") -> tuple[Sequence[str], list]:
    """:func:`rows` of a query of some values that change from request to request (a patient's
    key): ``build(*values)`` makes the ``values()`` queryset, its SQL otherwise depending on ``key``
    alone, each value used as a parameter as given (an equality, ``__in``; not a ``__contains``).
    Built and compiled the first time ``key`` is asked for on this connection, with stand-ins of
    the values' types; then run with the values in their places. The values are integers, UUIDs
    or strings, of the same type at every call of a key."""
    queryset, compiled, params = _compiled_for(key, build, values, using)
    if compiled is None:
        names = _names(queryset)
        return names, [tuple(row[name] for name in names) for row in queryset]
    return compiled.names, _converted(compiled, _fetch(compiled, using, params))


def objects_for(key: Hashable, build: Callable[..., QuerySet], *values: object, using: str = "default") -> list:
    """:func:`objects` of a query of some values that change from request to request, as
    :func:`rows_for` builds and runs it (``select_related`` and ``prefetch_related`` as usual)."""
    queryset, compiled, params = _compiled_for(key, build, values, using)
    if compiled is None:
        return list(queryset)
    return _instances(queryset, compiled, _fetch(compiled, using, params))


def first_for(key: Hashable, build: Callable[..., QuerySet], *values: object, using: str = "default"):
    """The first instance of :func:`objects_for`'s query, or None, as ``QuerySet.first()`` gives it
    (by the primary key when the queryset has no order)."""
    def first(*stand_ins: object) -> QuerySet:
        found = build(*stand_ins)
        return (found if found.ordered else found.order_by("pk"))[:1]

    found = objects_for(key, first, *values, using=using)
    return found[0] if found else None


def _instances(queryset: QuerySet, compiled: _Compiled, found: list) -> list:
    """The ORM's own iteration of a copy of ``queryset``, given its kept compiler and these rows.

    The copy has its own hints and its own ``Prefetch`` objects and their querysets: prefetching
    writes the first row it reads into the hints of the queryset it uses, which would otherwise keep
    one request's row (a patient's data) on the connection until the next run."""
    compiler = compiled.compiler
    compiler.execute_sql = lambda *args, **kwargs: iter([found])  # this run's rows (one thread per connection)
    try:
        run = queryset._chain()  # no results kept from an earlier run
        run._hints = dict(queryset._hints)
        run._prefetch_related_lookups = tuple(_own(lookup) for lookup in run._prefetch_related_lookups)
        run.query.get_compiler = lambda *args, **kwargs: compiler
        return list(run)
    finally:
        del compiler.execute_sql


def _own(lookup):
    """A ``Prefetch`` of a kept query, copied with a copy of its queryset for one run."""
    if not isinstance(lookup, Prefetch):
        return lookup
    lookup = copy.copy(lookup)
    if lookup.queryset is not None:
        lookup.queryset = lookup.queryset._chain()
        lookup.queryset._hints = {}
        lookup.queryset._prefetch_related_lookups = tuple(
            _own(inner) for inner in lookup.queryset._prefetch_related_lookups)
    return lookup


def objects(key: Hashable, build: Callable[[], QuerySet], *, using: str = "default") -> list:
    """The model instances of ``build()`` (a queryset of models, ``select_related``, annotations and
    ``prefetch_related`` as the ORM does them, its SQL and parameters depending on ``key`` alone): the
    queryset is built and compiled the first time ``key`` is asked for on this connection; then its
    rows are fetched (:func:`_fetch`) and a copy of the queryset makes its instances through the
    ORM's own iteration, given the compiler kept and those rows."""
    queryset, compiled = _compiled(key, build, using)
    if compiled is None:
        return list(queryset)
    return _instances(queryset, compiled, _fetch(compiled, using))


@receiver(setting_changed)
def _forget(**kwargs) -> None:
    for connection in list(_wrappers):
        connection.__dict__.pop(_CACHE_ATTRIBUTE, None)
    _wrappers.clear()
