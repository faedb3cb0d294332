"""``manage.py user_add`` creates a user as the users' page does: recorded in the audit trail (by
"command line") and with a one-time password, under the password policy."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import Account, UserChange
from accounts.selectors import user_roles

pytestmark = pytest.mark.django_db
CHOSEN = "Kx7-vq2Rm9-tLw4"


def test_a_generated_password_is_one_time_and_the_creation_is_recorded(client):
    out = io.StringIO()
    call_command("user_add", "noor", role="Physician", name="Noor Nasser", stdout=out)
    password = out.getvalue().rsplit(": ", 1)[1].strip()
    user = get_user_model().objects.get(username="noor")
    assert user_roles(user) == ["Physician"] and not user.is_staff and user.check_password(password)
    assert Account.objects.get(user=user).must_change_password
    change = UserChange.objects.get(user=user)
    assert (change.action, change.by, change.by_name) == ("created", None, "command line")
    assert change.new_value == "user name noor; name Noor Nasser; role Physician"
    assert password not in change.new_value
    response = client.post(reverse("login"), {"username": "noor", "password": password})
    assert response.status_code == 302
    assert client.get(reverse("worklist")).url == reverse("password_change")


def test_an_administrator_is_staff():
    call_command("user_add", "ada2", role="Administrator", stdout=io.StringIO())
    assert get_user_model().objects.get(username="ada2").is_staff


def test_a_password_from_standard_input_is_one_time_too():
    out = io.StringIO()
    call_command("user_add", "noor", role="Coordinator", password_stdin=True, stdin=io.StringIO(CHOSEN + "\n"),
                 stdout=out)
    user = get_user_model().objects.get(username="noor")
    assert user.check_password(CHOSEN) and CHOSEN not in out.getvalue()
    assert Account.objects.get(user=user).must_change_password
    assert UserChange.objects.filter(user=user, action="created", by_name="command line").count() == 1


def test_a_refused_password_creates_nothing_and_records_nothing():
    with pytest.raises(CommandError, match="does not meet the password policy") as refused:
        call_command("user_add", "noor", role="Coordinator", password_stdin=True, stdin=io.StringIO("short\n"),
                     stdout=io.StringIO())
    assert "User 'noor' was not created" in str(refused.value)
    assert not get_user_model().objects.filter(username="noor").exists()
    assert not UserChange.objects.exists() and not Account.objects.exists()
