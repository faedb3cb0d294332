"""One log line per failed sign-in (user name as typed, address, time, which form), and one when
the failure starts a lock. Never a password, never patient data."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from .network import client_ip
from .selectors import BY_ADDRESS, BY_USERNAME, lock_list

logger = logging.getLogger("accounts")

#: Where a password or code is entered, by URL name.
FORMS = {
    "login": "sign-in page",
    "admin:login": "admin sign-in",
    "sign_off": "signing password",
    "otp_verify": "second-factor code",
    "password_change": "current password, to change it",
}


@receiver(user_login_failed, dispatch_uid="accounts.log_failed_sign_in")
def log_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Runs after django-axes' own receiver (axes is installed first), which has counted the failure."""
    username = credentials.get("username")
    address = client_ip(request) if request is not None else None
    match = getattr(request, "resolver_match", None)
    form = FORMS.get(match.view_name, match.view_name) if match else "unknown form"
    now = timezone.now()
    locked = getattr(request, "axes_locked_out", False)
    logger.warning("Sign-in failed: user name %r from address %s at %s (%s)%s", username, address,
                   now.isoformat(timespec="seconds"), form, "; signing in is locked" if locked else "")
    # axes counted the failures only when this one was not refused by a lock already in force.
    failures = getattr(request, "axes_failures_since_start", None)
    if locked and failures is not None and failures >= settings.AXES_FAILURE_LIMIT:
        for lock in lock_list(now=now):
            if (lock.kind, lock.value) in {(BY_USERNAME, username), (BY_ADDRESS, address)}:
                logger.warning("Sign-in lock started: %s %r after %d failures (this one by user name %r from "
                               "address %s); locked until %s", lock.kind_label.lower(), lock.value, lock.failures,
                               username, address, lock.until.isoformat(timespec="seconds"))
