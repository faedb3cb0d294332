"""Date-times read on PostgreSQL by psycopg's C loader (``eligibility.common.timestamps``): the same
values Django's own loader gives (aware, in UTC, to the microsecond), on every new connection, kept
by Django's cursors and by the prepared statements' cursors alike; and only where they are the same
(the database in UTC)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg.pq import Format

from eligibility.common import compiled
from eligibility.common.timestamps import utc_loader, utc_timestamps_in_c

UTC = datetime.UTC
WRITTEN = ["2024-03-01 10:00:00.123456-05", "2024-03-31 01:59:59.999999+02", "0001-01-01 00:00:00+00",
           "9999-12-31 23:59:59.999999+00", "2000-02-29 12:00:00+05:30"]
READ = [datetime.datetime(2024, 3, 1, 15, 0, 0, 123456, tzinfo=UTC),
        datetime.datetime(2024, 3, 30, 23, 59, 59, 999999, tzinfo=UTC),
        datetime.datetime(1, 1, 1, tzinfo=UTC),
        datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime.datetime(2000, 2, 29, 6, 30, tzinfo=UTC)]
SELECT = "SELECT " + ", ".join(f"'{value}'::timestamptz" for value in WRITTEN) + ", NULL::timestamptz"

postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's loaders (runs in CI)")


@pytest.mark.django_db
@postgresql
def test_a_new_connection_reads_date_times_with_the_c_loader_as_django_would():
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:  # Django's cursor: it would register its own loader if it differed
            cursor.execute(SELECT)
            row = cursor.fetchone()
            assert row == (*READ, None)
            assert all(value.tzinfo is UTC for value in row[:-1])
            loader = cursor.cursor._tx.get_loader(other.connection.adapters.types["timestamptz"].oid, Format.TEXT)
        assert type(loader).__module__.startswith(("psycopg_binary", "psycopg_c"))  # the C one
        assert other.connection.adapters.get_loader(loader.oid, Format.TEXT) is utc_loader()
        # The prepared statements' cursor (server-side binding) reads the same, a parameter too.
        row = compiled.fetch(SELECT + ", %s::timestamptz", ["2024-03-01 10:00:00.5+01"])[0]
        assert row == (*READ, None, datetime.datetime(2024, 3, 1, 9, 0, 0, 500000, tzinfo=UTC))
    finally:
        other.close()


@pytest.mark.django_db
@postgresql
def test_the_loaded_value_is_djangos_loaders_value():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class Django(BaseTzLoader):
        timezone = UTC

    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute(SELECT)
            ours = cursor.fetchone()
            other.connection.adapters.register_loader("timestamptz", Django)
            cursor.execute(SELECT)
            assert cursor.fetchone() == ours
    finally:
        other.close()


class _Adapters:
    def __init__(self):
        self.registered = []

    def register_loader(self, name, loader):
        self.registered.append((name, loader))


class _Connection:
    def __init__(self, vendor, timezone):
        self.vendor, self.timezone = vendor, timezone
        self.connection = type("Raw", (), {"adapters": _Adapters()})()


def test_only_a_postgresql_database_in_utc_gets_it():
    for vendor, timezone, expected in [("postgresql", UTC, True), ("postgresql", ZoneInfo("Europe/Paris"), False),
                                       ("postgresql", None, False), ("sqlite", UTC, False)]:
        target = _Connection(vendor, timezone)
        utc_timestamps_in_c(sender=None, connection=target)
        assert bool(target.connection.adapters.registered) is expected, (vendor, timezone)
