"""PostgreSQL: an evaluation's inputs and checklist in ``json`` columns rather than ``jsonb``.

They are documents kept whole (``JSONDocumentField``): written once, read whole, never queried
inside. ``jsonb`` parsed each one into its binary form on insert and printed it back to text on every
read. Measured here (PostgreSQL 15, 10,000 checklists and their inputs from a seeded programme, about
9 KB and 2 KB of JSON, LZ4 compression): inserted as ``jsonb`` 1.87 s, as ``json`` 0.97 s; the
checklists read back as text 0.49 s and 0.23 s. A publish inserts one evaluation for every open
assessment; the checklist and patient pages read them.

``ALTER COLUMN ... TYPE`` rewrites the table (35 s for 100,000 evaluations here, the table locked
meanwhile) and would reset the columns' compression: the same statement sets LZ4 again, as
migration 0030 did (where the server has it), so every rewritten value is compressed with it.
SQLite: the columns are text either way, nothing is rewritten.

Stop the application servers and task workers running the previous code before applying it (the
README's Upgrading): without this version's ``json_columns_as_text`` the driver hands them these
columns decoded, which the previous field cannot read.
"""

from django.db import migrations

import eligibility.common.jsoncodec

COLUMNS = ("checklist", "inputs")


def _alter(schema_editor, to_type: str, compression: str) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
                       [compression])
        row = cursor.fetchone()
        alterations = [f"ALTER COLUMN {quote(c)} TYPE {to_type} USING {quote(c)}::{to_type}" for c in COLUMNS]
        if row and row[0]:
            # In the same statement: the rewrite, which runs after its clauses, writes every value
            # with it (a change of type alone resets the column's compression to the default).
            alterations += [f"ALTER COLUMN {quote(c)} SET COMPRESSION {compression}" for c in COLUMNS]
        table = quote("eligibility_evaluation")
        cursor.execute(f"ALTER TABLE {table} " + ", ".join(alterations))


def to_json(apps, schema_editor):
    _alter(schema_editor, "json", "lz4")


def to_jsonb(apps, schema_editor):
    _alter(schema_editor, "jsonb", "lz4")


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0033_worklist_counts_sqlite"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="evaluation",
                    name="checklist",
                    field=eligibility.common.jsoncodec.JSONDocumentField(
                        decoder=eligibility.common.jsoncodec.CompactJSONDecoder,
                        encoder=eligibility.common.jsoncodec.CompactJSONEncoder,
                        help_text="The checklist of criteria.md section 4."),
                ),
                migrations.AlterField(
                    model_name="evaluation",
                    name="inputs",
                    field=eligibility.common.jsoncodec.JSONDocumentField(
                        decoder=eligibility.common.jsoncodec.CompactJSONDecoder,
                        encoder=eligibility.common.jsoncodec.CompactJSONEncoder,
                        help_text="The case as evaluated (snapshot)."),
                ),
            ],
            database_operations=[migrations.RunPython(to_json, to_jsonb, elidable=False)],
        ),
    ]
