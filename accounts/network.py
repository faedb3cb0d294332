"""The client's address, as the lock-out and the log lines use it."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The address the request came from.

    ``REMOTE_ADDR`` unless ``TRUSTED_PROXY_COUNT`` says the application runs behind that many
    reverse proxies, each appending the address it received the request from to
    ``X-Forwarded-For``: then the client is that many entries from the right. Entries further left
    were written by the client and are never trusted; a header shorter than the proxy count or an
    entry that is not an address falls back to ``REMOTE_ADDR``.
    """
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
