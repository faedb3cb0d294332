"""An episode's dates as an iCalendar file (RFC 5545), written with the ``icalendar`` library.

Every recorded key date (planned or done) and the end of each period after the infusion is an
all-day event. Each event's UID is derived from the episode's opaque identifier and the event's
key, so importing the file again updates the events rather than adding copies; SEQUENCE follows
the episode's revision. Nothing identifies the patient: no study identifier, no initials.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from icalendar import Calendar, Event

from ...patients.episodes import KeyDate
from ...patients.models import Assessment
from ...rules import AftercarePeriod

PRODID = "-//CAR-T readiness//Treatment episode dates//EN"
UID_DOMAIN = "cart-readiness.invalid"


def event_uid(episode: Assessment, key: str) -> str:
    return f"{episode.public_id}-{key}@{UID_DOMAIN}"


def file_name(episode: Assessment) -> str:
    """The download's name: the episode's number only (no patient identifier)."""
    return f"treatment-dates-episode-{episode.number}.ics"


def _event(episode: Assessment, key: str, on: datetime.date, summary: str, description: str, now) -> Event:
    event = Event()
    event.add("uid", event_uid(episode, key))
    event.add("dtstamp", now)
    event.add("dtstart", on)
    event.add("dtend", on + datetime.timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("sequence", episode.revision)
    event.add("transp", "TRANSPARENT")
    return event


def episode_calendar(episode: Assessment, dates: list[KeyDate], periods: list[AftercarePeriod]) -> bytes:
    """The calendar file's bytes."""
    now = timezone.now()
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"CAR-T treatment dates (episode {episode.number})")
    for date in dates:
        if date.on is None:
            continue
        state = "done" if date.done else "planned"
        calendar.add_component(_event(episode, date.key, date.on, f"{date.label}, {state}",
                                      f"{date.label}, {state}, {date.on.isoformat()}.", now))
    for period in periods:
        calendar.add_component(_event(
            episode, f"{period.key}-ends", period.ends_on, f"End: {period.label.lower()}",
            f"{period.label}: {period.length_days} days after the infusion on {period.starts_on.isoformat()}, "
            f"until {period.ends_on.isoformat()}.", now))
    return calendar.to_ical()
