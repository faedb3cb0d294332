"""Users' accounts beside Django's user: the one-time-password flag, the audit trail of every
change made to a user, and the record of every audit export."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Account(models.Model):
    """What the application keeps about a user beyond ``auth.User``.

    ``must_change_password`` is set when the server issues a one-time password (a new user, a
    reset) and cleared whenever any other password is saved for the user (``receivers``); while
    it is set, every page sends the user to the password change page.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    must_change_password = models.BooleanField(default=False)

    class Meta:
        permissions = [
            ("manage_users", "Can add users, change their role, deactivate them and reset their password"),
            ("export_audit", "Can export the audit trail"),
        ]

    def __str__(self) -> str:
        return f"Account of user {self.user_id}"


class UserChange(models.Model):
    """One change made to a user (never the password itself): who, when, which user, old and new.

    An explicit record rather than django-simple-history on ``auth.User``: a role is a group
    membership (simple-history's m2m tracking writes two records for one change of role), every
    sign-in saves ``last_login`` (a historical row each time), and a password reset must be
    recorded without copying any password hash into a history table.
    """

    class Action(models.TextChoices):
        CREATED = "created", "User added"
        ROLE_CHANGED = "role_changed", "Role changed"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        PASSWORD_RESET = "password_reset", "Password reset"

    #: The field of the user each action changes (none for an addition: the new value lists them).
    FIELDS = {"created": "", "role_changed": "role", "deactivated": "active", "reactivated": "active",
              "password_reset": "password"}

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    old_value = models.CharField(max_length=300, blank=True)
    new_value = models.CharField(max_length=300, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                           related_name="+", help_text="Empty when made from the command line.")
    by_name = models.CharField(max_length=300, help_text="Who, as printed at the time.")
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.by_name} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def field(self) -> str:
        return self.FIELDS[self.action]


class AuditExport(models.Model):
    """One export of the audit trail: who, when, the date range, the format and the rows written.

    ``row_count`` stays empty until the whole file has been written (a download cut short is
    still recorded as an attempt).
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    class Channel(models.TextChoices):
        PAGE = "page", "Page"
        COMMAND = "command", "Command line"

    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                           related_name="+")
    by_name = models.CharField(max_length=300)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    date_from = models.DateField()
    date_to = models.DateField()
    format = models.CharField(max_length=4, choices=Format.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    row_count = models.PositiveIntegerField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(date_from__lte=models.F("date_to")),
                                              name="audit_export_range_in_order")]

    def __str__(self) -> str:
        return f"Audit export {self.date_from} to {self.date_to} ({self.format}) by {self.by_name}"

    @property
    def summary(self) -> str:
        """The export as one value of the audit trail."""
        rows = f"{self.row_count} rows" if self.row_count is not None else "not completed"
        return (f"{self.date_from.isoformat()} to {self.date_to.isoformat()}, {self.get_format_display()}, "
                f"{rows}, from the {self.get_channel_display().lower()}")
