"""Administrators see the sign-in locks and lift them; nobody else can, whatever they post."""

from __future__ import annotations

import logging

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def fail(client, username, limit, address="127.0.0.1"):
    for _ in range(limit):
        client.post("/login/", {"username": username, "password": "wrong-password"}, REMOTE_ADDR=address)


def test_administrator_sees_the_locks_and_lifts_one(client, administrator, coordinator, limit, caplog):
    fail(client, coordinator.username, limit, address="192.0.2.44")
    client.force_login(administrator)
    page = client.get(reverse("locks")).content.decode()
    assert "Sign-in locks" in page
    # The user name's lock (from any address) and the address's lock (for any user name).
    assert f"<code>{coordinator.username}</code>" in page and "<code>192.0.2.44</code>" in page
    assert f"<td>{limit}</td>" in page and "Locked until" in page and "Lift" in page

    with caplog.at_level(logging.INFO, logger="accounts"):
        lifted = client.post(reverse("lock_lift"), {"kind": "username", "value": coordinator.username}, follow=True)
    assert f"The lock on user name {coordinator.username} is lifted." in lifted.content.decode()
    assert f"Sign-in lock lifted: user name '{coordinator.username}' by administrator '{administrator.username}'" \
        in caplog.text
    assert not AccessAttempt.objects.filter(username=coordinator.username).exists()
    client.logout()
    signed_in = client.post("/login/", {"username": coordinator.username, "password": PASSWORD},
                            REMOTE_ADDR="192.0.2.45")
    assert signed_in.status_code == 302


def test_lifting_an_address_lock(client, administrator, coordinator, limit):
    for n in range(limit):
        client.post("/login/", {"username": f"guess{n}", "password": "x"}, REMOTE_ADDR="192.0.2.50")
    client.force_login(administrator)
    assert "<code>192.0.2.50</code>" in client.get(reverse("locks")).content.decode()
    client.post(reverse("lock_lift"), {"kind": "ip_address", "value": "192.0.2.50"})
    assert "<code>192.0.2.50</code>" not in client.get(reverse("locks")).content.decode()
    client.logout()
    assert client.post("/login/", {"username": coordinator.username, "password": PASSWORD},
                       REMOTE_ADDR="192.0.2.50").status_code == 302


def test_lifting_a_lock_that_ended_meanwhile_says_so(client, administrator):
    client.force_login(administrator)
    page = client.post(reverse("lock_lift"), {"kind": "username", "value": "nobody"}, follow=True).content.decode()
    assert "There was no lock on user name nobody any more" in page


def test_a_failure_below_the_limit_is_no_lock(client, administrator, coordinator, limit):
    fail(client, coordinator.username, limit - 1)
    client.force_login(administrator)
    page = client.get(reverse("locks")).content.decode()
    assert "No user name or address is locked." in page and coordinator.username not in page


@pytest.mark.parametrize("role", ["coordinator", "physician"])
def test_others_get_403_on_the_page_and_on_a_crafted_lift(client, request, role, limit, administrator):
    fail(client, administrator.username, limit)
    user = request.getfixturevalue(role)
    client.force_login(user)
    assert client.get(reverse("locks")).status_code == 403
    assert client.post(reverse("lock_lift"), {"kind": "username", "value": administrator.username}).status_code == 403
    assert AccessAttempt.objects.filter(username=administrator.username).exists()
    assert "Sign-in locks" not in client.get(reverse("worklist")).content.decode()


def test_navigation_links(client, administrator, coordinator):
    client.force_login(administrator)
    page = client.get(reverse("worklist")).content.decode()
    assert f'href="{reverse("locks")}"' in page and f'href="{reverse("password_change")}"' in page
    client.force_login(coordinator)
    page = client.get(reverse("worklist")).content.decode()
    assert f'href="{reverse("locks")}"' not in page and f'href="{reverse("password_change")}"' in page
