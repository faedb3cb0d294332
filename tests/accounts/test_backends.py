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


def _statements_of(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in queries]


def test_a_page_reads_the_signed_in_user_with_their_permissions_and_roles(client):
    """The user of the request's session is read with their permissions and groups in one statement:
    no statement of its own for them on a page that checks permissions and shows the roles."""
    user = UserFactory(role="Coordinator", first_name="Cleo", last_name="Ward")
    client.force_login(user)
    statements = _statements_of(client, reverse("worklist"))
    reading_roles = [sql for sql in statements if "django_content_type ct" in sql]
    assert len(reading_roles) == 1 and '"auth_user"."username"' in reading_roles[0]
    page = client.get(reverse("worklist")).content.decode()
    assert "Cleo Ward · Coordinator" in page and "New patient" in page  # the role, and a permission's link
    assert client.get(reverse("user_list")).status_code == 403  # not an administrator's


def test_group_names_and_permissions_read_with_the_user_as_written():
    """Names as typed (quotes, commas, a line break, letters beyond ASCII), a user's own permission,
    one group without permissions; the same permissions as Django's backend reads."""
    user = UserFactory(role="Physician")
    odd = Group.objects.create(name='Ärzte, "Nacht"\nund Tag')
    user.groups.add(odd)
    user.user_permissions.add(Permission.objects.get(codename="export_audit"))
    found = RoleBackend().get_user(str(user.pk))
    assert group_names(found) == ("Physician", 'Ärzte, "Nacht"\nund Tag')
    assert found._perm_cache == ModelBackend().get_all_permissions(_fresh(user))
    assert found.has_perm("accounts.export_audit") and found.has_perm("eligibility.add_signoff")
    assert not hasattr(found, "roles_found")


def test_a_user_without_a_group_or_a_permission_holds_none():
    user = UserFactory()
    found = RoleBackend().get_user(user.pk)
    assert found == user and group_names(found) == () and found.get_all_permissions() == set()


def test_the_signed_in_user_read_as_djangos_backend_reads_them():
    """An unknown or malformed key: nobody; an inactive user: nobody; a superuser: every permission."""
    backend = RoleBackend()
    user = UserFactory(role="Coordinator")
    for key in (user.pk + 1000, "not a key", None, 2**63, -(2**63) - 1, ""):
        assert backend.get_user(key) is None, key
    assert backend.get_user(str(user.pk)) == user  # as the session keeps it
    User.objects.filter(pk=user.pk).update(is_superuser=True)
    superuser = backend.get_user(user.pk)
    assert superuser.has_perm("accounts.manage_users") and group_names(superuser) == ("Coordinator",)
    assert superuser.get_all_permissions() == ModelBackend().get_all_permissions(_fresh(user))
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert backend.get_user(user.pk) is None
    assert ModelBackend().get_user(user.pk) is None
