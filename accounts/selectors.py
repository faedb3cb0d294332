"""Reads: users (roles, the state a page is built from, the list for administrators), the
sign-in locks as django-axes counts them, and a user's second factor."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Account, UserChange

ADMINISTRATOR = "Administrator"
#: The roles a user can have, as groups (created by eligibility's migration 0004).
ROLES = ("Coordinator", "Physician", ADMINISTRATOR)


def person_label(user) -> str:
    """A person as the audit trail prints them: full name and user name."""
    name = user.get_full_name()
    return f"{name} ({user.username})" if name else user.username


def user_roles(user) -> list[str]:
    """The user's roles (normally one), sorted."""
    return sorted(group.name for group in user.groups.all() if group.name in ROLES)


def user_stamp(user) -> str:
    """The state an administrator's page about ``user`` was built from: roles, active, the last
    recorded change. A change is refused when the stamp it was made from is no longer current."""
    last = UserChange.objects.filter(user=user).order_by("-id").values_list("id", flat=True).first()
    return f"{','.join(user_roles(user))}|{int(user.is_active)}|{last or 0}"


def user_list():
    """Every user, active ones first, with their groups."""
    from django.contrib.auth.models import Group

    return (get_user_model().objects.order_by("-is_active", "username")
            .prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name"))))


def user_changes(user, limit: int = 100):
    """The recorded changes of one user, newest first."""
    return UserChange.objects.filter(user=user).order_by("-at", "-id")[:limit]


def must_change_password(user) -> bool:
    """Whether the user signed in with a one-time password they have not replaced yet."""
    return Account.objects.filter(user_id=user.pk, must_change_password=True).exists()


#: The two kinds of lock (AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]).
BY_USERNAME, BY_ADDRESS = "username", "ip_address"
KIND_LABELS = {BY_USERNAME: "User name", BY_ADDRESS: "Address"}


@dataclass
class Lock:
    """A user name or an address that may not sign in until ``until``."""

    kind: str
    value: str
    failures: int
    first_failure: datetime
    last_failure: datetime
    until: datetime
    #: The addresses the failures came from (a user-name lock) or the user names tried (an address lock).
    related: list[str] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


def _fresh_attempts(now: datetime) -> list[AccessAttempt]:
    """The recorded failures that still count: axes ignores those older than the cool-off."""
    return list(AccessAttempt.objects.filter(attempt_time__gte=now - get_cool_off())
                .only("username", "ip_address", "failures_since_start", "attempt_time")
                .order_by("-attempt_time", "-pk"))


def _until(attempts: list[AccessAttempt]) -> datetime | None:
    """When the lock over these attempts (newest first) ends, or None if they do not lock.

    Axes adds up the failures of the records newer than the cool-off: the lock holds until the
    record that brings the sum, counted from the newest, to the limit is older than the cool-off.
    """
    total = 0
    for attempt in attempts:
        total += attempt.failures_since_start
        if total >= settings.AXES_FAILURE_LIMIT:
            return attempt.attempt_time + get_cool_off()
    return None


def lock_list(*, now: datetime | None = None) -> list[Lock]:
    """Every current lock, user names first, each with its failures and when it ends."""
    now = now or timezone.now()
    groups: dict[tuple[str, str], list[AccessAttempt]] = defaultdict(list)
    for attempt in _fresh_attempts(now):
        if attempt.username:
            groups[BY_USERNAME, attempt.username].append(attempt)
        if attempt.ip_address:
            groups[BY_ADDRESS, attempt.ip_address].append(attempt)
    locks = []
    for (kind, value), attempts in groups.items():
        until = _until(attempts)
        if until is None or until <= now:
            continue
        other = "ip_address" if kind == BY_USERNAME else "username"
        locks.append(Lock(
            kind=kind, value=value, failures=sum(a.failures_since_start for a in attempts),
            first_failure=attempts[-1].attempt_time, last_failure=attempts[0].attempt_time, until=until,
            related=sorted({getattr(a, other) for a in attempts if getattr(a, other)}),
        ))
    return sorted(locks, key=lambda lock: (lock.kind != BY_USERNAME, lock.value))


def lock_until(*, username: str | None, ip_address: str | None, now: datetime | None = None) -> datetime | None:
    """When the lock on this user name or this address ends (the later of the two), or None."""
    ends = [lock.until for lock in lock_list(now=now)
            if (lock.kind, lock.value) in {(BY_USERNAME, username), (BY_ADDRESS, ip_address)}]
    return max(ends, default=None)


def otp_device_for(*, user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they have set one up."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def recovery_codes_left(*, user: AbstractBaseUser) -> int:
    """How many unused recovery codes the user has."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def otp_required_for(*, user: AbstractBaseUser) -> bool:
    """Whether the deployment requires a second factor of this user's role (OTP_REQUIRED_ROLES)."""
    roles = settings.OTP_REQUIRED_ROLES
    return bool(roles) and user.groups.filter(name__in=roles).exists()
