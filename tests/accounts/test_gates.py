"""The two gates after the password together: the second factor (OTPRequiredMiddleware) and the
one-time password (PasswordChangeRequiredMiddleware). A user who has to pass both does the second
factor first, then changes the password, without being sent back and forth, and can sign out
at every step."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import Account
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = PASSWORD + "!"


def code_for(key: bytes) -> str:
    return f"{totp(key, step=30, t0=0, digits=6):06d}"


def sign_in(client, username: str, password: str) -> None:
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302 and response.url == reverse("worklist")


def sign_out(client) -> None:
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response.url == reverse("login")
    assert "_auth_user_id" not in client.session


@pytest.fixture
def new_physician(administrator):
    """A physician just added by an administrator: a one-time password, no authenticator app."""
    user, password = services.user_create(username="noor", full_name="Noor Nasser", role="Physician",
                                          by=administrator)
    assert Account.objects.get(user=user).must_change_password
    return user, password


def change_password(client, old: str) -> None:
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and "Change your password" in page.content.decode()
    done = client.post(reverse("password_change"), {"old_password": old, "new_password1": NEW_PASSWORD,
                                                    "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done.url == reverse("password_change_done")
    assert client.get(done.url).status_code == 200


def test_second_factor_to_set_up_first_then_the_new_password(client, settings, new_physician):
    settings.OTP_REQUIRED_ROLES = ["Physician"]
    user, password = new_physician
    sign_in(client, "noor", password)
    sign_out(client)  # signing out works before either step

    sign_in(client, "noor", password)
    for url in (reverse("worklist"), reverse("password_change")):
        gated = client.get(url)
        assert gated.status_code == 302 and gated.url.startswith(reverse("otp_setup"))
    setup = client.get(gated.url)
    assert setup.status_code == 200 and "no-store" in setup["Cache-Control"]
    key = bytes.fromhex(client.session["otp_setup_key"])
    confirmed = client.post(gated.url, {"code": code_for(key)})
    assert confirmed.status_code == 302 and confirmed.url.startswith(reverse("otp_recovery_codes"))
    # The recovery codes are shown once, right after the enrolment: the password gate lets them through.
    codes = client.get(confirmed.url)
    assert codes.status_code == 200 and len(re.findall(r"<li>([a-z2-7]{8})</li>", codes.content.decode())) == 10

    # Second factor passed: now the one-time password must go, and every other page says so.
    for url in (reverse("worklist"), reverse("otp_overview")):
        gated = client.get(url)
        assert gated.status_code == 302 and gated.url == reverse("password_change")
    change_password(client, old=password)
    assert not Account.objects.get(user=user).must_change_password
    assert client.get(reverse("worklist")).status_code == 200
    sign_out(client)


def test_second_factor_to_verify_first_then_the_new_password(client, administrator, physician):
    """A password reset for a user who has an authenticator app: the code, then the new password."""
    device = TOTPDevice.objects.create(user=physician, name="Authenticator app", confirmed=True)
    password = services.user_password_reset(user=physician, stamp=None, by=administrator)
    sign_in(client, physician.username, password)
    gated = client.get(reverse("worklist"))
    assert gated.status_code == 302 and gated.url.startswith(reverse("otp_verify"))
    assert client.get(reverse("password_change")).url.startswith(reverse("otp_verify"))
    assert client.get(gated.url).status_code == 200
    verified = client.post(reverse("otp_verify"), {"code": code_for(device.bin_key), "next": "/"})
    assert verified.status_code == 302 and verified.url == "/"
    assert client.get(reverse("worklist")).url == reverse("password_change")
    change_password(client, old=password)
    assert client.get(reverse("worklist")).status_code == 200


def test_one_time_password_without_second_factor_goes_straight_to_the_change(client, settings, new_physician):
    settings.OTP_REQUIRED_ROLES = []
    user, password = new_physician
    sign_in(client, "noor", password)
    gated = client.get(reverse("worklist"))
    assert gated.status_code == 302 and gated.url == reverse("password_change")
    sign_out(client)
    sign_in(client, "noor", password)
    change_password(client, old=password)
    assert client.get(reverse("worklist")).status_code == 200


def test_a_wrong_current_password_on_the_forced_change_counts_and_keeps_the_flag(client, settings, new_physician,
                                                                                 limit):
    settings.OTP_REQUIRED_ROLES = []
    user, password = new_physician
    sign_in(client, "noor", password)
    attempt = {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for _ in range(limit - 1):
        assert client.post(reverse("password_change"), attempt).status_code == 200
    ended = client.post(reverse("password_change"), attempt)
    assert ended.status_code == 302 and ended.url == reverse("login")
    assert "_auth_user_id" not in client.session
    assert Account.objects.get(user=user).must_change_password
