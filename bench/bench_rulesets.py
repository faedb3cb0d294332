#!/usr/bin/env python
"""Benchmark of the administrators' impact preview and the bulk re-evaluation after publishing.

Seeds N synthetic open assessments (``manage.py seed_assessments``) into a fresh SQLite database
of its own, makes a version 2 (travel time up to 120 minutes, 2-week driving restriction and
stay), then times ``impact_preview`` and ``ruleset_publish`` + ``reevaluate_open_assessments``.
Targets for 10,000 open assessments on SQLite: preview under 3 s, re-evaluation under 10 s.

Usage: ``python bench/bench_rulesets.py [--assessments 10000]``
"""

from __future__ import annotations

import argparse
import os
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
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3", "DJANGO_ADMIN_PASSWORD": "bench-only-not-used"}
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "-v", "0"], ["ensure_admin"], ["seed_assessments", str(args.assessments)]):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth.models import User

    from eligibility import rulesets

    admin = User.objects.get(username="admin")
    draft = rulesets.ruleset_draft_create(by=admin)
    rulesets.ruleset_thresholds_update(draft=draft, by=admin, values={
        "proximity_max_minutes": Decimal(120), "driving_restriction_weeks": Decimal(2),
        "proximity_stay_weeks": Decimal(2)})
    started = time.perf_counter()
    impact = rulesets.impact_preview(draft=draft)
    preview = time.perf_counter() - started
    print(f"Impact preview of {impact.total:,} open assessments: {preview:.2f} s "
          f"({len(impact.changed):,} would change; {impact.summary})")
    started = time.perf_counter()
    published = rulesets.ruleset_publish(draft=draft, note="benchmark", by=admin)
    outcome = rulesets.reevaluate_open_assessments(ruleset=published, by=admin)
    print(f"Publish and re-evaluate: {time.perf_counter() - started:.2f} s ({outcome})")


if __name__ == "__main__":
    main()
