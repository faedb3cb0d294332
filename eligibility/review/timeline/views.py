"""The timeline, the patient's card and the calendar file of an episode (addressed by the episode's
opaque identifier; no patient identifier in a URL, a file name or a log line).

Who: the timeline is read by everyone who reads checklists and their history (coordinators,
physicians and administrators, who read everything). The card and the calendar file are handed to
the patient or used to plan their care: the care team only, coordinators and physicians (those who
record clinical data: intake or decisions); an administrator is refused. Pages are never cached
(``config.middleware.NoStoreMiddleware``); the calendar file says so too.
"""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from ...patients.episodes import day0, key_dates
from ...patients.fields import SECTIONS
from . import calendar
from .drawing import drawing
from .selectors import episode_or_404, episode_timeline, periods_of, thresholds_of, version_in_force

#: Recording intake (coordinators) or decisions (physicians): the care team.
CARE_TEAM_PERMISSIONS = ("eligibility.change_assessment", "eligibility.add_disposition")


def is_care_team(user) -> bool:
    return any(user.has_perm(permission) for permission in CARE_TEAM_PERMISSIONS)


def care_team_required(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_care_team(request.user):
            raise PermissionDenied("The patient's card and calendar are for the care team.")
        return view(request, *args, **kwargs)
    return wrapped


def plan_stands(episode) -> bool:
    """Whether the episode's dates are still the patient's plan: open, or closed as treatment
    completed (its infusion and the periods after it happened). An episode replaced, stopped or
    closed as not eligible keeps its timeline but gives no card or calendar file: its dates will
    not happen, and a patient or a calendar must not be told they will."""
    return not episode.is_closed or episode.close_reason == episode.CloseReason.COMPLETED


def _not_the_plan(request, episode):
    current = episode.patient.assessment
    return render(request, "timeline/not_the_plan.html", {
        "episode": episode, "current": current if current is not None and current.pk != episode.pk else None,
    }, status=409)


def _title(episode) -> str:
    """The page's name: the current episode's timeline is "Timeline"; an earlier one's says which."""
    if episode.patient.assessment_id == episode.pk:
        return "Timeline"
    return f"Timeline of episode {episode.number}"


@permission_required(("eligibility.view_assessment", "eligibility.view_evaluation"), raise_exception=True)
@require_safe
def episode_timeline_page(request, public_id):
    episode = episode_or_404(public_id)
    timeline = episode_timeline(episode, can_see_rulesets=request.user.has_perm("eligibility.change_ruleset"))
    others = [row.on for row in timeline.rows if row.kind in ("key_date", "measurement")]
    drawn = drawing(timeline.dates, thresholds=timeline.thresholds, periods=timeline.periods,
                    opened=episode.opened_at.date() if episode.opened_at else None, today=timeline.today,
                    include_today=not episode.is_closed, others=others)
    return render(request, "timeline/timeline.html", {
        "patient": episode.patient, "episode": episode, "timeline": timeline, "drawing": drawn,
        "page_title": _title(episode), "care_team": is_care_team(request.user), "sections": SECTIONS,
    })


@care_team_required
@require_safe
def episode_card(request, public_id):
    """A one-page card for the patient, in plain words: no study identifier, no initials."""
    episode = episode_or_404(public_id)
    if not plan_stands(episode):
        return _not_the_plan(request, episode)
    ruleset = version_in_force(episode)
    thresholds = thresholds_of(ruleset)
    return render(request, "timeline/card.html", {
        "episode": episode, "day0": day0(episode), "periods": periods_of(episode, thresholds),
        "fever_c": thresholds.get("fever_c"), "ruleset": ruleset,
    })


@care_team_required
@require_safe
def episode_calendar(request, public_id):
    episode = episode_or_404(public_id)
    if not plan_stands(episode):
        return _not_the_plan(request, episode)
    periods = periods_of(episode, thresholds_of(version_in_force(episode)))
    response = HttpResponse(calendar.episode_calendar(episode, key_dates(episode), periods),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{calendar.file_name(episode)}"'
    add_never_cache_headers(response)
    return response
