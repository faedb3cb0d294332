"""The worklist's columns of an episode, kept by the database (issue 15: list pages flat in N).

The worklist lists the current episode of each patient not withdrawn, sorted by a column of the
current evaluation (result, counts), of the episode (stage, last change) or of the patient (study
identifier, initials), ties broken by the study identifier. Spread over three tables, no index can
give one page of that order: the database read and sorted every matching patient. These columns put
the filter, each sort key and the tie-break on the episode's row, with a partial index per order.

Triggers keep them, so that every write path (a save, the re-evaluation after a publish, a new
episode, a withdrawal, a corrected identifier, and a bulk or raw update too) leaves them right in
the same statement, under the row locks that statement takes: an episode's row is recomputed
whenever it is written (its patient and current evaluation read by primary key); writing a
patient's identifier, initials, withdrawal or current episode, or an evaluation's result or counts,
writes the episodes concerned again. The ranks are the vocabularies' order as of this migration
(eligibility.common.vocabulary: STAGE_LABELS, OVERALL_LABELS): a change of that order needs a
migration that replaces the functions and rewrites the rows. On SQLite, a later migration that alters
the episodes' table rebuilds it and so drops its triggers: it must create them again (the test
``test_the_triggers_are_there_after_every_migration`` fails until it does).
"""

from django.conf import settings
from django.db import migrations, models

STAGES = ("screening", "pre_apheresis", "pre_lymphodepletion", "pre_infusion")
RESULTS = ("not_eligible", "deferred", "incomplete", "cleared_with_flags", "cleared")


def _rank(column: str, codes) -> str:
    whens = " ".join(f"WHEN '{code}' THEN {position}" for position, code in enumerate(codes))
    return f"(CASE {column} {whens} ELSE {len(codes)} END)"


POSTGRESQL = [
    f"""
CREATE FUNCTION eligibility_worklist_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p RECORD;
    e RECORD;
BEGIN
    SELECT assessment_id, withdrawn_at, study_id, initials INTO p FROM eligibility_patient WHERE id = NEW.patient_id;
    NEW.list_shown := COALESCE(p.assessment_id = NEW.id AND p.withdrawn_at IS NULL, false);
    NEW.list_study := COALESCE(upper(p.study_id), '');
    NEW.list_initials := COALESCE(p.initials, '');
    NEW.list_stage := {_rank("NEW.stage", STAGES)};
    SELECT overall, flag_count, defer_count, exclude_count, missing_count INTO e
        FROM eligibility_evaluation WHERE id = NEW.current_evaluation_id;
    IF FOUND THEN
        NEW.list_evaluated := 1;
        NEW.list_result := {_rank("e.overall", RESULTS)};
        NEW.list_flag := e.flag_count;
        NEW.list_defer := e.defer_count;
        NEW.list_exclude := e.exclude_count;
        NEW.list_missing := e.missing_count;
    ELSE
        NEW.list_evaluated := 0;
        NEW.list_result := 0;
        NEW.list_flag := 0;
        NEW.list_defer := 0;
        NEW.list_exclude := 0;
        NEW.list_missing := 0;
    END IF;
    RETURN NEW;
END $$""",  # noqa: S608 (built from this module's constants only)
    """CREATE TRIGGER eligibility_worklist_row BEFORE INSERT OR UPDATE ON eligibility_assessment
    FOR EACH ROW EXECUTE FUNCTION eligibility_worklist_row()""",
    """
CREATE FUNCTION eligibility_worklist_patient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE eligibility_assessment SET list_shown = list_shown WHERE patient_id = NEW.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER eligibility_worklist_patient AFTER UPDATE OF study_id, initials, withdrawn_at, assessment_id
    ON eligibility_patient FOR EACH ROW
    WHEN (OLD.study_id IS DISTINCT FROM NEW.study_id OR OLD.initials IS DISTINCT FROM NEW.initials
          OR OLD.withdrawn_at IS DISTINCT FROM NEW.withdrawn_at OR OLD.assessment_id IS DISTINCT FROM NEW.assessment_id)
    EXECUTE FUNCTION eligibility_worklist_patient()""",
    """
CREATE FUNCTION eligibility_worklist_evaluation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE eligibility_assessment SET list_shown = list_shown WHERE current_evaluation_id = NEW.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER eligibility_worklist_evaluation
    AFTER UPDATE OF overall, flag_count, defer_count, exclude_count, missing_count ON eligibility_evaluation
    FOR EACH ROW
    WHEN (OLD.overall IS DISTINCT FROM NEW.overall OR OLD.flag_count IS DISTINCT FROM NEW.flag_count
          OR OLD.defer_count IS DISTINCT FROM NEW.defer_count OR OLD.exclude_count IS DISTINCT FROM NEW.exclude_count
          OR OLD.missing_count IS DISTINCT FROM NEW.missing_count)
    EXECUTE FUNCTION eligibility_worklist_evaluation()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS eligibility_worklist_row ON eligibility_assessment",
    "DROP TRIGGER IF EXISTS eligibility_worklist_patient ON eligibility_patient",
    "DROP TRIGGER IF EXISTS eligibility_worklist_evaluation ON eligibility_evaluation",
    "DROP FUNCTION IF EXISTS eligibility_worklist_row()",
    "DROP FUNCTION IF EXISTS eligibility_worklist_patient()",
    "DROP FUNCTION IF EXISTS eligibility_worklist_evaluation()",
]

# SQLite has no BEFORE trigger that sets the new row: an AFTER trigger writes the row again (a
# trigger does not fire itself again: recursive triggers are off, SQLite's default).
_PATIENT = "(SELECT {} FROM eligibility_patient p WHERE p.id = eligibility_assessment.patient_id)"
_EVALUATION = "(SELECT {} FROM eligibility_evaluation e WHERE e.id = eligibility_assessment.current_evaluation_id)"
_RECOMPUTE = f"""UPDATE eligibility_assessment SET
        list_shown = COALESCE({_PATIENT.format("p.assessment_id = eligibility_assessment.id AND p.withdrawn_at IS NULL")}, 0),
        list_study = COALESCE({_PATIENT.format("upper(p.study_id)")}, ''),
        list_initials = COALESCE({_PATIENT.format("p.initials")}, ''),
        list_stage = {_rank("eligibility_assessment.stage", STAGES)},
        list_evaluated = (CASE WHEN eligibility_assessment.current_evaluation_id IS NULL THEN 0 ELSE 1 END),
        list_result = COALESCE({_EVALUATION.format(_rank("e.overall", RESULTS))}, 0),
        list_flag = COALESCE({_EVALUATION.format("e.flag_count")}, 0),
        list_defer = COALESCE({_EVALUATION.format("e.defer_count")}, 0),
        list_exclude = COALESCE({_EVALUATION.format("e.exclude_count")}, 0),
        list_missing = COALESCE({_EVALUATION.format("e.missing_count")}, 0)
    WHERE id = NEW.id;"""  # noqa: S608 (built from this module's constants only)
SQLITE = [
    f"CREATE TRIGGER eligibility_worklist_row_insert AFTER INSERT ON eligibility_assessment BEGIN {_RECOMPUTE} END",
    f"CREATE TRIGGER eligibility_worklist_row_update AFTER UPDATE ON eligibility_assessment BEGIN {_RECOMPUTE} END",
    """CREATE TRIGGER eligibility_worklist_patient AFTER UPDATE OF study_id, initials, withdrawn_at, assessment_id
    ON eligibility_patient FOR EACH ROW
    WHEN OLD.study_id IS NOT NEW.study_id OR OLD.initials IS NOT NEW.initials
         OR OLD.withdrawn_at IS NOT NEW.withdrawn_at OR OLD.assessment_id IS NOT NEW.assessment_id
    BEGIN UPDATE eligibility_assessment SET list_shown = list_shown WHERE patient_id = NEW.id; END""",
    """CREATE TRIGGER eligibility_worklist_evaluation
    AFTER UPDATE OF overall, flag_count, defer_count, exclude_count, missing_count ON eligibility_evaluation
    FOR EACH ROW
    WHEN OLD.overall IS NOT NEW.overall OR OLD.flag_count IS NOT NEW.flag_count OR OLD.defer_count IS NOT NEW.defer_count
         OR OLD.exclude_count IS NOT NEW.exclude_count OR OLD.missing_count IS NOT NEW.missing_count
    BEGIN UPDATE eligibility_assessment SET list_shown = list_shown WHERE current_evaluation_id = NEW.id; END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS eligibility_worklist_row_insert",
    "DROP TRIGGER IF EXISTS eligibility_worklist_row_update",
    "DROP TRIGGER IF EXISTS eligibility_worklist_patient",
    "DROP TRIGGER IF EXISTS eligibility_worklist_evaluation",
]
#: Every existing episode's columns, computed by the triggers.
BACKFILL = "UPDATE eligibility_assessment SET list_shown = list_shown"


def _run(schema_editor, statements) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, [*POSTGRESQL, BACKFILL])
    elif vendor == "sqlite":
        _run(schema_editor, [*SQLITE, BACKFILL])
    else:
        raise NotImplementedError(f"The worklist's triggers exist for PostgreSQL and SQLite, not {vendor}.")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRESQL_DROP if vendor == "postgresql" else SQLITE_DROP)



class Migration(migrations.Migration):

    dependencies = [
        ('eligibility', '0027_episode_permissions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='assessment',
            name='list_defer',
            field=models.SmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_evaluated',
            field=models.SmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_exclude',
            field=models.SmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_flag',
            field=models.SmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_initials',
            field=models.CharField(default='', editable=False, max_length=4),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_missing',
            field=models.SmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_result',
            field=models.SmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_shown',
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_stage',
            field=models.SmallIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='assessment',
            name='list_study',
            field=models.CharField(default='', editable=False, max_length=40),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['list_study'], name='worklist_study_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['list_initials', 'list_study'], name='worklist_initial_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_initials', 'list_study'], name='worklist_initial_d_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['list_stage', 'list_study'], name='worklist_stage_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_stage', 'list_study'], name='worklist_stage_d_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', 'list_result', 'list_study'], name='worklist_result_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', '-list_result', 'list_study'], name='worklist_result_d_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', 'list_flag', 'list_study'], name='worklist_flag_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', '-list_flag', 'list_study'], name='worklist_flag_d_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', 'list_defer', 'list_study'], name='worklist_defer_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', '-list_defer', 'list_study'], name='worklist_defer_d_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', 'list_exclude', 'list_study'], name='worklist_exclude_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', '-list_exclude', 'list_study'], name='worklist_exclude_d_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', 'list_missing', 'list_study'], name='worklist_missing_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-list_evaluated', '-list_missing', 'list_study'], name='worklist_missing_d_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['updated_at', 'list_study'], name='worklist_updated_a_idx'),
        ),
        migrations.AddIndex(
            model_name='assessment',
            index=models.Index(condition=models.Q(('list_shown', True)), fields=['-updated_at', 'list_study'], name='worklist_updated_d_idx'),
        ),
        migrations.AddIndex(
            model_name='question',
            index=models.Index(condition=models.Q(('state', 'closed'), _negated=True), fields=['-state', 'updated_at'],
                               name='question_not_closed_idx'),
        ),
    ]
