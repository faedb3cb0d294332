"""The second-factor gate: after the password, a user who must (their role is in
OTP_REQUIRED_ROLES) or who can (they set up an authenticator app) verify a code reaches no page
but the verification, the enrolment and signing out. Covers every URL, the admin site included."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import urlencode

from .selectors import otp_device_for, otp_required_for

#: URL names reachable between the password and the second factor.
OPEN_VIEWS = {"otp_verify", "otp_setup", "logout", "admin:logout"}


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
