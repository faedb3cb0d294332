"""Account pages: sign-in locks (administrators), the second factor (everyone). Permissions are
checked here on the server; the password change pages are Django's own (see urls)."""

from __future__ import annotations

from base64 import b32encode
from binascii import unhexlify

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from . import services
from .forms import LockLiftForm, OTPSetupForm, OTPVerifyForm, PasswordChangeForm
from .selectors import BY_USERNAME, lock_list, otp_device_for, otp_required_for, recovery_codes_left

SETUP_KEY = "otp_setup_key"  # the secret of the app being set up, until its first code confirms it
NEW_CODES = "otp_new_recovery_codes"  # recovery codes to show once


def _next(request) -> str:
    """Where to go after the second factor: a local address only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


class PasswordChange(auth_views.PasswordChangeView):
    """Django's password change page (password policy included), with our template; a current
    password wrong too often signs the user out like a wrong sign-in would lock them out."""

    form_class = PasswordChangeForm
    template_name = "accounts/password_change_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_invalid(self, form):
        if not self.request.user.is_authenticated:  # locked out by that wrong password: signed out
            return redirect("login")
        return super().form_invalid(form)


@permission_required("axes.view_accessattempt", raise_exception=True)
@require_GET
def locks(request):
    """Administrators: every user name and address locked out of signing in, with a way to lift it."""
    return render(request, "accounts/lock_list.html", {
        "locks": lock_list(), "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cool_off_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "can_lift": request.user.has_perm("axes.delete_accessattempt"),
    })


@permission_required("axes.delete_accessattempt", raise_exception=True)
@require_POST
def lock_lift(request):
    """Lift one lock; whoever was locked out can sign in again at once."""
    form = LockLiftForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a lock to lift from the list.")
        return redirect("locks")
    kind, value = form.cleaned_data["kind"], form.cleaned_data["value"]
    what = f"user name {value}" if kind == BY_USERNAME else f"address {value}"
    if services.lock_lift(kind=kind, value=value, by=request.user):
        messages.success(request, f"The lock on {what} is lifted.")
    else:
        messages.info(request, f"There was no lock on {what} any more (it had ended or was lifted).")
    return redirect("locks")


@require_GET
def otp_overview(request):
    """Your second factor: whether it is set up, recovery codes left, and the actions."""
    return render(request, "accounts/otp_overview.html", {
        "device": otp_device_for(user=request.user), "codes_left": recovery_codes_left(user=request.user),
        "required": otp_required_for(user=request.user),
    })


def _qr_svg(url: str) -> str:
    """The QR code of ``url`` as an inline SVG element, drawn here (no external service, no script)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10, border=4)
    return image.to_string(encoding="unicode")


@never_cache
@require_http_methods(["GET", "POST"])
def otp_setup(request):
    """Set up an authenticator app: scan the QR code (or type the key), confirm with a code."""
    if otp_device_for(user=request.user) is not None:
        messages.info(request, "An authenticator app is set up already for your account.")
        return redirect("otp_overview")
    key = request.session.get(SETUP_KEY)
    if not key:
        key = request.session[SETUP_KEY] = random_hex(20)
    form = OTPSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = services.otp_enrolment_confirm(user=request.user, key=key, code=form.cleaned_data["code"])
        except services.OTPRefused as refused:
            form.add_error("code", str(refused))
        else:
            services.otp_session_verify(request=request, device=device)
            del request.session[SETUP_KEY]
            request.session[NEW_CODES] = codes
            messages.success(request, "Your authenticator app is set up: from now on you sign in with a code.")
            return redirect(f"{resolve_url('otp_recovery_codes')}?{urlencode({'next': _next(request)})}")
    device = TOTPDevice(user=request.user, key=key)  # not saved: only its otpauth:// address is drawn
    secret = b32encode(unhexlify(key)).decode()
    return render(request, "accounts/otp_setup.html", {
        "form": form, "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 (our own SVG, no user text)
        "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "required": otp_required_for(user=request.user), "next": _next(request),
    })


@never_cache
@require_http_methods(["GET", "POST"])
def otp_verify(request):
    """The second step of signing in: a code from the app or a recovery code."""
    if request.user.is_verified():
        return redirect(_next(request))
    if otp_device_for(user=request.user) is None:
        return redirect(f"{resolve_url('otp_setup')}?{urlencode({'next': _next(request)})}")
    form = OTPVerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.otp_verify(request=request, code=form.cleaned_data["code"])
        if result.outcome is services.Verification.VERIFIED:
            return redirect(_next(request))
        if result.outcome is services.Verification.LOCKED:
            return redirect("login")
        if result.outcome is services.Verification.THROTTLED:
            form.add_error("code", f"Too many wrong codes in a row: wait until "
                                   f"{timezone.localtime(result.retry_at):%H:%M:%S}, then enter the code again.")
        else:
            form.add_error("code", "This code is not right (or was used already). Enter the code your app shows "
                                   "now, or an unused recovery code.")
    return render(request, "accounts/otp_verify.html", {"form": form, "next": _next(request)})


@never_cache
@require_http_methods(["GET", "POST"])
def otp_recovery_codes(request):
    """GET: the new recovery codes, shown once. POST: replace the recovery codes."""
    if request.method == "POST":
        if not request.user.is_verified():
            messages.error(request, "Set up an authenticator app first; recovery codes come with it.")
            return redirect("otp_overview")
        request.session[NEW_CODES] = services.recovery_codes_create(user=request.user)
        messages.success(request, "New recovery codes: the previous ones no longer work.")
        return redirect("otp_recovery_codes")
    codes = request.session.pop(NEW_CODES, None)
    if not codes:
        messages.info(request, "Recovery codes are shown only once, when they are made. Make new ones if you "
                               "have lost yours.")
        return redirect("otp_overview")
    return render(request, "accounts/otp_recovery_codes.html", {"codes": codes, "next": _next(request)})
