"""Reads on users: roles, the state a page is built from, the list for administrators."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch

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
