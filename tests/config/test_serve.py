"""``make serve``: production settings behind gunicorn, answering on its port.

The recipe runs as written (migrate, collectstatic, gunicorn) with ``-o install``: installing is
``make test``'s own prerequisite and done already; a test must not install into the environment.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT

SERVE = [shutil.which("make") or "make", "--no-print-directory", "-o", "install", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_environment(tmp_path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "GUNICORN_"))}
    env.update({
        "DJANGO_SECRET_KEY": "serve-test-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; TLS is the proxy's (README)
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_TIMEOUT": "30",
    })
    return env


def get(url: str, **headers) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (a loopback http URL built here)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, {key.lower(): value for key, value in response.headers.items()}, response.read()


def wait_until_answering(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"make serve ended with status {server.returncode}: {server.stdout.read()}")
        try:
            get(url)
            return
        except urllib.error.HTTPError as answer:  # answering, but not with the page
            raise AssertionError(f"{url} answered {answer.code}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # not listening yet, or booting
            time.sleep(0.3)
    raise AssertionError(f"nothing answered on {url} within {seconds} s")


@pytest.fixture
def served(tmp_path):
    """``make serve`` in a process group of its own, stopped (gracefully) after the test."""
    port = free_port()
    server = subprocess.Popen(SERVE, cwd=ROOT,
                              env=production_environment(tmp_path, port), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/login/", server)
        yield base, server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_make_serve_answers_with_production_settings(served):
    base, server = served
    status, headers, body = get(f"{base}/login/")
    assert status == 200
    assert "no-store" in headers["cache-control"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "strict-transport-security" not in headers  # plain HTTP: HSTS only over TLS
    assert "server" not in headers or "WSGIServer" not in headers["server"]  # gunicorn, not runserver
    # Behind the TLS proxy, which says so with X-Forwarded-Proto: HSTS and secure cookies.
    _, secure, _ = get(f"{base}/login/", **{"X-Forwarded-Proto": "https"})
    assert secure["strict-transport-security"].startswith("max-age=31536000")
    assert "secure" in secure["set-cookie"].lower()
    # The static files were collected and are served under their hashed names (manifest storage).
    stylesheet = re.search(rb'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', body)
    assert stylesheet, body[:500]
    status, static_headers, _ = get(base + stylesheet.group(1).decode())
    assert status == 200
    assert "immutable" in static_headers["cache-control"]
    # Production settings: no debug page for an unknown address.
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(f"{base}/no-such-page/")
    assert missing.value.code in (302, 404)
    assert b"Traceback" not in missing.value.read()


def test_make_serve_refuses_to_start_without_the_production_secrets(tmp_path):
    env = production_environment(tmp_path, free_port())
    del env["DJANGO_SECRET_KEY"]
    result = subprocess.run(SERVE, cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "set DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS" in result.stderr
    assert not (tmp_path / "serve.sqlite3").exists()  # stopped before migrating anything


def test_the_wsgi_application_is_loaded_with_every_view_then_frozen(tmp_path):
    # What the application holds for its whole life is out of the garbage collector's full
    # collections (config/wsgi.py); its views were imported first (the URLconf), so are frozen too.
    env = production_environment(tmp_path, free_port())
    script = ("import gc, sys; import config.wsgi; "
              "print(gc.get_freeze_count(), len(gc.get_objects(2)), 'eligibility.review.views' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True, timeout=120).stdout.split()
    frozen, left, views = int(found[0]), int(found[1]), found[2]
    assert frozen > 50_000
    assert left < 1_000  # the oldest generation: what was made after the freeze only
    assert views == "True"
