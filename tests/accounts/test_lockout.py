"""Lock-out after repeated failures on the three password forms: the sign-in page, the admin
sign-in and the signing password; per user name and per address; its log lines."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.network import client_ip
from eligibility.models import SignOff
from tests.factories import PASSWORD, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

FORMS = {"login": "/login/", "admin": "/admin/login/"}


def sign_in(client, form, username, password, address="127.0.0.1"):
    return client.post(FORMS[form], {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("form", FORMS)
def test_the_nth_failure_locks_and_the_one_before_does_not(client, administrator, limit, form):
    for _ in range(limit - 1):
        refused = sign_in(client, form, administrator.username, "wrong-password")
        assert refused.status_code == 200  # the form again, with its error
    # One failure short of the limit: the right password still signs in.
    assert sign_in(client, form, administrator.username, PASSWORD).status_code == 302
    client.logout()
    AccessAttempt.objects.all().delete()

    for _ in range(limit - 1):
        assert sign_in(client, form, administrator.username, "wrong-password").status_code == 200
    locked = sign_in(client, form, administrator.username, "wrong-password")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Signing in is locked" in page and "contact an administrator" in page
    assert "15 minutes" in page and "until" in page
    # Locked: even the right password is refused, with the same page (never a 500).
    again = sign_in(client, form, administrator.username, PASSWORD)
    assert again.status_code == 429 and "_auth_user_id" not in client.session


def test_a_user_name_is_locked_from_every_address(client, coordinator, limit):
    for n in range(limit):
        sign_in(client, "login", coordinator.username, "wrong-password", address=f"10.0.0.{n + 1}")
    assert sign_in(client, "login", coordinator.username, PASSWORD, address="10.0.9.9").status_code == 429
    # Another user at one of those addresses is not locked (one failure there, below the limit).
    other = UserFactory(role="Coordinator")
    assert sign_in(client, "login", other.username, PASSWORD, address="10.0.0.1").status_code == 302


def test_an_address_is_locked_for_every_user_name(client, coordinator, limit):
    for n in range(limit):
        sign_in(client, "login", f"guess{n}", "wrong-password", address="10.1.1.1")
    assert sign_in(client, "login", coordinator.username, PASSWORD, address="10.1.1.1").status_code == 429
    assert sign_in(client, "login", coordinator.username, PASSWORD, address="10.1.1.2").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, coordinator, limit):
    for _ in range(limit):
        sign_in(client, "login", coordinator.username, "wrong-password")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14, seconds=50))
    assert sign_in(client, "login", coordinator.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=10))
    assert sign_in(client, "login", coordinator.username, PASSWORD).status_code == 302


def test_attempts_while_locked_do_not_push_the_end_of_the_lock(client, coordinator, limit):
    for _ in range(limit):
        sign_in(client, "login", coordinator.username, "wrong-password")
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=10))
    assert sign_in(client, "login", coordinator.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=5, seconds=10))
    assert sign_in(client, "login", coordinator.username, PASSWORD).status_code == 302


def test_each_failure_is_logged_with_user_name_address_and_time_and_the_lock_once(client, coordinator, limit,
                                                                                   caplog):
    with caplog.at_level(logging.INFO, logger="accounts"):
        for _ in range(limit):
            sign_in(client, "login", coordinator.username, "Wrong-Secret-1", address="192.0.2.7")
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Sign-in failed")]
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Sign-in lock started")]
    # Both the user name and the address reach the limit: one line for each lock.
    assert len(failed) == limit and len(started) == 2
    assert started[1].startswith(f"Sign-in lock started: address '192.0.2.7' after {limit} failures")
    assert all(f"user name '{coordinator.username}' from address 192.0.2.7 at 20" in line for line in failed)
    assert all("(sign-in page)" in line for line in failed)
    assert failed[-1].endswith("; signing in is locked") and not failed[-2].endswith("locked")
    assert started[0].startswith(f"Sign-in lock started: user name '{coordinator.username}' after {limit} failures")
    assert "locked until" in started[0]
    assert "Wrong-Secret-1" not in caplog.text


@pytest.fixture
def evaluation(coordinator):
    return PatientFactory(by=coordinator).assessment.current_evaluation


def sign(client, evaluation, password):
    return client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": password})


def test_wrong_signing_passwords_lock_out_and_end_the_session(client, physician, evaluation, limit, caplog):
    client.force_login(physician)
    for _ in range(limit - 1):
        refused = client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": "wrong-password"},
                              follow=True)
        assert "The password is not correct" in refused.content.decode()
    # Still signed in after limit - 1, and the right password passes the password check (no
    # failure more is counted; the checklist itself is then refused for its undecided items).
    assert "_auth_user_id" in client.session
    failures = sum(AccessAttempt.objects.values_list("failures_since_start", flat=True))
    assert failures == limit - 1
    right = client.post(reverse("sign_off", args=[evaluation.public_id]), {"password": PASSWORD}, follow=True)
    assert "The password is not correct" not in right.content.decode() and "_auth_user_id" in client.session
    # The right password forgets the user's slips: only failures in a row lock.
    assert not AccessAttempt.objects.filter(username=physician.username).exists()

    AccessAttempt.objects.all().delete()
    with caplog.at_level(logging.INFO, logger="accounts"):
        for _ in range(limit - 1):
            sign(client, evaluation, "wrong-password")
        ended = sign(client, evaluation, "wrong-password")
    assert ended.status_code == 302 and ended.url == reverse("login")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("worklist")).status_code == 302  # to the sign-in page
    login_page = client.get(ended.url).content.decode()
    assert "signing password was wrong too many times" in login_page and "signed out" in login_page
    assert not SignOff.objects.exists()
    assert "(signing password)" in caplog.text and "Sign-in lock started" in caplog.text
    # Signing in again is locked too.
    assert sign_in(client, "login", physician.username, PASSWORD).status_code == 429


def test_sign_in_and_signing_failures_count_together(client, physician, evaluation, limit):
    from django.test import Client

    client.force_login(physician)  # signed in (which forgets earlier failures); then, elsewhere,
    elsewhere = Client()
    for _ in range(limit - 1):  # someone tries the physician's user name at the sign-in page
        sign_in(elsewhere, "login", physician.username, "wrong-password")
    ended = sign(client, evaluation, "wrong-password")
    assert ended.url == reverse("login") and "_auth_user_id" not in client.session


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "203.0.113.5", "127.0.0.1"),              # the header is ignored unless configured
    (1, "198.51.100.1, 203.0.113.5", "203.0.113.5"),  # the entry our proxy appended
    (2, "198.51.100.1, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
    (2, "203.0.113.5", "127.0.0.1"),              # fewer entries than proxies: not trusted
    (1, "not-an-address", "127.0.0.1"),
])
def test_client_address_behind_reverse_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="127.0.0.1")
    assert client_ip(request) == expected


def test_behind_a_proxy_the_forwarded_address_is_locked(client, settings, coordinator, limit):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(limit):
        client.post("/login/", {"username": f"guess{n}", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.9")
    ok = client.post("/login/", {"username": coordinator.username, "password": PASSWORD},
                     HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert ok.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_a_successful_sign_in_forgets_the_users_own_failures_but_not_others(client, coordinator, limit):
    """limit - 1 slips, a success, limit - 1 slips again: not locked (without forgetting, locked)."""
    other = UserFactory(role="Coordinator")
    sign_in(client, "login", other.username, "wrong-password")  # someone else's failure, same address
    for _ in range(limit - 2):
        sign_in(client, "login", coordinator.username, "wrong-password")
    assert sign_in(client, "login", coordinator.username, PASSWORD).status_code == 302
    client.logout()
    assert not AccessAttempt.objects.filter(username=coordinator.username).exists()
    assert AccessAttempt.objects.filter(username=other.username).exists()
    for _ in range(limit - 2):
        assert sign_in(client, "login", coordinator.username, "wrong-password").status_code == 200
    # The address has limit - 1 failures now (other's one stayed): the next one locks it.
    assert sign_in(client, "login", coordinator.username, "wrong-password").status_code == 429
