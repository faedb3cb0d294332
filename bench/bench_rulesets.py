#!/usr/bin/env python
"""Benchmark of the administrators' impact preview and the bulk re-evaluation after publishing.

Seeds N synthetic open assessments (``manage.py seed_assessments``) into a fresh SQLite database
of its own, makes a version 2 (travel time up to 120 minutes, 2-week driving restriction and
stay), then times ``impact_preview`` and ``ruleset_publish`` + ``reevaluate_open_assessments``.
Targets for 10,000 open assessments on SQLite: preview under 3 s, re-evaluation under 10 s.

Runs with DEBUG off, as deployed (debug mode keeps a copy of every SQL statement). Reports each
round and the median of the rounds; the preview is also timed as the administrator's page (request and
rendering included).

Usage: ``python bench/bench_rulesets.py [--assessments 10000] [--rounds 3] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessments", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="versions made, previewed and published in turn")
    parser.add_argument("--database-url", default="",
                        help="an EMPTY database to use instead of a new SQLite file (e.g. PostgreSQL)")
    args = parser.parse_args()
    database_url = args.database_url
    if not database_url:
        folder = tempfile.mkdtemp()
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # the benchmark's own database
        database_url = f"sqlite:///{folder}/bench.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "False",
           "DATABASE_URL": database_url, "DJANGO_ADMIN_PASSWORD": "bench-only-not-used"}
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "-v", "0"], ["ensure_admin"], ["seed_assessments", str(args.assessments)]):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    from eligibility.review import reevaluation
    from eligibility.rulesets import services as rulesets
    from eligibility.rulesets.preview import impact_preview
    from eligibility.rulesets.selectors import ruleset_get

    admin = User.objects.get(username="admin")
    # Version 2 is the June 2025 label change; later rounds go back and forth (each one changes
    # every open assessment's driving reason, so every round re-evaluates all of them).
    changed = {"proximity_max_minutes": Decimal(120), "driving_restriction_weeks": Decimal(2),
               "proximity_stay_weeks": Decimal(2)}
    original = {key: Decimal(value) for key, value in ruleset_get().thresholds
                .filter(key__in=changed).values_list("key", "value")}
    previews, pages, publications = [], [], []
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    for round_number in range(args.rounds):
        draft = rulesets.ruleset_draft_create(by=admin)
        rulesets.ruleset_thresholds_update(draft=draft, by=admin, values=changed if round_number % 2 == 0 else original)
        started = time.perf_counter()
        impact = impact_preview(draft=draft)
        previews.append(time.perf_counter() - started)
        print(f"Impact preview of {impact.total:,} open assessments: {previews[-1]:.2f} s "
              f"({len(impact.changed):,} would change; {impact.summary})")
        started = time.perf_counter()
        response = client.get(reverse("ruleset_preview", args=[draft.version]))
        pages.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"The preview page answered {response.status_code}.")
        print(f"The preview page (request, preview, 500 rows rendered): {pages[-1]:.2f} s")
        started = time.perf_counter()
        published = rulesets.ruleset_publish(draft=draft, note="benchmark", by=admin)
        # The re-evaluation a task worker runs after the publish, here in this process (the worker
        # path, with a task queue, is bench/bench_publish.py's).
        outcome = reevaluation.reevaluation_run(reevaluation_id=published.reevaluation.pk, worker="bench")
        publications.append(time.perf_counter() - started)
        print(f"Publish version {published.version} and re-evaluate: {publications[-1]:.2f} s "
              f"({outcome.reevaluated:,} re-evaluated, {outcome.review_requested:,} review requests)")
    print(f"Median of {args.rounds}: impact preview {statistics.median(previews):.2f} s, as a page "
          f"{statistics.median(pages):.2f} s (target < 3 s); "
          f"publish and re-evaluate {statistics.median(publications):.2f} s (target < 10 s)")

if __name__ == "__main__":
    main()
