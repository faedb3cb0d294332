"""Middleware: a user signed in with a one-time password goes to the password change page first."""

from django.contrib import messages
from django.shortcuts import redirect

from .selectors import must_change_password

#: The pages a user with a one-time password may still open.
ALLOWED_URL_NAMES = frozenset({"password_change", "password_change_done", "logout", "login"})


class PasswordChangeRequiredMiddleware:
    """Send a user whose password was issued by an administrator to the password change page on
    every other request, until they have chosen their own (``receivers.password_saved`` clears the
    flag). Place it after the authentication and message middleware."""

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
