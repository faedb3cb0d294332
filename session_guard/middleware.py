"""Idle sign-out, and a form posted after the session ended kept for the same user.

A small middleware rather than a library: django-session-security (the maintained one) needs
jQuery, configures itself with an inline script and styles its dialog inline (both forbidden by
this application's CSP), measures idleness on the server's naive local clock, and signs out
without a hook to keep the posted form and who typed it; django-session-timeout and
django-auto-logout are unmaintained (2020, 2022) and have the same gap.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from .restore import stash

#: When the signed-in user last did something (epoch seconds, in the session).
LAST_ACTIVITY = "session_guard.last_activity"
#: The last signed-in user of this browser (a signed cookie: a user id, nothing about patients), to
#: know whose entries a form posted after the session ended (idle, or otherwise) holds.
LAST_USER_COOKIE = "last_user"
LAST_USER_SALT = "session_guard.last_user"
#: Activity is written at most this often (one session write per request would add a database
#: write to every page view); the idle time is measured to within it.
WRITE_EVERY_SECONDS = 15


def idle_timeout() -> int:
    return settings.SESSION_IDLE_TIMEOUT


def idle_seconds(session, now: float) -> float | None:
    last = session.get(LAST_ACTIVITY)
    return None if not isinstance(last, int | float) else now - last


class IdleTimeoutMiddleware:
    """Signs out a session idle for ``SESSION_IDLE_TIMEOUT`` seconds; keeps what was posted.

    Placed after the CSRF and authentication middleware (a forged POST is refused before anything
    is kept) and before ``LoginRequiredMiddleware`` (which sends the signed-out user to sign in).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            known = request.get_signed_cookie(LAST_USER_COOKIE, default=None, salt=LAST_USER_SALT)
            if known != str(user.pk):
                response.set_signed_cookie(LAST_USER_COOKIE, str(user.pk), salt=LAST_USER_SALT, httponly=True,
                                           samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        now = time.time()
        if request.user.is_authenticated:
            idle = idle_seconds(request.session, now)
            if idle is not None and idle >= idle_timeout():
                logout(request)
            elif not getattr(view_func, "session_guard_passive", False) and (
                    idle is None or idle >= WRITE_EVERY_SECONDS):
                request.session[LAST_ACTIVITY] = now
        if request.method != "POST" or request.user.is_authenticated:
            return None
        if getattr(view_func, "login_required", True) is False:
            return None  # the sign-in page itself, and other pages open to everyone
        if getattr(view_func, "restores_entries", False):
            user_id = request.get_signed_cookie(LAST_USER_COOKIE, default=None, salt=LAST_USER_SALT)
            if user_id is not None and user_id.isdigit():
                stash(request, int(user_id))
            return redirect_to_login(request.path, resolve_url(settings.LOGIN_URL))
        # A form that cannot be shown again: back to the page it was on, after signing in.
        referer = request.headers.get("Referer", "")
        if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                       require_https=request.is_secure()):
            return redirect_to_login(urlsplit(referer).path, resolve_url(settings.LOGIN_URL))
        return None
