"""Forms of the account pages."""

from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm

from . import services
from .selectors import BY_ADDRESS, BY_USERNAME


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
