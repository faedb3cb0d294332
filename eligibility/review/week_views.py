"""The "this week" page (issue 14): for coordinators and physicians, the events of the next 7 days
of every open current episode and what goes stale before its next planned date."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from ..common.templatetags import WEEK_ROLES, plans_the_week
from .week import this_week as week_of


@require_safe
def this_week(request):
    """Grouped by day, today and the 6 days after; then the values out of date for a later date.
    Checked on the server: a coordinator or a physician (an administrator gets 403)."""
    if not plans_the_week(request.user):
        raise PermissionDenied(f"For {' and '.join(role.lower() + 's' for role in WEEK_ROLES)}.")
    return render(request, "review/this_week.html", {"week": week_of(today=timezone.localdate())})
