"""Administrators' pages: users (add, change role, deactivate, reactivate, reset password), the
audit export and the sign-in locks; everyone's account pages: password change and the second
factor. Every view checks the permission on the server and calls one service; pages that show a
one-time password, a recovery code or the audit trail are never cached."""

from __future__ import annotations

from base64 import b32encode
from binascii import unhexlify

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import permission_required
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from . import services
from .audit import export_filename, export_stream
from .forms import (
    AuditExportForm,
    LockLiftForm,
    OTPSetupForm,
    OTPVerifyForm,
    PasswordChangeForm,
    StampForm,
    UserCreateForm,
    UserRoleForm,
)
from .models import AuditExport
from .selectors import (
    BY_USERNAME,
    lock_list,
    otp_device_for,
    otp_required_for,
    person_label,
    recovery_codes_left,
    user_changes,
    user_list,
    user_roles,
    user_stamp,
)

MANAGE = "accounts.manage_users"
EXPORT = "accounts.export_audit"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
SETUP_KEY = "otp_setup_key"  # the secret of the app being set up, until its first code confirms it
NEW_CODES = "otp_new_recovery_codes"  # recovery codes to show once


@permission_required(MANAGE, raise_exception=True)
def users(request):
    return render(request, "accounts/user_list.html", {"users": user_list()})


@never_cache
@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def user_create(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, password = services.user_create(by=request.user, **form.cleaned_data)
        except services.UserChangeRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            return render(request, "accounts/one_time_password.html",
                          {"subject": user, "password": password, "added": True})
    return render(request, "accounts/user_form.html", {"form": form})


def _detail(request, subject, *, role_form=None):
    stamp = user_stamp(subject)
    roles = user_roles(subject)
    return render(request, "accounts/user_detail.html", {
        "subject": subject, "roles": roles, "is_self": subject.pk == request.user.pk,
        "role_form": role_form or UserRoleForm(initial={"stamp": stamp, "role": roles[0] if len(roles) == 1 else None}),
        "stamp_form": StampForm(initial={"stamp": stamp}), "changes": user_changes(subject),
    })


def _subject(pk):
    return get_object_or_404(get_user_model(), pk=pk)


@permission_required(MANAGE, raise_exception=True)
def user_detail(request, pk):
    return _detail(request, _subject(pk))


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["POST"])
def user_role(request, pk):
    subject = _subject(pk)
    form = UserRoleForm(request.POST)
    if form.is_valid():
        try:
            services.user_role_change(user=subject, role=form.cleaned_data["role"], stamp=form.cleaned_data["stamp"],
                                      by=request.user)
        except services.ConcurrentUserChange as conflict:
            form.add_error(None, str(conflict))
            form.data = form.data.copy()
            form.data["stamp"] = conflict.stamp  # the choice made is kept; submitting again applies it
        except services.UserChangeRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, f"{person_label(subject)} now has the role {form.cleaned_data['role']}.")
            return redirect("user_detail", pk=subject.pk)
    return _detail(request, subject, role_form=form)


def _stamped_action(request, pk, action, done: str):
    """Deactivate or reactivate: the page's stamp, one service, the outcome as a message."""
    subject = _subject(pk)
    form = StampForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not saved: the page was incomplete; try again.")
        return redirect("user_detail", pk=subject.pk)
    try:
        action(user=subject, stamp=form.cleaned_data["stamp"], by=request.user)
    except services.UserChangeRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{person_label(subject)} {done}.")
    return redirect("user_detail", pk=subject.pk)


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["POST"])
def user_deactivate(request, pk):
    return _stamped_action(request, pk, services.user_deactivate,
                           "is deactivated: they can no longer sign in; their records and signatures stay")


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["POST"])
def user_reactivate(request, pk):
    return _stamped_action(request, pk, services.user_reactivate, "is active again and can sign in")


@never_cache
@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["POST"])
def user_password_reset(request, pk):
    """Shows the new one-time password once, in this response only (nothing keeps it)."""
    subject = _subject(pk)
    form = StampForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not reset: the page was incomplete; try again.")
        return redirect("user_detail", pk=subject.pk)
    try:
        password = services.user_password_reset(user=subject, stamp=form.cleaned_data["stamp"], by=request.user)
    except services.UserChangeRefused as refused:
        messages.error(request, str(refused))
        return redirect("user_detail", pk=subject.pk)
    return render(request, "accounts/one_time_password.html", {"subject": subject, "password": password})


@never_cache
@permission_required(EXPORT, raise_exception=True)
@require_http_methods(["GET", "POST"])
def audit_export(request):
    """The form (GET); the file, streamed (POST: the export is recorded before its first row)."""
    today = timezone.localdate()
    form = AuditExportForm(request.POST or None, initial={"date_from": today.replace(day=1), "date_to": today})
    if request.method == "POST" and form.is_valid():
        export = services.audit_export_start(by=request.user, channel=AuditExport.Channel.PAGE, **form.cleaned_data)
        response = StreamingHttpResponse(export_stream(export), content_type=CONTENT_TYPES[export.format])
        response["Content-Disposition"] = f'attachment; filename="{export_filename(export)}"'
        return response
    return render(request, "accounts/audit_export.html", {
        "form": form, "recent": AuditExport.objects.all()[:10], "time_zone": settings.TIME_ZONE})



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
