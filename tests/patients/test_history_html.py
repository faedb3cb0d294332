"""The patient page's history rows written in Python (``patients.presenters.history_rows_html``) are
the bytes of the template loop they replace, whatever the values hold (text to escape, HTML marked
safe, numbers, nothing), in the programme's time zone of the moment."""

from __future__ import annotations

import datetime

from django.template import engines
from django.test import override_settings
from markupsafe import Markup

from eligibility.patients.presenters import history_rows_html

#: The loop as patients/patient_detail.jinja had it (its rows part).
LOOP = ('{% for row in history %}\n    <tr><td>{{ row.when|date("Y-m-d H:i:s") }}</td><td>{{ row.who }}</td>'
        '<td>{{ row.field }}</td><td>{{ row.old }}</td><td>{{ row.new }}</td></tr>\n  {% endfor %}')

UTC = datetime.UTC
ROWS = [
    {"when": datetime.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC), "who": "Casey <Jones>",
     "field": "Absolute lymphocyte count", "old": "", "new": "0.35 ×10⁹/L & more"},
    {"when": datetime.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "who": "O'Brien \"Sam\"", "field": "Stage",
     "old": Markup("<em>Screening</em>"), "new": 3},
    {"when": datetime.datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "who": "", "field": "x", "old": None, "new": 2.5},
    {"when": datetime.datetime(2026, 7, 1, 12, 0, 0), "who": "naive", "field": "y", "old": [1, 2], "new": "z"},
]


def test_the_rows_are_the_loops_bytes():
    loop = engines["jinja2"].from_string(LOOP)
    for zone in ("UTC", "Europe/London", "America/New_York"):
        with override_settings(TIME_ZONE=zone):
            for _ in range(2):  # written, then kept
                assert str(history_rows_html(ROWS)) == loop.render({"history": ROWS}), zone
    assert str(history_rows_html([])) == ""


def test_html_and_the_same_text_are_kept_apart():
    when = datetime.datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    html = history_rows_html([{"when": when, "who": "a", "field": "f", "old": Markup("<b>x</b>"), "new": 1}])
    text = history_rows_html([{"when": when, "who": "a", "field": "f", "old": "<b>x</b>", "new": True}])
    assert "<td><b>x</b></td><td>1</td>" in html
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td><td>True</td>" in text
