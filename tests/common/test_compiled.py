"""Queries compiled once per connection (``eligibility.common.compiled``)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from eligibility.common import compiled
from eligibility.common.kept import Kept

pytestmark = pytest.mark.django_db


def _groups(calls: list):
    def build():
        calls.append(1)
        return Group.objects.filter(name__startswith="Compiled").order_by("name").values("name", "id")
    return build


def test_built_once_then_run_again_with_the_rows_of_the_moment():
    calls = []
    Group.objects.create(name="Compiled A")
    names, first = compiled.rows("test groups", _groups(calls))
    Group.objects.create(name="Compiled B")
    with CaptureQueriesContext(connection) as queries:
        _, second = compiled.rows("test groups", _groups(calls))

    assert names == ("name", "id")
    assert [row[0] for row in first] == ["Compiled A"]
    assert [row[0] for row in second] == ["Compiled A", "Compiled B"]
    assert len(calls) == 1  # the second call only ran the SQL
    assert len(queries) == 1  # through Django's cursor: counted, logged as any query


def test_rows_come_through_the_orms_converters(coordinator):
    """SQLite returns a date and time as text; the row has the datetime the ORM would give."""
    from django.contrib.auth.models import User

    names, found = compiled.rows("test joined", lambda: User.objects.filter(pk=coordinator.pk).values("date_joined"))
    assert names == ("date_joined",)
    assert isinstance(found[0][0], datetime.datetime)
    assert found[0][0] == User.objects.get(pk=coordinator.pk).date_joined


def test_rows_names_follow_the_values_order_with_annotations_among_the_fields():
    """``values()`` selects in the order it names its columns, an annotation between two fields."""
    from django.db.models import Count, Value

    Group.objects.create(name="Compiled order")
    names, found = compiled.rows("test order", lambda: Group.objects.filter(name="Compiled order").annotate(
        members=Count("user"), word=Value("w")).values("name", "members", "id", "word"))
    assert names == ("name", "members", "id", "word")
    assert found == [("Compiled order", 0, Group.objects.get(name="Compiled order").pk, "w")]


def test_a_setting_changed_forgets_them(settings):
    calls = []
    compiled.rows("test forget", _groups(calls))
    settings.USE_THOUSAND_SEPARATOR = not settings.USE_THOUSAND_SEPARATOR
    compiled.rows("test forget", _groups(calls))
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_each_thread_compiles_on_its_own_connection():
    """A compiled query belongs to one connection object: another thread (its own connection)
    builds its own, never runs the first thread's."""
    calls = []
    compiled.rows("test threads", _groups(calls))
    held = []

    def other():
        try:
            compiled.rows("test threads", _groups(calls))
            held.append(connections["default"].__dict__.get("_compiled_queries", {}).keys())
        finally:
            connections.close_all()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(calls) == 2
    assert list(held[0]) == ["test threads"]


def test_objects_are_the_orms_with_their_related_rows_and_annotations():
    from django.contrib.auth.models import Permission
    from django.db.models import Count, Q

    group = Group.objects.create(name="Compiled readers")
    group.permissions.add(*Permission.objects.filter(codename__in=["view_patient", "view_question"]))

    def build():
        calls.append(1)
        return (Permission.objects.select_related("content_type").filter(group__name="Compiled readers")
                .annotate(groups=Count("group")).order_by("codename"))

    calls = []
    first = compiled.objects("test permissions", build)
    group.permissions.remove(Permission.objects.get(codename="view_question"))
    with CaptureQueriesContext(connection) as queries:
        second = compiled.objects("test permissions", build)
        shown = [(permission.content_type.app_label, permission.codename, permission.groups) for permission in second]

    assert [permission.codename for permission in first] == ["view_patient", "view_question"]
    assert shown == [("eligibility", "view_patient", 1)]
    assert len(calls) == 1 and len(queries) == 1  # the content type joined, not looked up again

    # A query the ORM knows matches nothing: no SQL, nothing kept, asked again each time.
    nothing = []
    assert compiled.objects("test nothing", lambda: nothing.append(1) or Group.objects.filter(Q(pk__in=[]))) == []
    assert compiled.objects("test nothing", lambda: nothing.append(1) or Group.objects.filter(Q(pk__in=[]))) == []
    assert len(nothing) == 2
    # Its rows: none, under the names a run with rows gives (annotations included).

    assert compiled.rows("test nothing named", lambda: Group.objects.filter(Q(pk__in=[])).values("name").annotate(
        members=Count("user"))) == (("name", "members"), [])


def test_at_most_kept_queries_a_connection(monkeypatch):
    monkeypatch.setattr(compiled, "KEPT", 2)
    calls = []
    for key in ("one", "two", "three"):
        compiled.rows(key, _groups(calls))
    compiled.rows("three", _groups(calls))
    compiled.rows("one", _groups(calls))  # the least recently used: dropped for "three"
    assert len(calls) == 4
    compiled.rows("three", _groups(calls))  # used since: kept when "one" came back, "two" went
    assert len(calls) == 4
    assert len(connections["default"].__dict__["_compiled_queries"]) == 2


def test_constants_with_quotes_and_percent_signs_read_back_as_the_orm_reads_them():
    """PostgreSQL: the constants are written into the SQL (psycopg's quoting); SQLite: bound."""
    name = "Compiled O'Brien 100% %s"
    Group.objects.create(name=name)
    Group.objects.create(name="Compiled other")
    _, found = compiled.rows("test quoting", lambda: Group.objects.filter(name=name).values("name"))
    assert found == [(name,)]
    _, found = compiled.rows("test quoting", lambda: Group.objects.filter(name=name).values("name"))
    assert found == [(name,)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's (runs in CI)")
def test_postgresql_prepares_a_compiled_query_run_five_times_on_the_connection():
    from django.contrib.auth.models import Permission

    def build():
        return Permission.objects.filter(codename="view_patient").values("codename")

    for _ in range(6):
        _, found = compiled.rows("test prepared", build)
        assert found == [("view_patient",)]
    _, compiled_query = connections["default"].__dict__["_compiled_queries"]["test prepared"]
    assert compiled_query.params == ()  # the constant in the SQL: a plan for that value
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [compiled_query.sql])
        assert cursor.fetchone()[0] == 1


def test_fetch_runs_a_hand_written_statement_with_its_values_as_any_query():
    Group.objects.create(name="Compiled fetched")
    Group.objects.create(name="Compiled other")
    sql = f"SELECT name FROM {Group._meta.db_table} WHERE name = %s"  # noqa: S608
    with CaptureQueriesContext(connection) as queries:
        assert compiled.fetch(sql, ["Compiled fetched"]) == [("Compiled fetched",)]
        assert compiled.fetch(sql, ["Compiled other"]) == [("Compiled other",)]
        assert compiled.fetch(sql, ["Compiled none"]) == []
    assert len(queries) == 3  # counted and logged as any query


def test_fetch_without_values_runs_the_sql_as_written_a_percent_sign_included():
    Group.objects.create(name="Compiled 100%")
    table = Group._meta.db_table
    assert compiled.fetch(f"SELECT name FROM {table} WHERE name LIKE 'Compiled 100%'") == [("Compiled 100%",)]  # noqa: S608


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's (runs in CI)")
def test_postgresql_prepares_a_fetched_statement_run_five_times_on_the_connection():
    sql = f"SELECT name FROM {Group._meta.db_table} WHERE name = %s ORDER BY id"  # noqa: S608
    for run in range(6):
        compiled.fetch(sql, [f"Compiled {run}"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       [f"SELECT name FROM {Group._meta.db_table} WHERE name = $1 ORDER BY id"])  # noqa: S608
        assert cursor.fetchone()[0] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's (runs in CI)")
@pytest.mark.django_db(transaction=True)
def test_a_statement_prepared_before_a_migration_changed_its_column_runs_again():
    """Servers keep serving while a migration runs: a prepared statement whose columns changed type
    fails once ("cached plan must not change result type"); the connection's prepared statements
    are dropped and it runs again, instead of failing until the connection is replaced."""
    Group.objects.create(name="Compiled migrated")

    def build():
        return Group.objects.filter(name__startswith="Compiled").values("name")

    for _ in range(6):
        compiled.rows("test migrated", build)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("ALTER TABLE auth_group ALTER COLUMN name TYPE varchar(200)")
        _, found = compiled.rows("test migrated", build)
        assert found == [("Compiled migrated",)]
        _, found = compiled.rows("test migrated", build)  # and on
        assert found == [("Compiled migrated",)]
    finally:
        with other.cursor() as cursor:
            cursor.execute("ALTER TABLE auth_group ALTER COLUMN name TYPE varchar(150)")
        other.close()


def _groups_among(calls: list):
    def build(keys):
        calls.append(list(keys))
        return Group.objects.filter(pk__among=keys).order_by("name").values_list("name", "id")
    return build


def test_rows_among_built_once_then_run_with_each_runs_keys():
    """A batch's keys change from run to run: the statement is built for the first keys, then run
    with each run's own (its neighbour's row not read)."""
    calls = []
    a, b, c = (Group.objects.create(name=f"Among {letter}") for letter in "ABC")
    names, first = compiled.rows_among("test among", _groups_among(calls), [a.pk, b.pk])
    with CaptureQueriesContext(connection) as queries:
        _, second = compiled.rows_among("test among", _groups_among(calls), [c.pk])
        _, none = compiled.rows_among("test among", _groups_among(calls), [])

    assert names == ("name", "id")
    assert first == [("Among A", a.pk), ("Among B", b.pk)]
    assert second == [("Among C", c.pk)]
    assert none == []
    assert calls == [[a.pk, b.pk]]  # built once, for the first keys
    assert len(queries) == 2  # through Django's cursor: counted and logged


def test_rows_among_and_rows_keep_their_queries_apart_under_one_key():
    group = Group.objects.create(name="Compiled among")
    compiled.rows("test shared key", _groups([]))
    _, found = compiled.rows_among("test shared key", _groups_among([]), [group.pk])
    names, again = compiled.rows("test shared key", _groups([]))
    assert found == [("Compiled among", group.pk)]
    assert names == ("name", "id") and ("Compiled among", group.pk) in again


def test_rows_among_refuses_a_query_without_one_among_lookup():
    with pytest.raises(ValueError, match="one __among lookup, not 0"):
        compiled.rows_among("test among none", lambda keys: Group.objects.values_list("id"), [1])
    with pytest.raises(ValueError, match="one __among lookup, not 2"):
        compiled.rows_among("test among two", lambda keys: Group.objects.filter(
            pk__among=keys, permissions__among=keys).values_list("id"), [1])


def test_objects_for_built_once_then_run_with_each_calls_values():
    from django.contrib.auth.models import User

    first, second = Group.objects.create(name="Compiled for 1"), Group.objects.create(name="Compiled for 2")
    user = User.objects.create(username="compiled-for")
    user.groups.add(second)
    calls = []

    def build(pk, name):
        calls.append((pk, name))
        return Group.objects.filter(pk=pk).exclude(name=name).prefetch_related("user_set")

    assert compiled.objects_for("test for", build, first.pk, "x") == [first]
    with CaptureQueriesContext(connection) as queries:
        [found] = compiled.objects_for("test for", build, second.pk, "y")
        assert [member.username for member in found.user_set.all()] == ["compiled-for"]  # prefetched as usual
    assert found == second and len(queries) == 2
    assert compiled.objects_for("test for", build, second.pk, "Compiled for 2") == []  # the second value too
    # Built once (twice over, with two sets of stand-ins): never with a caller's values.
    assert len(calls) == 2 and not {pk for pk, _ in calls} & {first.pk, second.pk}
    assert not {name for _, name in calls} & {"x", "y"}


def test_objects_for_asks_for_the_columns_converters_once(coordinator, monkeypatch):
    """The ORM's iteration asks every column for its converters on each run; a kept query's columns
    are the same on every run: asked when it is built, then every run's rows converted with them."""
    from django.contrib.auth.models import User

    other = User.objects.create(username="compiled-converted")
    joined = {user.pk: user.date_joined for user in User.objects.filter(pk__in=[coordinator.pk, other.pk])}
    build = lambda pk: User.objects.filter(pk=pk)  # noqa: E731
    asked = []
    ask = type(connection.ops).get_db_converters
    monkeypatch.setattr(type(connection.ops), "get_db_converters",
                        lambda ops, expression: asked.append(expression) or ask(ops, expression))
    assert compiled.objects_for("test for converters", build, coordinator.pk) == [coordinator]
    assert len(asked) >= len(User._meta.concrete_fields)  # built: each column asked
    asked.clear()
    for user in (other, coordinator):
        [found] = compiled.objects_for("test for converters", build, user.pk)
        assert found == user
        assert isinstance(found.date_joined, datetime.datetime)  # SQLite's text, converted on every run
        assert found.date_joined == joined[user.pk]
    assert asked == []


def test_a_kept_query_keeps_nothing_of_the_rows_it_read():
    """Prefetching writes the first row it reads into its queryset's hints: each run has its own
    ``Prefetch`` and queryset, so the kept query holds no row (no patient's data) between runs."""
    from django.contrib.auth.models import User
    from django.db.models import Prefetch

    group = Group.objects.create(name="Compiled kept")
    group.user_set.add(User.objects.create(username="compiled-kept"))

    def build(pk):
        return Group.objects.filter(pk=pk).prefetch_related(Prefetch("user_set", queryset=User.objects.order_by("pk")))

    for _ in range(2):
        [found] = compiled.objects_for("test for kept", build, group.pk)
        assert [user.username for user in found.user_set.all()] == ["compiled-kept"]
    kept, _ = connections["default"].__dict__["_compiled_queries"][("for", "test for kept")]
    [prefetch] = kept._prefetch_related_lookups
    assert prefetch.queryset._hints == {} and kept._hints == {}


def test_rows_for_with_a_uuid_and_converters():
    """A UUID is a parameter as the database takes it (SQLite: its hex, as ``UUIDField`` sends it)."""
    from tests.factories import PatientFactory

    one, two = PatientFactory(study_id="FOR-1"), PatientFactory(study_id="FOR-2")
    from eligibility.models import Patient

    def build(public_id):
        return Patient.objects.filter(public_id=public_id).values("study_id", "created_at")

    for patient in (one, two, one):
        names, found = compiled.rows_for("test for uuid", build, patient.public_id)
        assert names == ("study_id", "created_at")
        assert found == [(patient.study_id, Patient.objects.get(pk=patient.pk).created_at)]
    import uuid

    assert compiled.rows_for("test for uuid", build, uuid.uuid4())[1] == []
    with pytest.raises(TypeError, match="UUID"):
        compiled.rows_for("test for uuid", build, str(one.public_id))  # the type it was built with, or refused

    # A big integer key (PostgreSQL: Django wraps it in psycopg's Int8; the value is wrapped alike).
    for patient in (one, two):
        _, found = compiled.rows_for("test for bigint", lambda pk: Patient.objects.filter(pk=pk).values("study_id"),
                                     patient.pk)
        assert found == [(patient.study_id,)]
    with pytest.raises(TypeError, match="int"):
        compiled.rows_for("test for bigint", lambda pk: Patient.objects.filter(pk=pk).values("study_id"), str(one.pk))


@pytest.mark.parametrize("build, refused", [
    (lambda name: Group.objects.filter(name__icontains=name).values("name"), ValueError),  # wildcards added
    (lambda n: Group.objects.order_by("name").values("name")[:n], ValueError),  # a LIMIT, written into the SQL
    (lambda name: Group.objects.filter(name="constant").values("name"), ValueError),  # not used
    (lambda on: Group.objects.filter(name=on).values("name"), TypeError),  # not an integer, UUID or string
])
def test_rows_for_refuses_a_value_that_is_not_a_parameter_as_given(build, refused):
    value = datetime.date(2026, 1, 1) if refused is TypeError else "x"
    if build.__code__.co_varnames[:1] == ("n",):
        value = 3
    with pytest.raises(refused):
        compiled.rows_for(("test for refused", build), build, value)


def test_rows_for_a_small_positive_integer_column_compared():
    """A stand-in within every integer column's range: a comparison with a small positive column is
    kept, not dropped by the ORM as out of the column's range."""
    from eligibility.models import Evaluation
    from tests.factories import PatientFactory

    evaluation = PatientFactory().assessment.current_evaluation
    flags = evaluation.flag_count

    def build(least):
        return Evaluation.objects.filter(pk=evaluation.pk, flag_count__gte=least).values("flag_count")

    assert compiled.rows_for("test for small", build, flags)[1] == [(flags,)]  # the boundary itself
    assert compiled.rows_for("test for small", build, flags + 1)[1] == []  # and its neighbour
    assert compiled.rows_for("test for small", build, 0)[1] == [(flags,)]


def test_rows_for_a_query_the_orm_knows_matches_nothing_is_built_for_each_call():
    calls = []

    def build(pk):
        calls.append(pk)
        return Group.objects.filter(pk=pk, name__in=[]).values("name")

    assert compiled.rows_for("test for nothing", build, 1) == (("name",), [])
    assert compiled.rows_for("test for nothing", build, 2) == (("name",), [])
    assert calls[2:] == [1, 2]  # the stand-ins once (two sets), then each call's own values


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's (runs in CI)")
def test_postgresql_prepares_a_parameterised_query_with_its_values_bound():
    Group.objects.create(name="Compiled bound")

    def build(name):
        return Group.objects.filter(name=name).values("name")

    for name in ("a", "b", "c", "d", "Compiled bound", "e"):
        _, found = compiled.rows_for("test for prepared", build, name)
        assert found == ([("Compiled bound",)] if name == "Compiled bound" else [])
    _, compiled_query = connections["default"].__dict__["_compiled_queries"][("for", "test for prepared")]
    assert compiled_query.values_at == ((0, 0, None),)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ['%"auth_group"."name" = $1%'])
        assert cursor.fetchone()[0] == 1


def test_rows_for_a_case_insensitive_name_is_never_a_pattern():
    """``__iexact``: SQLite compares with LIKE, the value escaped (so refused: substituted as given,
    a ``%`` would match anything); PostgreSQL compares UPPER() = UPPER(), the value as given."""
    Group.objects.create(name="Compiled 100%_x")

    def build(name):
        return Group.objects.filter(name__iexact=name).values("name")

    if connection.vendor == "sqlite":
        with pytest.raises(ValueError, match="depends on its values"):  # the escaped stand-ins differ
            compiled.rows_for("test for iexact", build, "compiled 100%_X")
        return
    assert compiled.rows_for("test for iexact", build, "compiled 100%_X")[1] == [("Compiled 100%_x",)]
    assert compiled.rows_for("test for iexact", build, "compiled 1%")[1] == []  # no wildcard


def test_first_for_is_the_querysets_first():
    """By the primary key when the queryset has no order, else by its order; None when nothing matches."""
    first, second = Group.objects.create(name="Compiled first a"), Group.objects.create(name="Compiled first b")
    unordered = lambda least: Group.objects.filter(pk__gte=least).order_by()  # noqa: E731
    assert compiled.first_for("test first", unordered, first.pk) == first
    assert compiled.first_for("test first", unordered, second.pk) == second
    assert compiled.first_for("test first", unordered, second.pk + 1) is None
    latest = lambda least: Group.objects.filter(pk__gte=least).order_by("-name")  # noqa: E731
    assert compiled.first_for("test first latest", latest, first.pk) == second
    assert Group.objects.filter(pk__gte=first.pk).order_by().first() == first  # as Django's


def test_made_rows_makes_an_object_once_per_database_row_and_again_when_a_value_changed(coordinator):
    from django.contrib.auth.models import User

    made, kept = [], Kept(10)

    def make(values):
        made.append(values["name"])
        return dict(values)

    def read():
        return compiled.made_rows("test made", lambda: Group.objects.filter(name__startswith="Made").order_by(
            "name").values("name", "id"), make, kept)

    Group.objects.create(name="Made A")
    b = Group.objects.create(name="Made B")
    first = read()
    second = read()
    assert [row["name"] for row in second] == ["Made A", "Made B"]
    assert second[0] is first[0] and second[1] is first[1]  # the same objects, not made again
    assert made == ["Made A", "Made B"]
    Group.objects.filter(pk=b.pk).update(name="Made B2")  # one value of one row
    third = read()
    assert made == ["Made A", "Made B", "Made B2"] and third[0] is first[0]
    assert [row["name"] for row in third] == ["Made A", "Made B2"]
    # Made from the row as the ORM gives it (its converters: SQLite's date-times are text).
    joined = compiled.made_rows("test made joined", lambda: User.objects.filter(pk=coordinator.pk).values(
        "date_joined"), dict, Kept(10))
    assert joined == [{"date_joined": User.objects.get(pk=coordinator.pk).date_joined}]


def test_made_rows_are_forgotten_past_their_number():
    kept = Kept(2)
    kept.put((1,), "one")
    kept.put((2,), "two")
    assert kept.get((1,)) == "one" and len(kept) == 2
    kept.put((3,), "three")  # the third: the first two forgotten
    assert kept.get((1,)) is None and kept.get((2,)) is None and kept.get((3,)) == "three"
    assert len(kept) == 1


def test_made_rows_with_own_columns_keeps_a_row_when_only_the_statements_columns_change():
    from django.db.models import Count, Subquery, Value

    kept = Kept(10)
    made = []

    def make(values):
        made.append(values["name"])
        return dict(values)

    def read():
        count = (Group.objects.filter(name__startswith="Own").order_by().annotate(whole=Value(1)).values("whole")
                 .annotate(n=Count("pk")).values("n"))
        return compiled.made_rows_with("test own", lambda: Group.objects.filter(name__startswith="Own").order_by(
            "name").annotate(groups=Subquery(count)).values("name", "id", "groups"), make, kept, own=2)

    Group.objects.create(name="Own A")
    first, tail = read()
    assert [row["name"] for row in first] == ["Own A"] and "groups" not in first[0] and tail == {"groups": 1}
    Group.objects.create(name="Own B")  # the statement's column changes for every row
    second, tail = read()
    assert second[0] is first[0] and tail == {"groups": 2} and made == ["Own A", "Own B"]
    Group.objects.filter(name="Own A").update(name="Own A2")  # a row's own column: made again
    third, _ = read()
    assert third[0] is not first[0] and made == ["Own A", "Own B", "Own A2"]
    none = compiled.made_rows_with("test own none", lambda: Group.objects.none().values("name"), make, kept)
    assert none == ([], None)
