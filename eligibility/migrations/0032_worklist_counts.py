"""The worklist's caption count kept by the database (PostgreSQL): statement triggers on the
episodes' table append the change of the listed rows' number per (evaluated, result rank, stage
rank) to ``eligibility_worklistcount`` (see ``WorklistCount``), from the rows before and after the
statement (transition tables; the row trigger of migration 0028 has already set their ``list_*``
columns). An update that moves no row between groups (a re-evaluation keeping the result) adds
nothing. Every write path reaches it: the ORM, bulk and raw updates, and the patients' and
evaluations' triggers, which update the episodes. SQLite: nothing (the worklist counts its rows).
"""

from django.db import migrations, models

_CHANGES = {
    "INSERT": "SELECT list_evaluated, list_result, list_stage, count(*) FROM new_rows WHERE list_shown GROUP BY 1, 2, 3",
    "DELETE": "SELECT list_evaluated, list_result, list_stage, -count(*) FROM old_rows WHERE list_shown GROUP BY 1, 2, 3",
    "UPDATE": """SELECT evaluated, result, stage, sum(delta) FROM (
            SELECT list_evaluated AS evaluated, list_result AS result, list_stage AS stage, -1 AS delta
            FROM old_rows WHERE list_shown
            UNION ALL
            SELECT list_evaluated, list_result, list_stage, 1 FROM new_rows WHERE list_shown) AS moved
        GROUP BY 1, 2, 3 HAVING sum(delta) <> 0""",
}
_TABLES = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
           "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}
POSTGRESQL = [
    f"""CREATE FUNCTION eligibility_worklist_count_{event.lower()}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta) {changes};
        RETURN NULL;
    END $$"""
    for event, changes in _CHANGES.items()
] + [
    f"""CREATE TRIGGER eligibility_worklist_count_{event.lower()} AFTER {event} ON eligibility_assessment
    REFERENCING {_TABLES[event]} FOR EACH STATEMENT EXECUTE FUNCTION eligibility_worklist_count_{event.lower()}()"""
    for event in _CHANGES
] + [
    """INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta)
    SELECT list_evaluated, list_result, list_stage, count(*) FROM eligibility_assessment WHERE list_shown
    GROUP BY 1, 2, 3""",
]
POSTGRESQL_DROP = [f"DROP TRIGGER IF EXISTS eligibility_worklist_count_{event.lower()} ON eligibility_assessment"
                   for event in _CHANGES] + [
    f"DROP FUNCTION IF EXISTS eligibility_worklist_count_{event.lower()}()" for event in _CHANGES]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL:
            schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('eligibility', '0031_reevaluation_parts'),
    ]

    operations = [
        migrations.CreateModel(
            name='WorklistCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('evaluated', models.SmallIntegerField()),
                ('result', models.SmallIntegerField()),
                ('stage', models.SmallIntegerField()),
                ('delta', models.IntegerField()),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
