#!/usr/bin/env python
"""Benchmark of the administrators' impact preview and the bulk re-evaluation after publishing.

Seeds N synthetic open assessments (``manage.py seed_assessments``) into a fresh SQLite database
of its own, makes a version 2 (travel time up to 120 minutes, 2-week driving restriction and
stay), then times the impact preview and ``ruleset_publish`` + the re-evaluation a task worker
runs. Targets for 10,000 open assessments on SQLite: preview under 3 s, re-evaluation under 10 s.

The preview is background work: "Preview the impact" (a POST) queues it, a task worker makes it
(here ``preview_run`` in this process, as the worker calls it) batch by batch into its rows, and
the page lists 50 patients a page. Timed: the request that asks for it, the time to a finished
preview (the task), and at the end the pages an administrator reads (the preview's first and last
page, its progress endpoint, the publish confirmation), each the median of several requests:
these should cost the same at any N (issue 15). ``impact_preview`` (the same comparison in
memory, what the page did inside the request before) is timed too, for comparison.

Runs with DEBUG off, as deployed (debug mode keeps a copy of every SQL statement). Reports each
round and the median of the rounds.

Usage: ``python bench/bench_rulesets.py [--assessments 10000] [--rounds 3] [--no-publish] [--database-url URL]``
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
    parser.add_argument("--no-publish", action="store_true",
                        help="time the preview only (one round: the draft is discarded, not published)")
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
    from eligibility.rulesets.models import RuleSetPreview
    from eligibility.rulesets.preview import impact_preview, preview_run
    from eligibility.rulesets.selectors import ruleset_get

    admin = User.objects.get(username="admin")
    # Version 2 is the June 2025 label change; later rounds go back and forth (each one changes
    # every open assessment's driving reason, so every round re-evaluates all of them).
    changed = {"proximity_max_minutes": Decimal(120), "driving_restriction_weeks": Decimal(2),
               "proximity_stay_weeks": Decimal(2)}
    original = {key: Decimal(value) for key, value in ruleset_get().thresholds
                .filter(key__in=changed).values_list("key", "value")}
    in_memory, asks, tasks, pages, publications = [], [], [], {}, []
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    client.get(reverse("ruleset_list"))  # the first request of the process (imports, URLs) is not timed

    def timed_get(name: str, url: str, repeat: int = 5) -> None:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}.")
        pages.setdefault(name, []).append(statistics.median(times))

    for round_number in range(args.rounds):
        draft = rulesets.ruleset_draft_create(by=admin)
        rulesets.ruleset_thresholds_update(draft=draft, by=admin, values=changed if round_number % 2 == 0 else original)
        rulesets.ruleset_describe(draft=draft, change_note="benchmark", by=admin)
        started = time.perf_counter()
        impact = impact_preview(draft=draft)
        in_memory.append(time.perf_counter() - started)
        started = time.perf_counter()
        response = client.post(reverse("ruleset_preview_start", args=[draft.version]))
        asks.append(time.perf_counter() - started)
        if response.status_code != 302:
            raise SystemExit(f"Preview the impact answered {response.status_code}.")
        record = RuleSetPreview.objects.get(draft=draft)
        started = time.perf_counter()
        record = preview_run(preview_id=record.pk, worker="bench")
        tasks.append(time.perf_counter() - started)
        if record.changed != len(impact.changed):
            raise SystemExit(f"The task found {record.changed} changed, in memory {len(impact.changed)}.")
        print(f"Impact preview of {record.done:,} open assessments: asked in {asks[-1] * 1000:.0f} ms, made by "
              f"the task in {tasks[-1]:.2f} s ({record.changed:,} would change; {record.transitions}); "
              f"in memory {in_memory[-1]:.2f} s")
        last = max(1, -(-record.changed // 50))
        timed_get("preview, first page", reverse("ruleset_preview", args=[draft.version]))
        timed_get("preview, last page", reverse("ruleset_preview", args=[draft.version]) + f"?page={last}")
        timed_get("progress endpoint", reverse("ruleset_preview_progress", args=[draft.version]))
        timed_get("publish confirmation", reverse("ruleset_publish", args=[draft.version]))
        print("Pages (median of 5 requests): " + ", ".join(f"{name} {times[-1] * 1000:.1f} ms"
                                                            for name, times in pages.items()))
        if args.no_publish:
            rulesets.ruleset_draft_discard(draft=draft, by=admin)
            break
        started = time.perf_counter()
        published = rulesets.ruleset_publish(draft=draft, note="benchmark", by=admin)
        # The re-evaluation a task worker runs after the publish, here in this process (the worker
        # path, with a task queue, is bench/bench_publish.py's).
        outcome = reevaluation.reevaluation_run(reevaluation_id=published.reevaluation.pk, worker="bench")
        publications.append(time.perf_counter() - started)
        print(f"Publish version {published.version} and re-evaluate: {publications[-1]:.2f} s "
              f"({outcome.reevaluated:,} re-evaluated, {outcome.review_requested:,} review requests)")
    print(f"Median of {args.rounds} at {args.assessments:,} open assessments: preview made by the task "
          f"{statistics.median(tasks):.2f} s (target < 3 s at 10,000), asked for in "
          f"{statistics.median(asks) * 1000:.0f} ms; in memory {statistics.median(in_memory):.2f} s; "
          + ", ".join(f"{name} {statistics.median(times) * 1000:.1f} ms" for name, times in pages.items())
          + (f"; publish and re-evaluate {statistics.median(publications):.2f} s (target < 10 s)"
             if publications else ""))


if __name__ == "__main__":
    main()
