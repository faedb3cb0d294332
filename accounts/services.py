"""Writes: checking a password where it is re-entered, lifting a lock, the second factor.

Every password form goes through ``django.contrib.auth.authenticate`` with the request, so that
django-axes counts the failures of each user name and each address (and django-axes' backend
refuses a locked one before the password is even checked).
"""

from __future__ import annotations

import enum
import logging
import re
import time
from binascii import unhexlify
from dataclasses import dataclass
from datetime import datetime

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, logout
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .network import client_ip
from .selectors import BY_ADDRESS, BY_USERNAME, lock_until, otp_device_for

logger = logging.getLogger("accounts")

#: Set on a request whose session a lock-out ended: its view's response (a redirect to the sign-in
#: page with a message) stands instead of the lock-out page (see accounts.lockout).
SESSION_ENDED = "accounts_session_ended_by_lockout"
RECOVERY_CODE_COUNT = 10


class OTPRefused(Exception):
    """A second-factor step refused, with the message to show beside the field."""


def _session_end_for_lockout(request, *, what: str) -> None:
    """Sign the user out because ``what`` was wrong too often, and say so on the sign-in page."""
    user = request.user
    until = lock_until(username=user.get_username(), ip_address=client_ip(request))
    logger.warning("Session ended: user name %r at address %s is locked out after a wrong %s at %s",
                   user.get_username(), client_ip(request), what, timezone.now().isoformat(timespec="seconds"))
    logout(request)
    setattr(request, SESSION_ENDED, True)
    when = f" until {timezone.localtime(until):%H:%M}" if until else ""
    messages.error(request, f"The {what} was wrong too many times: you have been signed out and signing in is "
                            f"locked{when}. Nothing was signed or changed. An administrator can lift the lock sooner.")


def password_recheck(*, request, user: AbstractBaseUser, password: str, what: str) -> bool:
    """Whether ``password`` is ``user``'s, re-entered while signed in (``what`` names it in the
    message): checked like a sign-in so that a wrong one counts towards the lock-out. When it locks
    the user out, the session ends (the caller then sends the browser to the sign-in page, which
    shows why)."""
    if authenticate(request=request, username=user.get_username(), password=password) is not None:
        return True
    if getattr(request, "axes_locked_out", False):
        _session_end_for_lockout(request, what=what)
    return False


def signing_password_check(*, request, user: AbstractBaseUser, password: str) -> bool:
    """The password re-entered to sign a checklist (see ``password_recheck``)."""
    return password_recheck(request=request, user=user, password=password, what="signing password")


def lock_lift(*, kind: str, value: str, by: AbstractBaseUser) -> int:
    """Lift the lock on a user name or an address: forget its recorded failures. Returns how many
    records were removed (0 if the lock had ended or was lifted meanwhile)."""
    if kind == BY_USERNAME:
        removed = axes_reset(username=value)
    elif kind == BY_ADDRESS:
        removed = axes_reset(ip=value)
    else:
        raise ValueError(f"unknown kind of lock: {kind!r}")
    logger.warning("Sign-in lock lifted: %s %r by administrator %r at %s (%d failure records removed)",
                   "user name" if kind == BY_USERNAME else "address", value, by.get_username(),
                   timezone.now().isoformat(timespec="seconds"), removed)
    return removed


def recovery_codes_create(*, user: AbstractBaseUser) -> list[str]:
    """New recovery codes for ``user``; the previous ones stop working. Shown to the user once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    logger.info("Recovery codes created for user name %r", user.get_username())
    return codes


def _digits(code: str) -> str:
    return re.sub(r"\s", "", code)


def otp_enrolment_confirm(*, user: AbstractBaseUser, key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Set up the authenticator app holding ``key`` (hex) once it shows ``code``; returns the
    device and the new recovery codes.

    Refused if the code is not the app's or if the user set up an app meanwhile (another tab).
    """
    with transaction.atomic():
        # One enrolment at a time per user: the row lock orders concurrent confirmations.
        get_user_model().objects.select_for_update().get(pk=user.pk)
        if otp_device_for(user=user) is not None:
            raise OTPRefused("An authenticator app is set up already for your account.")
        code = _digits(code)
        totp = TOTP(unhexlify(key), step=30, t0=0, digits=6)
        totp.time = time.time()
        if not (code.isdigit() and len(code) == 6 and totp.verify(int(code), tolerance=1)):
            raise OTPRefused("This is not the code your app shows: enter the 6 digits it shows now.")
        TOTPDevice.objects.filter(user=user).delete()  # unconfirmed leftovers, if any
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", key=key, confirmed=True,
                                           last_t=totp.t())  # the code just used cannot be used again
        codes = recovery_codes_create(user=user)
    logger.info("Authenticator app set up for user name %r", user.get_username())
    return device, codes


def otp_session_verify(*, request, device: TOTPDevice) -> None:
    """Mark this session as having passed the second factor with ``device`` (its first code)."""
    django_otp.login(request, device)


class Verification(enum.Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    THROTTLED = "throttled"
    LOCKED = "locked"


@dataclass
class VerificationResult:
    outcome: Verification
    #: THROTTLED: when the next code will be accepted.
    retry_at: datetime | None = None


def otp_verify(*, request, code: str) -> VerificationResult:
    """The second step of signing in: a code of the user's authenticator app or one of their
    recovery codes (used once). A wrong code counts towards the sign-in lock-out, like a wrong
    password; on top of that django-otp throttles each device (1, 2, 4, ... seconds after
    successive wrong codes). When the user is or becomes locked out, the session ends."""
    user = request.user
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        _session_end_for_lockout(request, what="code")
        return VerificationResult(Verification.LOCKED)
    code = _digits(code).lower()
    # Six digits come from the app; a recovery code is 8 letters and digits.
    devices = (TOTPDevice if code.isdigit() else StaticDevice).objects.devices_for_user(user, confirmed=True)
    device = devices.first()
    if device is not None:
        allowed, details = device.verify_is_allowed()
        if not allowed:
            return VerificationResult(Verification.THROTTLED, retry_at=details.get("locked_until"))
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            django_otp.login(request, verified)
            logger.info("Second factor accepted for user name %r (%s)", user.get_username(), verified.name)
            return VerificationResult(Verification.VERIFIED)
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    if getattr(request, "axes_locked_out", False):
        _session_end_for_lockout(request, what="code")
        return VerificationResult(Verification.LOCKED)
    return VerificationResult(Verification.WRONG)
