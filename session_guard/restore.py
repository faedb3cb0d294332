"""Entries posted after the session ended: kept in the (new, anonymous) session, keyed by the
page's path with the user who typed them, and shown again, unsaved, when that same user has
signed in and comes back to the page.

Nothing goes in a URL; the CSRF token and any password field are never kept.
"""

from __future__ import annotations

import functools
import time

from django.contrib import messages
from django.http import QueryDict

#: {path: {"user": user id, "data": {name: [values]}, "at": epoch seconds}} in the session.
STASH = "session_guard.entries"
#: Entries older than this are not restored (a whole working day).
STASH_MAX_AGE = 12 * 60 * 60
RESTORED_MESSAGE = "You were signed out; your entries are restored below: check them and save."


def restores_entries(view):
    """Mark a view whose form can be shown again from entries posted after the session ended.

    The view reads them with :func:`restored_entries` on GET and binds its form to them (showing,
    never saving them). A view without the mark gets no entries kept.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    wrapper.restores_entries = True
    return wrapper


def kept_fields(post: QueryDict) -> dict[str, list[str]]:
    """What is kept of a POST: every field but the CSRF token and passwords."""
    return {name: post.getlist(name) for name in post
            if name != "csrfmiddlewaretoken" and "password" not in name.lower()}


def stash(request, user_id: int) -> None:
    """Keep the POST of ``request`` for ``user_id`` to get back on the same page after signing in."""
    entries = dict(request.session.get(STASH) or {})
    entries[request.path] = {"user": user_id, "data": kept_fields(request.POST), "at": time.time()}
    request.session[STASH] = entries


def discard_others(session, user_id: int) -> None:
    """Forget the entries of anyone but ``user_id`` (called when ``user_id`` signs in)."""
    entries = session.get(STASH)
    if entries:
        kept = {path: entry for path, entry in entries.items() if entry.get("user") == user_id}
        if kept:
            session[STASH] = kept
        else:
            del session[STASH]


def restored_entries(request) -> QueryDict | None:
    """The entries kept for this page and this user, once (``None`` when there are none)."""
    entries = request.session.get(STASH)
    if not entries or request.path not in entries:
        return None
    entries = dict(entries)
    entry = entries.pop(request.path)
    if entries:
        request.session[STASH] = entries
    else:
        del request.session[STASH]
    if entry.get("user") != request.user.pk or time.time() - entry.get("at", 0) > STASH_MAX_AGE:
        return None  # never another user's entries
    data = QueryDict(mutable=True)
    for name, values in entry["data"].items():
        data.setlist(name, values)
    messages.info(request, RESTORED_MESSAGE)
    return data
