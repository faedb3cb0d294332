"""The drawn timeline of an episode: a server-drawn SVG (no script, no style attribute: classes of
static/css/timeline.css and presentation attributes only).

One row per phase (screening, collection, manufacturing, lymphodepletion, infusion, after care)
and per window (the infectious-marker window before collection, the pre-lymphodepletion tests
window where the version holds it, each period after the infusion), each labelled in text on its
left, on a date axis spanning the episode; day 0 and today as labelled vertical lines. The same
facts are in the page's tables and in the drawing's ``<desc>``, so nothing is said by colour alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ...patients.episodes import KeyDate, day_text
from ...rules import THRESHOLDS_BY_KEY, AftercarePeriod, measure

WIDTH = 960
LABEL_X = 8
PLOT_X0, PLOT_X1 = 300, WIDTH - 16
AXIS_Y = 34
ROW_H = 26
BAR_H = 16
#: Tick labels closer than this (in drawing units) are dropped.
TICK_GAP = 80


@dataclass(frozen=True)
class Bar:
    """A phase or window: drawn from ``start`` to ``end``, both days included."""

    kind: str  # "phase", "window", "period"
    key: str
    label: str
    start: datetime.date
    end: datetime.date

    @property
    def text(self) -> str:
        """The bar in words (the table's and the description's)."""
        if self.start == self.end:
            return f"{self.label}: {self.start.isoformat()}"
        return f"{self.label}: {self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class Placed:
    bar: Bar
    x: float
    y: float
    width: float
    label_y: float
    css: str


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    x: float
    label_y: float
    side: str = ""  # "start" or "end" when set by the placement of two lines

    @property
    def anchor(self) -> str:
        """The label's side of the line, so that it stays inside the drawing (and, with two lines,
        the left one's label to its left and the right one's to its right: neither line crosses the
        other's label)."""
        return self.side or ("end" if self.x > (PLOT_X0 + PLOT_X1) / 2 else "start")


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Drawing:
    bars: list[Placed]
    lines: list[Line]
    ticks: list[Tick]
    start: datetime.date
    end: datetime.date
    height: int
    plot_top: int
    plot_bottom: int
    description: str

    width: int = WIDTH
    label_x: int = LABEL_X
    plot_x0: int = PLOT_X0
    plot_x1: int = PLOT_X1
    axis_y: int = AXIS_Y


def _days(days: int | Decimal) -> datetime.timedelta:
    return datetime.timedelta(days=int(days))


def phases(dates: Mapping[str, datetime.date | None], *, opened: datetime.date | None,
           periods: list[AftercarePeriod]) -> list[Bar]:
    """The phases whose both ends are known, in the order of the path."""
    screening_from = dates.get("screening") or dates.get("consent") or opened
    collection, received = dates.get("leukapheresis"), dates.get("product_received")
    depletion, infusion = dates.get("lymphodepletion"), dates.get("infusion")
    bars = []
    one_day = datetime.timedelta(days=1)
    if screening_from and collection and screening_from < collection:
        bars.append(Bar("phase", "screening", "Screening", screening_from, collection - one_day))
    if collection:
        bars.append(Bar("phase", "collection", "Collection (leukapheresis)", collection, collection))
    if collection and (received or depletion or infusion):
        until = received or (depletion or infusion) - one_day
        if collection + one_day <= until:
            bars.append(Bar("phase", "manufacturing", "Manufacturing" + (" until the product is received" if received
                                                                          else ""), collection + one_day, until))
    if depletion and infusion and depletion < infusion:
        bars.append(Bar("phase", "lymphodepletion", "Lymphodepletion", depletion, infusion - one_day))
    if infusion:
        bars.append(Bar("phase", "infusion", "Infusion (day 0)", infusion, infusion))
        if periods:
            bars.append(Bar("phase", "aftercare", "After care", infusion + one_day, max(p.ends_on for p in periods)))
    return bars


def windows(dates: Mapping[str, datetime.date | None], thresholds: Mapping[str, Decimal | None]) -> list[Bar]:
    """The windows the version holds, around the treatment dates that are recorded."""
    bars = []
    collection, depletion = dates.get("leukapheresis"), dates.get("lymphodepletion")
    markers = thresholds.get("markers_window_days")
    if collection and markers is not None:
        after = thresholds.get("markers_max_days_after_collection") or 0
        bars.append(Bar("window", "markers", f"Marker window ({measure(markers, 'days')} before collection"
                        + (f", {measure(after, 'days')} after" if after else "") + ")",
                        collection - _days(markers), collection + _days(after)))
    tests = thresholds.get("pre_lymphodepletion_tests_max_days")
    if depletion and tests is not None:
        label = f"Tests window ({measure(tests, 'days')} before lymphodepletion)"
        bars.append(Bar("window", "pre_lymphodepletion", label, depletion - _days(tests), depletion))
    return bars


def period_bars(periods: list[AftercarePeriod]) -> list[Bar]:
    return [Bar("period", period.key,
                f"{period.label} ({measure(period.amount, THRESHOLDS_BY_KEY[period.threshold].unit)})",
                period.starts_on, period.ends_on) for period in periods]


def drawing(dates: list[KeyDate], *, thresholds: Mapping[str, Decimal | None], periods: list[AftercarePeriod],
            opened: datetime.date | None, today: datetime.date, include_today: bool,
            others: list[datetime.date] = ()) -> Drawing | None:
    """The drawing of an episode, or ``None`` when it has no date to draw."""
    on = {date.key: date.on for date in dates}
    zero = on.get("infusion")
    bars = phases(on, opened=opened, periods=periods) + windows(on, thresholds) + period_bars(periods)
    points = [date for date in on.values() if date] + [d for bar in bars for d in (bar.start, bar.end)] + list(others)
    if not points:
        return None
    if include_today:
        points.append(today)
    start = min(points) - datetime.timedelta(days=2)
    end = max(points) + datetime.timedelta(days=2)
    span = (end - start).days + 1

    def x(date: datetime.date) -> float:
        return round(PLOT_X0 + (date - start).days * (PLOT_X1 - PLOT_X0) / span, 1)

    day_width = (PLOT_X1 - PLOT_X0) / span
    placed = []
    top = AXIS_Y + 10
    for index, bar in enumerate(bars):
        y = top + index * ROW_H
        placed.append(Placed(bar=bar, x=x(bar.start), y=y + (ROW_H - BAR_H) / 2, label_y=y + ROW_H / 2 + 4,
                             width=round(max(day_width * ((bar.end - bar.start).days + 1), 2), 1),
                             css=f"tl-{bar.kind} tl-{bar.key}"))
    bottom = top + max(len(bars), 1) * ROW_H
    lines = []
    label_y = bottom + 18
    if zero is not None:
        lines.append(Line("day0", f"Day 0 (infusion) {zero.isoformat()}", x(zero) + day_width / 2, label_y))
        label_y += 18
    if include_today and start <= today <= end:
        lines.append(Line("today", f"Today {today.isoformat()}" + (f" ({day_text(today, zero)})" if zero else ""),
                          x(today) + day_width / 2, label_y))
        label_y += 18
    if len(lines) == 2:  # the left line's label on the first row, to its left; the right one's below, to its right
        left, right = sorted(lines, key=lambda line: line.x)
        first, second = bottom + 18, bottom + 36
        lines = [Line(left.key, left.label, left.x, first, "end" if left.x > 220 else "start"),  # row labels end above
                 Line(right.key, right.label, right.x, second, "start" if PLOT_X1 - right.x > 240 else "end")]
    description = "; ".join([f"Dates from {start.isoformat()} to {end.isoformat()}"] + [bar.text for bar in bars]
                            + [line.label for line in lines]) + "."
    return Drawing(bars=placed, lines=lines, ticks=_ticks(start, end, x), start=start, end=end,
                   height=int(label_y + 4), plot_top=AXIS_Y, plot_bottom=int(bottom), description=description)


def _ticks(start: datetime.date, end: datetime.date, x) -> list[Tick]:
    span = (end - start).days
    if span <= 70:
        step = datetime.timedelta(days=7)
        dates, day = [], start + datetime.timedelta(days=2)
        while day <= end:
            dates.append(day)
            day += step
    else:
        months = 1 if span <= 400 else 3 if span <= 1200 else 12
        dates = []
        year, month = start.year, start.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            day = datetime.date(year, month, 1)
            if day > end:
                break
            if (month - 1) % months == 0:
                dates.append(day)
    ticks: list[Tick] = []
    for day in dates:
        position = x(day)
        if ticks and position - ticks[-1].x < TICK_GAP:
            continue
        ticks.append(Tick(position, day.isoformat()))
    return ticks
