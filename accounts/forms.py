"""Forms of the users' pages and the audit export, and of the account pages (password change,
second factor, sign-in locks). crispy-bootstrap5 renders them; errors beside fields."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm

from . import services
from .models import AuditExport
from .selectors import BY_ADDRESS, BY_USERNAME, ROLES

ROLE_DESCRIPTIONS = {
    "Coordinator": "creates patients, records intake data, reads checklists",
    "Physician": "reads patients, intake and checklists; records decisions and signs",
    "Administrator": "reads everything, maintains rule sets, manages users, exports the audit trail",
}
ROLE_CHOICES = [(role, f"{role}: {ROLE_DESCRIPTIONS[role]}") for role in ROLES]


class UserCreateForm(forms.Form):
    username = forms.CharField(label="User name", max_length=150,
                               validators=[get_user_model().username_validator],
                               help_text="What they type to sign in: letters, digits and @ . + - _ only.")
    full_name = forms.CharField(label="Full name", max_length=300,
                                help_text="As printed on signatures and in the history, e.g. Robin Lee.")
    role = forms.ChoiceField(choices=ROLE_CHOICES, widget=forms.RadioSelect)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("This user name is taken: choose another.")
        return username


class StampForm(forms.Form):
    """The state of the user the page was built from (a change made meanwhile is refused)."""

    stamp = forms.CharField(widget=forms.HiddenInput)


class UserRoleForm(StampForm):
    role = forms.ChoiceField(label="New role", choices=ROLE_CHOICES, widget=forms.RadioSelect)


class AuditExportForm(forms.Form):
    date_from = forms.DateField(label="From", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
                                help_text="First day included (YYYY-MM-DD).")
    date_to = forms.DateField(label="To", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
                              help_text="Last day included (YYYY-MM-DD).")
    format = forms.ChoiceField(label="File format", choices=AuditExport.Format.choices, widget=forms.RadioSelect,
                               initial=AuditExport.Format.CSV)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The last day must be on or after the first day.")
        return cleaned


class PasswordChangeForm(DjangoPasswordChangeForm):
    """Django's form, whose current password counts towards the lock-out like a sign-in (a
    session left open must not let anyone guess the password to change it)."""

    def __init__(self, user, *args, request, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        if not services.password_recheck(request=self.request, user=self.user, password=old_password,
                                         what="current password"):
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class _Form(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class OTPSetupForm(_Form):
    code = forms.CharField(label="Code shown by your app", max_length=12, strip=True,
                           help_text="6 digits; a new code appears every 30 seconds.",
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class OTPVerifyForm(_Form):
    code = forms.CharField(label="Code", max_length=24, strip=True,
                           help_text="The 6 digits your authenticator app shows, or one of your recovery codes "
                                     "(each works once).",
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}))


class LockLiftForm(forms.Form):
    kind = forms.ChoiceField(choices=[(BY_USERNAME, "User name"), (BY_ADDRESS, "Address")])
    value = forms.CharField(max_length=255)
