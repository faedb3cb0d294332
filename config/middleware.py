"""Project-wide middleware."""

from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """Tell browsers and proxies to keep no copy of any page or file the application serves.

    Patient data is on most pages and in the signed PDFs: on a shared workstation a copy kept in
    the browser's cache would outlive sign-out. One rule for every response is simpler to trust
    than a decorator on each view. Static files never reach this middleware: WhiteNoise, placed
    before it, answers them itself (with long-lived caching, as they carry no patient data).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private (and Expires now).
        add_never_cache_headers(response)
        response["Pragma"] = "no-cache"  # HTTP/1.0 caches
        return response
