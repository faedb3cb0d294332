"""``__among``: a key in a list of integer keys passed as one parameter (``eligibility.common.lookups``)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import FieldError
from django.db import NotSupportedError, connection, transaction
from django.db.models import BigIntegerField, CharField, Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext

from eligibility.common.lookups import Among, Keys
from eligibility.patients.models import Assessment
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups():
    return [Group.objects.create(name=f"Among {index}") for index in range(4)]


def test_exactly_the_keys_given(groups):
    """The keys given, and not their neighbours."""
    wanted = [groups[1].pk, groups[2].pk]
    assert sorted(Group.objects.filter(pk__among=wanted).values_list("pk", flat=True)) == wanted
    assert list(Group.objects.filter(pk__among=[groups[3].pk]).values_list("name", flat=True)) == ["Among 3"]
    assert list(Group.objects.filter(pk__among=[]).values_list("pk", flat=True)) == []
    assert sorted(Group.objects.exclude(pk__among=wanted).filter(name__startswith="Among ").values_list(
        "name", flat=True)) == ["Among 0", "Among 3"]


def test_keys_beyond_32_bits_and_many_of_them(groups):
    keys = [groups[0].pk, *range(10**6, 10**6 + 2000), 2**62]
    assert list(Group.objects.filter(pk__among=keys).values_list("pk", flat=True)) == [groups[0].pk]


def test_on_a_foreign_key_by_its_column_or_its_name(coordinator, physician):
    group = Group.objects.create(name="Among members")
    coordinator.groups.add(group)
    through = User.groups.through
    assert list(through.objects.filter(user_id__among=[coordinator.pk], group=group).values_list(
        "user_id", flat=True)) == [coordinator.pk]
    assert list(through.objects.filter(user__among=[coordinator.pk], group=group).values_list(
        "user_id", flat=True)) == [coordinator.pk]
    assert list(through.objects.filter(user__among=[physician.pk], group=group)) == []


def test_excluding_keeps_the_rows_without_a_key_as_in_does(coordinator):
    """A nullable foreign key: rows whose key is NULL are not among the keys (as with ``__in``)."""
    first = PatientFactory(by=coordinator, study_id="AMONG-1").assessment
    PatientFactory(by=coordinator, study_id="AMONG-2")
    Assessment.objects.filter(pk=first.pk).update(started_from=first)  # one row with a key, one without
    among = set(Assessment.objects.exclude(started_from__among=[first.pk]).values_list("pk", flat=True))
    within = set(Assessment.objects.exclude(started_from__in=[first.pk]).values_list("pk", flat=True))
    assert among == within and len(among) == Assessment.objects.count() - 1
    assert list(Assessment.objects.filter(started_from__among=[first.pk]).values_list("pk", flat=True)) == [first.pk]


def test_in_an_update_and_a_locking_select(groups):
    first_two = [groups[0].pk, groups[1].pk]
    updated = Group.objects.filter(pk__among=first_two).update(name=Concat("name", Value(" updated")))
    assert updated == 2
    with transaction.atomic():
        locked = list(Group.objects.select_for_update().filter(pk__among=[groups[2].pk]).values_list(
            "pk", flat=True))
    assert locked == [groups[2].pk]
    assert sorted(Group.objects.filter(name__endswith=" updated").values_list("name", flat=True)) == [
        "Among 0 updated", "Among 1 updated"]


def test_one_parameter_and_one_statement_text_whatever_the_number_of_keys(groups):
    one = Group.objects.filter(pk__among=[1]).query.sql_with_params()
    many = Group.objects.filter(pk__among=list(range(1, 1001))).query.sql_with_params()
    assert one[0] == many[0]
    assert len(one[1]) == len(many[1]) == 1
    with CaptureQueriesContext(connection) as queries:
        list(Group.objects.filter(pk__among=[groups[0].pk]))
    assert len(queries) == 1


@pytest.mark.parametrize("key", ["1", 1.0, True, None, uuid.uuid4()])
def test_integer_keys_only(key):
    with pytest.raises(TypeError, match="integer keys only"):
        Group.objects.filter(pk__among=[1, key])
    with pytest.raises(TypeError, match="integer keys only"):
        Keys([key])


def test_keys_within_64_bits():
    """The largest and smallest bigint, and their neighbours beyond."""
    assert Keys([2**63 - 1, -(2**63)]) == [2**63 - 1, -(2**63)]
    for beyond in (2**63, -(2**63) - 1):
        with pytest.raises(TypeError, match="beyond 64 bits"):
            Keys([beyond])
    with pytest.raises(TypeError, match="beyond 64 bits"):
        Group.objects.filter(pk__among=[2**63])


def test_integer_columns_only():
    """Not a text column (SQLite would match nothing, PostgreSQL fail), nor a key to one."""
    with pytest.raises(FieldError, match="among"):
        Group.objects.filter(name__among=[1])
    with pytest.raises(TypeError, match="integer columns only"):
        Among(Value("1", output_field=CharField()), [1])
    assert Among(Value(1, output_field=BigIntegerField()), [1]).rhs == [1]


def test_postgresql_and_sqlite_only():
    lookup = Among(Value(1, output_field=BigIntegerField()), [1])
    with pytest.raises(NotSupportedError, match="PostgreSQL and SQLite only"):
        lookup.as_sql(None, SimpleNamespace(vendor="mysql"))


def test_among_rows_gives_the_rows_of_its_subquery_a_page_of_keys_included(groups):
    """``among_rows``: the rows whose key is among a subquery's, exactly as ``__in`` gives them: a sliced
    and ordered subquery (a page of keys: the first two by name, then the next two) and an empty one."""
    ours = Group.objects.filter(name__startswith="Among ").order_by("-name")
    for start in (0, 2, 4):
        page = ours.values_list("pk", flat=True)[start:start + 2]
        among = sorted(Group.objects.filter(pk__among_rows=page).values_list("name", flat=True))
        assert among == sorted(Group.objects.filter(pk__in=page).values_list("name", flat=True))
        assert among == [["Among 2", "Among 3"], ["Among 0", "Among 1"], []][start // 2]


def test_among_rows_reads_the_subquery_first_on_postgresql(groups):
    """PostgreSQL: ``= ANY(ARRAY(subquery))`` (the subquery run once, its keys looked up by the index,
    never the table scanned against it); other databases: ``IN (subquery)``."""
    page = Group.objects.order_by("name").values_list("pk", flat=True)[:2]
    with CaptureQueriesContext(connection) as queries:
        list(Group.objects.filter(pk__among_rows=page))
    sql = queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert '"auth_group"."id" = ANY(ARRAY(SELECT' in sql
    else:
        assert '"auth_group"."id" IN (SELECT' in sql


def test_among_rows_takes_a_subquery_only(groups):
    with pytest.raises(TypeError, match="a subquery only"):
        list(Group.objects.filter(pk__among_rows=[groups[0].pk]))
