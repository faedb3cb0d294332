"""Date-times read from PostgreSQL by psycopg's C loader, not Django's Python one.

Django reads every ``timestamp with time zone`` value through a loader of its own
(``psycopg_any.BaseTzLoader``): psycopg's Python parser, then ``replace(tzinfo=...)``, about 1.5 µs
a value. A physician's worklist reads about 140 of them (when each row's episode changed, when its
stage was marked ready, when each queued checklist was evaluated); the C loader of psycopg's
binary package reads each in a tenth of that. With Django's time zone handling as this project sets
it (``USE_TZ``, the database in UTC: ``connection.timezone`` is ``datetime.timezone.utc``, and the
session's ``TimeZone`` is UTC), the C loader gives the same value: an aware date-time in
``datetime.timezone.utc``. Any other set-up, or psycopg without its C implementation, keeps Django's.
"""

from __future__ import annotations

import datetime
from functools import cache
from typing import Any


def utc_timestamps_in_c(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created``: on PostgreSQL (psycopg 3 with its C implementation) with the
    database in UTC, ``timestamptz`` values are read by :func:`utc_loader`."""
    if connection.vendor != "postgresql" or connection.timezone is not datetime.UTC:
        return
    loader = utc_loader()
    if loader is not None:
        connection.connection.adapters.register_loader("timestamptz", loader)


@cache
def utc_loader() -> type | None:
    """psycopg's C loader of ``timestamptz`` text, with the ``timezone`` Django looks for on a
    connection's loader (``create_cursor`` registers its own when it differs from the
    connection's); None without psycopg 3's C implementation."""
    try:
        import psycopg
        from psycopg.pq import Format
    except ImportError:  # psycopg2: Django's own handling
        return None
    if psycopg.pq.__impl__ not in ("c", "binary"):
        return None
    c_loader = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)

    class UtcTimestamptzLoader:
        """Makes psycopg's C loader (a class that cannot be subclassed), which psycopg then calls
        directly; ``timezone``: what Django compares with the connection's."""

        timezone = datetime.UTC
        format = Format.TEXT

        def __new__(cls, oid: int, context: Any = None) -> Any:
            return c_loader(oid, context)

    return UtcTimestamptzLoader
