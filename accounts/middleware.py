"""Two gates after the password, in this order in MIDDLEWARE (both need the authentication and
message middleware before them):

1. ``OTPRequiredMiddleware``, the second factor: a user who must (their role is in
   OTP_REQUIRED_ROLES) or who can (they set up an authenticator app) verify a code reaches no page
   but the verification, the enrolment and signing out. Covers every URL, the admin site included.
2. ``PasswordChangeRequiredMiddleware``: a user signed in with a one-time password goes to the
   password change page first.

Each lets through the other's pages, so that a user who has to do both does the second factor
first, then changes the password, without being sent back and forth.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import urlencode

from .selectors import must_change_password, otp_device_for, otp_required_for

#: URL names reachable between the password and the second factor.
OPEN_VIEWS = {"otp_verify", "otp_setup", "logout", "admin:logout"}

#: The pages a user with a one-time password may still open: the password change, signing in and
#: out, and the second-factor steps the gate above sends them to (the recovery codes, shown once
#: right after the enrolment, included).
ALLOWED_URL_NAMES = frozenset({"password_change", "password_change_done", "logout", "login",
                               "otp_verify", "otp_setup", "otp_recovery_codes"})


class OTPRequiredMiddleware:
    """Needs django_otp.middleware.OTPMiddleware before it (it gives ``user.is_verified()``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if request.resolver_match is not None and request.resolver_match.view_name in OPEN_VIEWS:
            return None
        if otp_device_for(user=user) is not None:
            target = "otp_verify"
        elif otp_required_for(user=user):
            target = "otp_setup"
        else:
            return None
        after = request.get_full_path() if request.method == "GET" else resolve_url(settings.LOGIN_REDIRECT_URL)
        return redirect(f"{reverse(target)}?{urlencode({'next': after})}")


class PasswordChangeRequiredMiddleware:
    """Send a user whose password was issued by an administrator to the password change page on
    every other request, until they have chosen their own (``receivers.password_saved`` clears the
    flag)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if (not request.user.is_authenticated or (match and match.url_name in ALLOWED_URL_NAMES)
                or not must_change_password(request.user)):
            return None
        messages.info(request, "Your password was issued by an administrator: choose your own password to continue.")
        return redirect("password_change")
