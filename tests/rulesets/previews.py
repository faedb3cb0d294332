"""The impact preview as an administrator gets it: asked for on its page, made by a task worker
(here its function, run at once in the test's thread), then the page read."""

from __future__ import annotations

from django.urls import reverse

from eligibility.models import RuleSet, RuleSetPreview
from eligibility.rulesets.preview import preview_digest, preview_run


def preview_made(client, draft: RuleSet, *, batch_size: int | None = None) -> RuleSetPreview:
    """Press "Preview the impact" and run the preview as a task worker would."""
    response = client.post(reverse("ruleset_preview_start", args=[draft.version]))
    assert response.status_code == 302 and response.url == reverse("ruleset_preview", args=[draft.version])
    preview = RuleSetPreview.objects.get(draft=draft, digest=preview_digest(draft))
    options = {} if batch_size is None else {"batch_size": batch_size}
    return preview_run(preview_id=preview.pk, worker="test-worker", **options) or RuleSetPreview.objects.get(
        pk=preview.pk)


def previewed(client, draft: RuleSet, **query):
    """The preview page once its preview is made (``query``: e.g. ``page=2``)."""
    preview_made(client, draft)
    return client.get(reverse("ruleset_preview", args=[draft.version]), query)
