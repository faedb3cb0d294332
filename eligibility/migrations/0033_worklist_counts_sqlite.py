"""The worklist's caption count kept by SQLite too (migration 0032 keeps it on PostgreSQL): row
triggers on the episodes' table append the change of the listed rows' number per (evaluated, result
rank, stage rank) to ``eligibility_worklistcount`` whenever a statement moves a row between groups,
into or out of the list. SQLite has no statement triggers nor transition tables: each row's change
is two deltas (its old group -1, its new group +1), appended only when the group or the listing
changes. The worklist columns are set by an AFTER trigger writing the row again (migration 0028);
that write fires these triggers as any other, so the deltas of one save add up to the row's change
from before the save to after the recomputation, whatever order SQLite fires the triggers in.
PostgreSQL: nothing (its statement triggers of 0032).
"""

from django.db import migrations

_GROUP_MOVED = ("OLD.list_shown IS NOT NEW.list_shown OR ((OLD.list_shown OR NEW.list_shown) AND ("
                "OLD.list_evaluated IS NOT NEW.list_evaluated OR OLD.list_result IS NOT NEW.list_result "
                "OR OLD.list_stage IS NOT NEW.list_stage))")
_OUT = ("INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta) "
        "SELECT OLD.list_evaluated, OLD.list_result, OLD.list_stage, -1 WHERE OLD.list_shown;")
_IN = ("INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta) "
       "SELECT NEW.list_evaluated, NEW.list_result, NEW.list_stage, 1 WHERE NEW.list_shown;")
SQLITE = [
    f"""CREATE TRIGGER eligibility_worklist_count_insert AFTER INSERT ON eligibility_assessment
    FOR EACH ROW WHEN NEW.list_shown BEGIN {_IN} END""",
    f"""CREATE TRIGGER eligibility_worklist_count_update
    AFTER UPDATE OF list_shown, list_evaluated, list_result, list_stage ON eligibility_assessment
    FOR EACH ROW WHEN {_GROUP_MOVED} BEGIN {_OUT} {_IN} END""",
    f"""CREATE TRIGGER eligibility_worklist_count_delete AFTER DELETE ON eligibility_assessment
    FOR EACH ROW WHEN OLD.list_shown BEGIN {_OUT} END""",
    # What the list holds now (the table is empty on SQLite until this migration).
    """INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta)
    SELECT list_evaluated, list_result, list_stage, count(*) FROM eligibility_assessment WHERE list_shown
    GROUP BY 1, 2, 3""",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS eligibility_worklist_count_{event}" for event in ("insert", "update", "delete")]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)
        schema_editor.execute("DELETE FROM eligibility_worklistcount", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('eligibility', '0032_worklist_counts'),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
