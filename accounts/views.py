"""Administrators' pages: users (add, change role, deactivate, reactivate, reset password) and the
audit export. Every view checks the permission on the server (administrators only) and calls one
service; pages that show a one-time password or the audit trail are never cached."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import services
from .audit import export_filename, export_stream
from .forms import AuditExportForm, StampForm, UserCreateForm, UserRoleForm
from .models import AuditExport
from .selectors import person_label, user_changes, user_list, user_roles, user_stamp

MANAGE = "accounts.manage_users"
EXPORT = "accounts.export_audit"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


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
