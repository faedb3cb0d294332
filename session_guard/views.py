"""What the idle warning asks the server: time left (does not count as activity), and stay signed in."""

import time

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .middleware import LAST_ACTIVITY, idle_seconds, idle_timeout


def passive(view):
    """A request that does not count as the user's activity (the warning's own checks)."""
    view.session_guard_passive = True
    return view


def _remaining(request, now: float) -> int:
    if not request.user.is_authenticated:
        return 0
    idle = idle_seconds(request.session, now)
    return max(0, int(idle_timeout() - (idle or 0)))


@login_not_required
@never_cache
@require_GET
@passive
def session_status(request):
    """``{"remaining": seconds}`` before the idle sign-out (0: signed out)."""
    return JsonResponse({"remaining": _remaining(request, time.time())})


@login_not_required
@never_cache
@require_POST
def session_ping(request):
    """Stay signed in: the request itself is the activity (recorded, unthrottled)."""
    now = time.time()
    if request.user.is_authenticated:
        request.session[LAST_ACTIVITY] = now
    return JsonResponse({"remaining": _remaining(request, now)})
