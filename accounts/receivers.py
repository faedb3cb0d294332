"""Signal receivers: the one-time-password flag follows every password saved for a user; one log
line per failed sign-in (user name as typed, address, time, which form), and one when the failure
starts a lock. Never a password, never patient data."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from .models import Account
from .network import client_ip
from .selectors import BY_ADDRESS, BY_USERNAME, lock_list

logger = logging.getLogger("accounts")


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.password_saved")
def password_saved(sender, instance, raw=False, **kwargs):
    """Set ``must_change_password`` when a one-time password is saved, clear it when any other
    password is (the password change page, a command, the administration site).

    ``_password`` is Django's own marker that ``set_password`` was called before this save (it is
    cleared for mere hash upgrades at sign-in, which are not password changes).
    """
    if raw or getattr(instance, "_password", None) is None:
        return
    one_time = getattr(instance, "password_is_one_time", False)
    Account.objects.update_or_create(user=instance, defaults={"must_change_password": one_time})
    instance.password_is_one_time = False


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


@receiver(user_logged_in, dispatch_uid="accounts.forget_failures_on_sign_in")
def forget_failures_on_sign_in(sender, request, user, **kwargs):
    """A successful sign-in forgets the user's earlier failures (see ``services.forget_failures``)."""
    from .services import forget_failures

    forget_failures(user)
