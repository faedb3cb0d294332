"""PDF rendering of signed checklists with WeasyPrint (no network: only local stylesheets)."""

from __future__ import annotations

from django.contrib.staticfiles import finders


def render_pdf(html: str) -> bytes:
    """``html`` as PDF bytes, styled by static/css/pdf.css; any URL it names outside is not fetched."""
    from weasyprint import CSS, HTML  # imported here: loading pango/harfbuzz costs start-up time

    def no_network(url: str, *args, **kwargs):
        raise ValueError(f"not fetched: {url}")

    stylesheet = CSS(filename=finders.find("css/pdf.css"))
    return HTML(string=html, url_fetcher=no_network).write_pdf(stylesheets=[stylesheet])
