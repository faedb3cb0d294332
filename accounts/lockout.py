"""The page shown when django-axes refuses a sign-in (AXES_LOCKOUT_CALLABLE)."""

from __future__ import annotations

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.shortcuts import render

from .selectors import lock_until
from .services import SESSION_ENDED


def lockout_response(request, original_response, credentials):
    """Say that signing in is locked, for how long, and who can lift it (status 429).

    Where a wrong signing password or second-factor code ended the session, the view's own
    response (to the sign-in page, with the reason) stands.
    """
    if getattr(request, SESSION_ENDED, False):
        return original_response
    cool_off = get_cool_off(request)
    return render(request, "accounts/locked_out.html", {
        "until": lock_until(username=get_client_username(request, credentials), ip_address=request.axes_ip_address),
        "cool_off_minutes": int(cool_off.total_seconds() // 60),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }, status=settings.AXES_HTTP_RESPONSE_CODE)
