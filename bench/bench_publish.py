#!/usr/bin/env python
"""Benchmark of publishing a rule-set version over N open assessments, off the request.

Seeds N synthetic open assessments (``manage.py seed_assessments N --seed 7``) into a database of
its own (a new SQLite file, or the EMPTY database of ``--database-url``), makes a version 2 that
changes every open assessment's checklist (travel time, driving restriction and stay), then:

1. times the publish itself (the administrator's request: one transaction, the task enqueued);
2. starts ``--workers`` task workers (``manage.py db_worker``, processes of their own, as
   deployed; default 2) and times the background re-evaluation, from the publish until its record
   says finished: the first worker plans its parts and every worker takes parts until none is left;
3. meanwhile a coordinator saves one patient in a loop (another thread of this process, its own
   database connection); each save's whole time is recorded, and its longest statement: the one
   that waited for the lock the re-evaluation's batch held (on SQLite the database's write lock,
   taken by BEGIN IMMEDIATE; on PostgreSQL the patient's row, by SELECT ... FOR UPDATE).

Targets (issue 15): under 60 s for 100,000 open assessments, no save over 100 ms. A save's own
cost, measured the same way before the publish, is reported beside it. The workers' CPU time is
reported too: on a machine shared with other work the wall time measures the sharing as much as
the re-evaluation, its CPU time much less; so is a PostgreSQL server's on this machine (Linux),
which the workers' does not include.

Usage: ``python bench/bench_publish.py [--assessments 100000] [--workers 2] [--database-url URL] [--seeded]``
"""

from __future__ import annotations

import argparse
import atexit
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _stat(pid: int | str) -> list[str]:
    """/proc/PID/stat's fields after the command's name (state, ppid, ...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postmaster() -> int | None:
    """The process of the PostgreSQL server in use, where it runs on this machine (the parent of
    this connection's backend); None otherwise (another machine, or /proc unreadable)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    try:
        parent = int(_stat(backend)[1])
        return parent if Path(f"/proc/{parent}/comm").read_text().strip() == "postgres" else None
    except (OSError, ValueError, IndexError):
        return None


def server_cpu_seconds(server: int) -> float:
    """CPU seconds used so far by the PostgreSQL server whose postmaster is ``server``: its own, its
    live processes' and those of the ones that ended (connections closed, autovacuum workers), which
    the postmaster counts as its children's."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(entry.name)
        except OSError:
            continue
        if int(entry.name) == server or int(fields[1]) == server:
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessments", type=int, default=100_000)
    parser.add_argument("--database-url", default="",
                        help="an EMPTY database to use instead of a new SQLite file (e.g. PostgreSQL)")
    parser.add_argument("--workers", type=int, default=2,
                        help="task worker processes (default 2: one per core of the machines measured here)")
    parser.add_argument("--save-pause", type=float, default=0.02,
                        help="seconds between the concurrent saves (default 0.02: up to 50 a second, far more than a "
                             "programme's coordinators make; each save is a whole evaluation, which takes CPU from "
                             "the re-evaluation on a small machine)")
    parser.add_argument("--seeded", action="store_true",
                        help="the database is already migrated and seeded (a copy of an earlier run's)")
    args = parser.parse_args()
    database_url = args.database_url
    if not database_url:
        folder = tempfile.mkdtemp()
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # the benchmark's own database
        database_url = f"sqlite:///{folder}/bench.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "False",
           "DATABASE_URL": database_url, "DJANGO_ADMIN_PASSWORD": "bench-only-not-used"}
    manage = [sys.executable, "manage.py"]
    if not args.seeded:
        for command in (["migrate", "-v", "0"], ["ensure_admin"]):
            subprocess.run(manage + command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        started = time.perf_counter()
        subprocess.run(manage + ["seed_assessments", str(args.assessments), "--seed", "7"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        print(f"Seeding {args.assessments:,} open assessments: {time.perf_counter() - started:.0f} s")
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection

    from eligibility.patients import services
    from eligibility.patients.models import Assessment
    from eligibility.rulesets import services as rulesets
    from eligibility.rulesets.models import RuleSetReevaluation
    from eligibility.rulesets.selectors import ruleset_get

    admin = User.objects.get(username="admin")
    changed = {"proximity_max_minutes": Decimal(120), "driving_restriction_weeks": Decimal(2),
               "proximity_stay_weeks": Decimal(2)}
    if ruleset_get().version > 1:  # a copy of a database published before: change back
        changed = {key: Decimal(value) for key, value in ruleset_get().based_on.thresholds
                   .filter(key__in=changed).values_list("key", "value")}
    # The coordinator's patient: the last one (the re-evaluation reaches it at the end).
    target_pk = Assessment.objects.order_by("-pk").values_list("pk", flat=True)[0]
    stop, saves, errors = threading.Event(), [], []

    def save_loop(into: list[float], waits: list[float]) -> None:
        """Saves in a loop: each save's whole time into ``into``, and its longest statement into
        ``waits`` (the one that waited for the lock: BEGIN IMMEDIATE on SQLite, the row's SELECT ...
        FOR UPDATE on PostgreSQL)."""
        weight, longest = 60, [0.0]

        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                took = time.perf_counter() - started
                longest[0] = max(longest[0], took)
                slowest.append((took, sql.split(" WHERE ")[0][:70]))
                slowest.sort(reverse=True)
                del slowest[3:]

        try:
            with connection.execute_wrapper(timed):
                while not stop.is_set():
                    weight = 61 if weight == 60 else 60
                    started, longest[0] = time.perf_counter(), 0.0
                    assessment = Assessment.objects.get(pk=target_pk)
                    services.assessment_update(assessment=assessment, changes={"weight_kg": weight},
                                               stage=assessment.stage, revision=assessment.revision, by=admin)
                    into.append(time.perf_counter() - started)
                    waits.append(longest[0])
                    time.sleep(args.save_pause)  # 0.02 s: a coordinator saving 50 times a second at most
        except Exception as exc:  # reported below: a save must never fail
            errors.append(repr(exc))
        finally:
            connection.close()

    baseline, baseline_waits, waits, slowest = [], [], [], []
    alone = threading.Thread(target=save_loop, args=(baseline, baseline_waits))
    alone.start()
    time.sleep(3)
    stop.set()
    alone.join()
    stop.clear()
    print(f"A save alone: median {statistics.median(baseline) * 1000:.0f} ms, "
          f"longest {max(baseline) * 1000:.0f} ms ({len(baseline)} saves)")

    draft = rulesets.ruleset_draft_create(by=admin)
    rulesets.ruleset_thresholds_update(draft=draft, by=admin, values=changed)
    slowest.clear()
    saver = threading.Thread(target=save_loop, args=(saves, waits))
    saver.start()
    started = time.perf_counter()
    published = rulesets.ruleset_publish(draft=draft, note="benchmark", by=admin)
    publish_seconds = time.perf_counter() - started
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = postmaster() if "postgres" in database_url else None
    server_before = server_cpu_seconds(server) if server is not None else None
    # The task workers, as deployed: processes of their own (on one machine here; on several in a
    # deployment), each taking parts of the re-evaluation (REEVALUATION_PART_SIZE open assessments).
    # Not --batch: a worker that started before the first one enqueued the parts' tasks would find
    # the queue empty and leave. They poll every 0.1 s, and are stopped once the record is finished.
    workers = [subprocess.Popen(manage + ["db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload",
                                          "-v", "0"], cwd=ROOT, env=env) for _ in range(args.workers)]
    record = RuleSetReevaluation.objects.filter(ruleset=published)
    while record.get().status not in ("finished", "failed") and any(worker.poll() is None for worker in workers):
        time.sleep(0.1)
    wall = time.perf_counter() - started
    time.sleep(1)
    stop.set()
    saver.join()
    for worker in workers:
        worker.send_signal(signal.SIGTERM)  # stops between tasks: every task has ended (the record is finished)
        worker.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_after = server_cpu_seconds(server) if server is not None else None
    worker_cpu = (children.ru_utime - children_before.ru_utime) + (children.ru_stime - children_before.ru_stime)
    run = record.get()
    if run.status != "finished" or errors:
        raise SystemExit(f"Not finished: {run.status} {run.error}; save errors: {errors[:3]}")
    print(f"Publish (the request's transaction, task enqueued): {publish_seconds * 1000:.0f} ms")
    parts = run.parts.count()
    print(f"Background re-evaluation of {run.total:,} open assessments by {args.workers} task worker(s), in {parts} "
          f"part(s): {wall:.1f} s "
          f"(target < 60 s at 100,000); {run.reevaluated:,} re-evaluated, {run.review_requested:,} review "
          f"requests, {run.unevaluable:,} not evaluable, {run.changed_meanwhile:,} saved meanwhile; the worker "
          f"processes used {worker_cpu:.1f} s of CPU; load average at the end {os.getloadavg()[0]:.1f}")
    if server_after is not None:
        print(f"The database server's processes (this machine's PostgreSQL, for the workers and the saves): "
              f"{server_after - server_before:.1f} s of CPU")
    print(f"Saves during it: {len(saves)}; whole save median {statistics.median(saves) * 1000:.0f} ms, "
          f"p99 {percentile(saves, 0.99) * 1000:.0f} ms, longest {max(saves) * 1000:.0f} ms; its longest statement "
          f"(the wait for the lock) p99 {percentile(waits, 0.99) * 1000:.0f} ms, longest {max(waits) * 1000:.0f} ms "
          f"(target: no save waiting over 100 ms); alone the longest statement was at most "
          f"{max(baseline_waits) * 1000:.1f} ms; database: {connection.vendor}")
    print("The saves' three slowest statements: " + "; ".join(f"{took * 1000:.0f} ms {sql}" for took, sql in slowest))


if __name__ == "__main__":
    main()
