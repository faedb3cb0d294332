"""The cheapest page a signed-in user can get: the floor the benchmarks compare real pages to."""

from django.http import HttpResponse
from django.views.decorators.http import require_safe


@require_safe
def hello(request):
    """A signed-in user's smallest page, through the same middleware as every other page (sign-in,
    second factor, idle time-out, no-store, CSP): nothing about patients, no template, no query
    beyond what the middleware makes. The web benchmark (``make bench-web``) measures each page's
    requests per second as a share of this one's."""
    return HttpResponse("Hello.", content_type="text/plain; charset=utf-8")
