"""PostgreSQL: the large JSON columns compressed with LZ4 rather than PostgreSQL's own pglz.

A checklist is about 9 KB of JSON, stored out of line and compressed. pglz compressing it was half of
the database's time for inserting an evaluation (0.30 ms of 0.42 ms a row measured here on
PostgreSQL 15: 5,000 checklists and their inputs as jsonb, 1.52 s with pglz, 0.76 s with LZ4), and a
publish inserts one for every open assessment; LZ4 also decompresses faster when a page reads one.

Only new values are written with LZ4 (nothing is rewritten: the change is instant at any size),
and PostgreSQL reads either. A server built without LZ4 (it is optional at build time) keeps pglz:
the migration checks ``default_toast_compression``'s allowed values first. SQLite: nothing to do.
"""

from django.db import migrations

COLUMNS = {
    "eligibility_evaluation": ("checklist", "inputs", "changes"),
    "eligibility_assessment": ("data",),
}


def _set_compression(schema_editor, method: str) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'", [method])
        row = cursor.fetchone()
        if not row or not row[0]:
            return  # this server has no such method: the columns keep what they have
        quote = connection.ops.quote_name
        for table, columns in COLUMNS.items():
            alterations = ", ".join(f"ALTER COLUMN {quote(column)} SET COMPRESSION {method}" for column in columns)
            cursor.execute(f"ALTER TABLE {quote(table)} {alterations}")


def to_lz4(apps, schema_editor):
    _set_compression(schema_editor, "lz4")


def to_pglz(apps, schema_editor):
    _set_compression(schema_editor, "pglz")


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0029_ruleset_preview")]

    operations = [migrations.RunPython(to_lz4, to_pglz, elidable=False)]
