"""WSGI entry point; production settings unless DJANGO_SETTINGS_MODULE says otherwise.

Once the application is loaded (its URLconf too, which imports every view), what it holds for its
whole life (modules, classes, settings, URL patterns: about 120,000 objects) is moved out of the
garbage collector's reach (``gc.freeze``): Python's full collections otherwise walk all of them
again, one every few hundred pages (70 ms each, a quarter of a millisecond on every physician's
worklist on average, measured in process). What a request makes is collected as before.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 (imported now, not by the first request, so that it is frozen)
gc.collect()  # nothing unreachable frozen with the rest
gc.freeze()
