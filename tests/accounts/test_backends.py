"""A user's permissions and roles read in one query (``accounts.backends.RoleBackend``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import RoleBackend, group_names
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _fresh(user) -> User:
    return User.objects.get(pk=user.pk)  # no cache of an earlier read


@pytest.mark.parametrize("role", ["Coordinator", "Physician", "Administrator"])
def test_the_same_permissions_as_djangos_backend(role):
    user = UserFactory(role=role)
    ours = RoleBackend().get_all_permissions(_fresh(user))
    assert ours == ModelBackend().get_all_permissions(_fresh(user))
    assert ours  # each role holds some


def test_a_permission_of_the_user_and_one_of_a_second_group_count_too():
    user = UserFactory(role="Coordinator")
    user.user_permissions.add(Permission.objects.get(codename="manage_users"))
    extra = Group.objects.create(name="Auditors")
    extra.permissions.add(Permission.objects.get(codename="export_audit"))
    user.groups.add(extra)
    fresh = _fresh(user)

    assert fresh.has_perm("accounts.manage_users") and fresh.has_perm("accounts.export_audit")
    assert not fresh.has_perm("eligibility.add_signoff")  # a physician's
    assert group_names(fresh) == ("Auditors", "Coordinator")
    assert RoleBackend().get_all_permissions(_fresh(user)) == ModelBackend().get_all_permissions(_fresh(user))


def test_permissions_and_roles_in_one_query_a_request():
    user = _fresh(UserFactory(role="Physician"))
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("eligibility.add_signoff")
        assert not user.has_perm("accounts.manage_users")
        assert group_names(user) == ("Physician",)
        assert user.has_perms(["eligibility.view_patient", "eligibility.add_signoff"])
    assert len(queries) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's (runs in CI)")
def test_postgresql_prepares_the_permissions_query_asked_on_every_page():
    """Planned once a connection, not on every page: the server prepares it on its fifth run."""
    user = UserFactory(role="Physician")
    for _ in range(6):
        assert _fresh(user).has_perm("eligibility.add_signoff")
        assert not _fresh(user).has_perm("accounts.manage_users")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%FROM auth_permission p INNER JOIN django_content_type ct%"])
        assert cursor.fetchone()[0] == 1


def test_roles_read_first_bring_the_permissions_with_them():
    user = _fresh(UserFactory(role="Coordinator"))
    with CaptureQueriesContext(connection) as queries:
        assert group_names(user) == ("Coordinator",)
        assert user.has_perm("eligibility.add_patient")
    assert len(queries) == 1


def test_a_superuser_holds_every_permission_and_their_roles_as_groups():
    user = UserFactory(role="Coordinator")
    user.is_superuser = True
    user.save()
    fresh = _fresh(user)
    assert fresh.has_perm("accounts.manage_users") and fresh.has_perm("eligibility.add_signoff")
    assert RoleBackend().get_all_permissions(_fresh(user)) == ModelBackend().get_all_permissions(_fresh(user))
    assert group_names(fresh) == ("Coordinator",)


def test_an_inactive_user_holds_no_permission_and_anonymous_no_role():
    user = UserFactory(role="Administrator")
    user.is_active = False
    user.save()
    assert not _fresh(user).has_perm("accounts.manage_users")
    from django.contrib.auth.models import AnonymousUser
    assert group_names(AnonymousUser()) == ()


def test_a_role_changed_counts_from_the_users_next_request(client):
    user = UserFactory(role="Coordinator")
    client.force_login(user)
    assert "· Coordinator" in client.get(reverse("worklist")).content.decode()
    assert client.get(reverse("user_list")).status_code == 403

    user.groups.set([Group.objects.get(name="Administrator")])
    page = client.get(reverse("user_list"))
    assert page.status_code == 200
    assert "· Administrator" in page.content.decode() and "· Coordinator" not in page.content.decode()
