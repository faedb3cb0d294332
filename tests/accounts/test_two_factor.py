"""Second factor: enrolment by QR code, verification after the password, recovery codes used
once, the roles a deployment requires it of (OTP_REQUIRED_ROLES), throttling and lock-out."""

from __future__ import annotations

import re
from base64 import b32decode

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import recovery_codes_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def code_for(key: bytes) -> str:
    """The code an authenticator app holding ``key`` shows now."""
    return f"{totp(key, step=30, t0=0, digits=6):06d}"


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED_ROLES = ["Administrator", "Physician"]


@pytest.fixture
def enrolled(physician):
    """The physician with an authenticator app and recovery codes."""
    device = TOTPDevice.objects.create(user=physician, name="Authenticator app", confirmed=True)
    codes = recovery_codes_create(user=physician)
    return device, codes


def verify(client, code, next_url="/"):
    return client.post(reverse("otp_verify"), {"code": code, "next": next_url})


@pytest.mark.usefixtures("required")
def test_enrolment_qr_code_secret_confirmation_and_recovery_codes_shown_once(client, physician):
    client.force_login(physician)
    # Before enrolment no page but the enrolment (and signing out) is reachable.
    gated = client.get(reverse("worklist"))
    assert gated.status_code == 302 and gated.url.startswith(reverse("otp_setup"))
    assert client.get(reverse("password_change")).url.startswith(reverse("otp_setup"))

    page = client.get(gated.url)
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "<svg" in html and "<path" in html and "<script" not in html.split("</main>")[0]
    secret = re.search(r'<code class="d-block fs-6 mt-1">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    key = b32decode(secret)
    assert not TOTPDevice.objects.exists()  # nothing is saved until the app's first code confirms it

    wrong = client.post(gated.url, {"code": f"{(int(code_for(key)) + 1) % 1000000:06d}"})
    assert wrong.status_code == 200 and "This is not the code your app shows" in wrong.content.decode()
    assert not TOTPDevice.objects.exists()

    confirmed = client.post(gated.url, {"code": code_for(key)})
    assert confirmed.status_code == 302 and confirmed.url.startswith(reverse("otp_recovery_codes"))
    device = TOTPDevice.objects.get(user=physician)
    assert device.confirmed and device.bin_key == key
    codes_page = client.get(confirmed.url)
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", codes_page.content.decode())
    assert len(codes) == 10 and "shown only this once" in codes_page.content.decode()
    assert sorted(StaticToken.objects.filter(device__user=physician).values_list("token", flat=True)) == sorted(codes)
    # Shown once: the page does not show them again.
    again = client.get(reverse("otp_recovery_codes"))
    assert again.status_code == 302 and again.url == reverse("otp_overview")
    # Enrolled and verified in this session: the pages open.
    assert client.get(reverse("worklist")).status_code == 200


def test_verification_after_the_password_with_a_computed_code(client, physician, enrolled):
    device, _ = enrolled
    client.post("/login/", {"username": physician.username, "password": PASSWORD})
    gated = client.get(reverse("worklist"))
    assert gated.status_code == 302 and gated.url == f"{reverse('otp_verify')}?next=%2F"
    assert "Enter your code" in client.get(gated.url).content.decode()
    wrong = verify(client, "000000" if code_for(device.bin_key) != "000000" else "111111")
    assert wrong.status_code == 200 and "This code is not right" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp's back-off after the wrong code (tested below)
    passed = verify(client, code_for(device.bin_key))
    assert passed.status_code == 302 and passed.url == "/"
    assert client.get(reverse("worklist")).status_code == 200


def test_a_code_is_accepted_once(client, physician, enrolled):
    device, _ = enrolled
    code = code_for(device.bin_key)
    client.force_login(physician)
    assert verify(client, code).status_code == 302
    client.logout()
    client.force_login(physician)
    assert "This code is not right" in verify(client, code).content.decode()


def test_a_recovery_code_works_once_only(client, physician, enrolled):
    _, codes = enrolled
    client.force_login(physician)
    assert verify(client, codes[0].upper()).status_code == 302  # typed in capitals: accepted
    assert client.get(reverse("worklist")).status_code == 200
    assert StaticToken.objects.filter(device__user=physician).count() == 9
    client.logout()
    client.force_login(physician)
    reused = verify(client, codes[0])
    assert reused.status_code == 200 and "This code is not right (or was used already)" in reused.content.decode()
    assert client.get(reverse("worklist")).status_code == 302


def test_new_recovery_codes_replace_the_old_ones(client, physician, enrolled):
    device, old = enrolled
    client.force_login(physician)
    verify(client, code_for(device.bin_key))
    made = client.post(reverse("otp_recovery_codes"))
    assert made.status_code == 302
    new = re.findall(r"<li>([a-z2-7]{8})</li>", client.get(made.url).content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=physician).values_list("token", flat=True)) == set(new)


def test_new_recovery_codes_need_a_verified_session(client, coordinator):
    client.force_login(coordinator)
    client.post(reverse("otp_recovery_codes"))
    assert not StaticToken.objects.exists()


def test_wrong_codes_are_throttled_by_django_otp(client, physician, enrolled):
    device, _ = enrolled
    client.force_login(physician)
    verify(client, "000000" if code_for(device.bin_key) != "000000" else "111111")
    # Within a second of a wrong code even the right one is held back.
    held = verify(client, code_for(device.bin_key))
    assert held.status_code == 200 and "Too many wrong codes in a row: wait until" in held.content.decode()


def test_wrong_codes_count_towards_the_lock_out_and_end_the_session(client, settings, physician, enrolled, limit):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's back-off aside, to reach the limit in a test
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    device, _ = enrolled
    wrong = "000000" if code_for(device.bin_key) != "000000" else "111111"
    client.force_login(physician)
    for _ in range(limit - 1):
        assert verify(client, wrong).status_code == 200
    ended = verify(client, wrong)
    assert ended.status_code == 302 and ended.url == reverse("login")
    assert "_auth_user_id" not in client.session
    assert "code was wrong too many times" in client.get(ended.url).content.decode()
    locked = client.post("/login/", {"username": physician.username, "password": PASSWORD})
    assert locked.status_code == 429


@pytest.mark.parametrize("role", ["Coordinator", "Physician", "Administrator"])
def test_nothing_is_required_when_the_setting_is_empty(client, settings, role):
    settings.OTP_REQUIRED_ROLES = []
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("worklist")).status_code == 200


@pytest.mark.usefixtures("required")
def test_required_roles_only(client, coordinator):
    client.force_login(coordinator)
    assert client.get(reverse("worklist")).status_code == 200


@pytest.mark.usefixtures("required")
def test_the_admin_site_is_gated_too(client, administrator):
    client.force_login(administrator)
    gated = client.get("/admin/")
    assert gated.status_code == 302 and gated.url.startswith(reverse("otp_setup"))
    device = TOTPDevice.objects.create(user=administrator, confirmed=True)
    gated = client.get("/admin/")
    assert gated.status_code == 302 and gated.url == f"{reverse('otp_verify')}?next=%2Fadmin%2F"
    assert client.post(gated.url, {"code": code_for(device.bin_key), "next": "/admin/"}).url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_user_who_set_up_an_app_always_verifies(client, coordinator):
    """Not required of coordinators, but one who set it up is asked for the code."""
    TOTPDevice.objects.create(user=coordinator, confirmed=True)
    client.force_login(coordinator)
    assert client.get(reverse("worklist")).url.startswith(reverse("otp_verify"))


def test_signing_out_is_reachable_before_the_second_factor(client, physician, enrolled):
    client.force_login(physician)
    assert client.post(reverse("logout")).url == reverse("login")
    assert "_auth_user_id" not in client.session


def test_verify_does_not_redirect_elsewhere(client, physician, enrolled):
    device, _ = enrolled
    client.force_login(physician)
    assert verify(client, code_for(device.bin_key), next_url="https://example.com/").url == reverse("worklist")


def test_overview_page(client, physician, enrolled):
    client.force_login(physician)
    verify(client, enrolled[1][0])
    page = client.get(reverse("otp_overview")).content.decode()
    assert "An authenticator app is set up" in page and "Recovery codes left: <strong>9</strong>" in page
