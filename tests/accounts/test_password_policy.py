"""The password policy (AUTH_PASSWORD_VALIDATORS) wherever a password is set: the commands and
the password change page."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def min_length() -> int:
    (validator,) = [v for v in settings.AUTH_PASSWORD_VALIDATORS if v["NAME"].endswith("MinimumLengthValidator")]
    return validator["OPTIONS"]["min_length"]


def test_the_configured_minimum_is_twelve():
    assert min_length() == 12


def of_length(n: int) -> str:
    """A password that passes every other validator, ``n`` characters long."""
    return ("Kx7-vq2Rm9-tLw4-zPb8"[:n]).ljust(n, "q")


SHORT, LONG_ENOUGH = of_length(min_length() - 1), of_length(min_length())
COMMON = "password1234"  # in Django's list of common passwords, and 12 characters long


@pytest.fixture
def no_administrator():
    Group.objects.get(name="Administrator").user_set.clear()


@pytest.mark.usefixtures("no_administrator")
@pytest.mark.parametrize("password", [SHORT, COMMON, "123456789012"])
def test_ensure_admin_refuses_a_password_against_the_policy(monkeypatch, password):
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", password)
    with pytest.raises(CommandError, match="does not meet the password policy") as refused:
        call_command("ensure_admin", stdout=io.StringIO())
    assert "No administrator was created" in str(refused.value)
    assert not get_user_model().objects.filter(username="admin").exists()


@pytest.mark.usefixtures("no_administrator")
def test_ensure_admin_accepts_a_password_of_the_minimum_length(monkeypatch):
    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", LONG_ENOUGH)
    call_command("ensure_admin", stdout=io.StringIO())
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(LONG_ENOUGH) and admin.groups.filter(name="Administrator").exists()


@pytest.mark.usefixtures("no_administrator")
def test_ensure_admin_refusal_exits_non_zero_from_the_command_line(monkeypatch):
    from django.core.management import ManagementUtility

    monkeypatch.setenv("DJANGO_ADMIN_PASSWORD", "a")
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "ensure_admin"]).execute()
    assert exited.value.code != 0


@pytest.mark.parametrize("password", [SHORT, COMMON])
def test_user_add_refuses_a_password_against_the_policy(password):
    with pytest.raises(CommandError, match="does not meet the password policy"):
        call_command("user_add", "casey", role="Coordinator", password_stdin=True,
                     stdin=io.StringIO(password + "\n"), stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="casey").exists()


def test_user_add_accepts_a_password_of_the_minimum_length():
    out = io.StringIO()
    call_command("user_add", "casey", role="Coordinator", name="Casey Jones", password_stdin=True,
                 stdin=io.StringIO(LONG_ENOUGH + "\n"), stdout=out)
    user = get_user_model().objects.get(username="casey")
    assert user.check_password(LONG_ENOUGH) and user.get_full_name() == "Casey Jones"
    assert LONG_ENOUGH not in out.getvalue()


def test_user_add_refuses_a_password_like_the_user_name():
    with pytest.raises(CommandError, match="too similar"):
        call_command("user_add", "robin.leeson", role="Physician", password_stdin=True,
                     stdin=io.StringIO("robin.leeson1\n"), stdout=io.StringIO())


def test_user_add_generated_password_meets_the_policy():
    out = io.StringIO()
    call_command("user_add", "casey", role="Coordinator", stdout=out)
    password = out.getvalue().rsplit(": ", 1)[1].strip()
    assert len(password) >= min_length() and get_user_model().objects.get(username="casey").check_password(password)


def test_user_add_does_not_change_an_existing_users_password(coordinator):
    with pytest.raises(CommandError, match="changepassword"):
        call_command("user_add", coordinator.username, role="Physician", password_stdin=True,
                     stdin=io.StringIO(LONG_ENOUGH + "\n"), stdout=io.StringIO())
    coordinator.refresh_from_db()
    assert coordinator.check_password(PASSWORD) and not coordinator.groups.filter(name="Physician").exists()


@pytest.mark.parametrize("role", ["coordinator", "physician", "administrator"])
def test_every_user_changes_their_password(client, request, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and "Change your password" in page.content.decode()
    done = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": LONG_ENOUGH,
                                                    "new_password2": LONG_ENOUGH})
    assert done.status_code == 302 and done.url == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(LONG_ENOUGH)
    # Still signed in (the session follows the new password).
    assert "Password changed" in client.get(done.url).content.decode()


@pytest.mark.parametrize(("new", "message"), [(SHORT, "at least 12 characters"), (COMMON, "too common")])
def test_password_change_applies_the_policy(client, coordinator, new, message):
    client.force_login(coordinator)
    refused = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": new,
                                                       "new_password2": new})
    assert refused.status_code == 200 and message in refused.content.decode()
    coordinator.refresh_from_db()
    assert coordinator.check_password(PASSWORD)


def test_password_change_needs_the_current_password(client, coordinator):
    client.force_login(coordinator)
    refused = client.post(reverse("password_change"), {"old_password": "not-it", "new_password1": LONG_ENOUGH,
                                                       "new_password2": LONG_ENOUGH})
    assert "Your old password was entered incorrectly" in refused.content.decode()
    coordinator.refresh_from_db()
    assert coordinator.check_password(PASSWORD)


def test_wrong_current_passwords_count_towards_the_lock_out_and_end_the_session(client, coordinator, limit):
    client.force_login(coordinator)
    attempt = {"old_password": "not-it", "new_password1": LONG_ENOUGH, "new_password2": LONG_ENOUGH}
    for _ in range(limit - 1):
        assert client.post(reverse("password_change"), attempt).status_code == 200
    ended = client.post(reverse("password_change"), attempt)
    assert ended.status_code == 302 and ended.url == reverse("login")
    assert "_auth_user_id" not in client.session
    assert "current password was wrong too many times" in client.get(ended.url).content.decode()
    coordinator.refresh_from_db()
    assert coordinator.check_password(PASSWORD)
    assert client.post("/login/", {"username": coordinator.username, "password": PASSWORD}).status_code == 429
