"""Web pages under load: each page's requests per second as a share of ``/hello/``, and the list
pages' cost as the programme grows.

Run with ``make bench-web`` (or ``.venv/bin/python bench/bench_web.py``). For each database (SQLite
always; PostgreSQL too when ``DATABASE_URL`` names one, in a database of its own created beside it
and dropped afterwards, so the one named is never touched):

1. **Pages.** A fresh database, migrated, with ``--n`` open assessments seeded (``seed_assessments
   N --seed 7``), ``--extra`` past checklists per assessment (re-evaluations: the evaluations table
   is several times the number of patients, as in a programme that has run for a while) and one
   assessment in three marked ready for review (the physicians' queue). gunicorn serves it with the
   production settings (2 workers, ``DEBUG`` off) behind what a TLS proxy would send
   (``X-Forwarded-Proto: https``); the second factor is turned off through ``OTP_REQUIRED_ROLES=``
   as a deployment can. A coordinator and a physician sign in through the sign-in page, then
   ``wrk`` measures requests per second and the median latency of ``/hello/`` and of the checklist,
   the coordinator's worklist, the physician's worklist (with the queue) and the patient page, each
   as a share of ``/hello/`` in the same run.
   Then the **load run**: ``wrk -c64`` (``--load-connections``) for ``--load-duration`` seconds over
   those signed-in pages and a filtered and a sorted worklist, each connection taking the next page
   in turn (a Lua script for wrk): requests per second, p50/p99 latency and the errors (responses
   other than 2xx/3xx, connect, read and write errors, timeouts after 10 s).
2. **N-scaling** (``--scaling 1000,10000,...``): the list pages (worklist, physician worklist with
   the queue, a filtered and a sorted worklist) at each number of open assessments, in process
   through Django's test client with the same settings: queries per page, their time (one request)
   and the median time per page.

Results go to standard output and to ``bench/results/web-<database>-<time>.json`` (ignored by git).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
HELLO = "/hello/"
COORDINATOR, PHYSICIAN = "bench.coordinator", "bench.physician"
#: A password only this run knows (nothing shipped); both users get it.
PASSWORD = secrets.token_urlsafe(18)
PROXY = {"X-Forwarded-Proto": "https"}  # what the TLS proxy in front of gunicorn sends


# --- helpers run in a child process, on one database (Django set up there) --------------------

def _django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def child_setup(count: int, seed: int, extra: int, password: str) -> None:
    """Seed ``count`` open assessments, ``extra`` past checklists each, ready marks on one in three,
    and the two users (permanent passwords: no password change page in the way)."""
    _django()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from eligibility.models import Assessment, Evaluation
    from eligibility.review.handoffs.models import ReadyMark

    for username, role in ((COORDINATOR, "Coordinator"), (PHYSICIAN, "Physician")):
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": "Bench",
                                                                           "last_name": role})
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name=role))
    coordinator = User.objects.get(username=COORDINATOR)
    before = set(Assessment.objects.values_list("pk", flat=True))
    with open(os.devnull, "w") as quiet:
        call_command("seed_assessments", count, seed=seed, as_user=COORDINATOR, stdout=quiet)
    new = list(Assessment.objects.exclude(pk__in=before).order_by("pk").values_list("pk", flat=True)) \
        if before else list(Assessment.objects.order_by("pk").values_list("pk", flat=True))
    batch = 500
    for start in range(0, len(new), batch):
        ids = new[start:start + batch]
        with transaction.atomic():
            assessments = list(Assessment.objects.filter(pk__in=ids).select_related("current_evaluation"))
            past = []
            for assessment in assessments:
                current = assessment.current_evaluation
                for _ in range(extra):
                    past.append(Evaluation(assessment_id=assessment.pk, ruleset_id=current.ruleset_id,
                                           stage=current.stage, inputs=current.inputs, checklist=current.checklist,
                                           overall=current.overall, flag_count=current.flag_count,
                                           missing_count=current.missing_count, defer_count=current.defer_count,
                                           exclude_count=current.exclude_count, created_by_id=current.created_by_id))
            Evaluation.objects.bulk_create(past)
            # The newest of them becomes the current checklist, as when a patient's data were saved
            # again: the past checklists are older than the current one (by key and by time), as in
            # a programme, not newer (which had hidden a queue reading every past checklist first).
            newest = {evaluation.assessment_id: evaluation.pk for evaluation in past}
            for assessment in assessments:
                assessment.current_evaluation_id = newest.get(assessment.pk, assessment.current_evaluation_id)
            Assessment.objects.bulk_update(assessments, ["current_evaluation"])
            now = timezone.now()
            ReadyMark.objects.bulk_create([
                ReadyMark(assessment_id=assessment.pk, stage=assessment.stage,
                          evaluation_id=assessment.current_evaluation_id, marked_by=coordinator,
                          marked_by_name="Bench Coordinator", marked_at=now)
                for assessment in assessments if assessment.pk % 3 == 0])
    with connection.cursor() as cursor:  # the planner's statistics, as after any bulk load (autovacuum on PostgreSQL)
        cursor.execute("ANALYZE")


def ok(response, url) -> None:
    if response.status_code != 200:
        raise SystemExit(f"bench_web: {url} gave {response.status_code}")


def child_lists(repeat: int) -> None:
    """The list pages in process: queries and median milliseconds each (JSON on standard output)."""
    _django()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from eligibility.models import Assessment, Evaluation

    pages = {
        "coordinator worklist": (COORDINATOR, "/"),
        "coordinator worklist, filtered (result) and sorted (study id)":
            (COORDINATOR, "/?result=deferred&sort=study_id"),
        "coordinator worklist, page 3 sorted by flags": (COORDINATOR, "/?sort=flag&page=3"),
        "physician worklist (with the queue)": (PHYSICIAN, "/"),
    }
    clients = {}
    for username in (COORDINATOR, PHYSICIAN):
        client = Client(headers={"x-forwarded-proto": "https"})
        client.force_login(User.objects.get(username=username))
        clients[username] = client
    out = {"open_assessments": Assessment.objects.count(), "evaluations": Evaluation.objects.count(), "pages": {}}
    for name, (username, url) in pages.items():
        client = clients[username]
        for _ in range(2):  # warm: templates compiled, caches filled
            ok(client.get(url), url)
        queries: list[float] = []  # timed by a wrapper: Django resets its query log when a request starts

        def count(execute, sql, params, many, context, queries=queries):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append((time.perf_counter() - started) * 1000)

        with connection.execute_wrapper(count):
            client.get(url)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            ok(response, url)
        out["pages"][name] = {"queries": len(queries), "sql_ms": round(sum(queries), 1),
                              "median_ms": round(statistics.median(times), 1)}
    print(json.dumps(out))


def child_pick() -> None:
    """A patient in the physicians' queue (JSON: its opaque identifier)."""
    _django()
    from eligibility.review.handoffs.models import ReadyMark

    mark = ReadyMark.objects.open().select_related("assessment__patient").order_by("pk").first()
    print(json.dumps({"patient": str(mark.assessment.patient.public_id)}))


# --- the parent: databases, gunicorn, wrk --------------------------------------------------------

def run(args, env, **kwargs):
    return subprocess.run(args, env=env, cwd=ROOT, check=True, **kwargs)


def child(env, *args) -> str:
    return run([PYTHON, __file__, *args], env, capture_output=True, text=True).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Database:
    """A fresh database for one run: a SQLite file in a temporary directory, or a PostgreSQL
    database created on the server of ``DATABASE_URL`` (never the one it names)."""

    def __init__(self, kind: str, base_url: str | None, workdir: Path):
        self.kind, self.base_url = kind, base_url
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        else:
            parts = urlsplit(base_url)
            self.name = f"bench_web_{os.getpid()}"
            self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    def create(self):
        if self.kind == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"', f'CREATE DATABASE "{self.name}"')
        else:
            for path in Path(urlsplit(self.url).path[1:]).parent.glob("bench.sqlite3*"):
                path.unlink()

    def drop(self):
        if self.kind == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"')

    def _admin(self, *statements):
        import psycopg

        with psycopg.connect(self.base_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)


def environment(database: Database, static_root: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,testserver",
        "DATABASE_URL": database.url,
        "DJANGO_STATIC_ROOT": str(static_root),
        "OTP_REQUIRED_ROLES": "",  # a deployment may turn the second factor off; wrk cannot type codes
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_ADMIN_PASSWORD": secrets.token_urlsafe(18),
    })
    return env


def request(port, method, path, *, cookies=None, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = {**PROXY, **(headers or {})}
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    conn.request(method, path, body=body, headers=sent)
    response = conn.getresponse()
    content = response.read()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            (cookies if cookies is not None else {})[name] = rest.split(";", 1)[0]
    conn.close()
    return response.status, dict(response.getheaders()), content


def sign_in(port, username) -> dict:
    """Through the sign-in page (CSRF token, then the form), as a browser would: the session cookies."""
    cookies: dict[str, str] = {}
    _, _, page = request(port, "GET", "/login/", cookies=cookies)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    from urllib.parse import urlencode

    body = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD})
    origin = f"https://127.0.0.1:{port}"
    status, headers, _ = request(port, "POST", "/login/", cookies=cookies, body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": origin, "Referer": f"{origin}/login/"})
    if status != 302 or "sessionid" not in cookies:
        raise SystemExit(f"bench_web: signing in as {username} failed ({status})")
    return cookies


def wrk(port, path, cookies, *, connections, duration) -> dict:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency", "-H", f"Cookie: {cookie}",
         "-H", "X-Forwarded-Proto: https", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    median = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", output)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[median.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {"requests_per_s": rate, "median_ms": round(float(median.group(1)) * scale, 2),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else ""}


#: wrk's script for the load run: each request the next of a list of (path, cookie), in turn.
LOAD_SCRIPT = """
local requests = {%s}
local turn = 0
request = function()
  turn = turn %% #requests + 1
  local entry = requests[turn]
  return wrk.format("GET", entry[1], {["Cookie"] = entry[2], ["X-Forwarded-Proto"] = "https"})
end
"""


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_run(port, mix, *, connections, duration) -> dict:
    """``connections`` connections at once for ``duration`` seconds over the signed-in pages of
    ``mix`` (path, cookies) in turn: requests per second, median and 99th percentile latency, and
    every error (responses other than 2xx/3xx, connect/read/write errors, timeouts after 10 s)."""
    entries = ", ".join(f"{{{_lua(path)}, {_lua('; '.join(f'{k}={v}' for k, v in cookies.items()))}}}"
                        for path, cookies in mix)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LOAD_SCRIPT % entries)
    try:
        output = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency", "-s", script.name,
             f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)

    def latency(percentile: str) -> float:
        found = re.search(rf"{percentile}%\s+([\d.]+)(us|ms|s)\b", output)
        return round(float(found.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[found.group(2)], 2)

    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if found:
        socket_errors = dict(zip(socket_errors, map(int, found.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    return {"connections": connections, "duration_s": duration, "pages": [path for path, _ in mix],
            "requests": int(requests.group(1)),
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50_ms": latency("50"), "p99_ms": latency("99"), "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "socket_errors": socket_errors,
            "errors": (int(non_2xx.group(1)) if non_2xx else 0) + sum(socket_errors.values())}


def pages_run(database: Database, args, workdir: Path) -> dict:
    static_root = workdir / "static"
    env = environment(database, static_root)
    database.create()
    run([PYTHON, "manage.py", "migrate", "--no-input", "-v0"], env)
    run([PYTHON, "manage.py", "collectstatic", "--no-input", "-v0"], env)
    run([PYTHON, "manage.py", "ensure_admin"], env, capture_output=True)
    started = time.perf_counter()
    child(env, "_setup", str(args.n), "7", str(args.extra), PASSWORD)
    print(f"  seeded {args.n} open assessments ({args.extra} past checklists each) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    patient = json.loads(child(env, "_pick"))["patient"]
    port = free_port()
    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--timeout", "120"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        coordinator, physician = sign_in(port, COORDINATOR), sign_in(port, PHYSICIAN)
        pages = [
            ("/hello/ (coordinator)", HELLO, coordinator, b"Hello."),
            ("checklist (physician)", f"/patients/{patient}/checklist/", physician, b"Checklist"),
            ("coordinator worklist", "/", coordinator, b"SYN-"),
            ("physician worklist (with the queue)", "/", physician, b"Awaiting your sign-off"),
            ("patient page (coordinator)", f"/patients/{patient}/", coordinator, b"History"),
        ]
        for name, path, cookies, expected in pages:
            status, _, content = request(port, "GET", path, cookies=dict(cookies))
            if status != 200 or expected not in content:
                raise SystemExit(f"bench_web: {name} gave {status} without the expected text")
            wrk(port, path, cookies, connections=args.connections, duration=1)  # warm the workers
        # Rounds: /hello/ then each page, each page's share against the /hello/ of its own round; the
        # median of the rounds (a shared machine's speed drifts by tens of per cent within minutes).
        rounds = {name: [] for name, *_ in pages}
        for _ in range(args.rounds):
            for name, path, cookies, _ in pages:
                rounds[name].append(wrk(port, path, cookies, connections=args.connections, duration=args.duration))
            floor = rounds["/hello/ (coordinator)"][-1]["requests_per_s"]
            for runs in rounds.values():
                runs[-1]["share_of_hello"] = round(runs[-1]["requests_per_s"] / floor, 3)
        results = {name: {
            "requests_per_s": statistics.median(run["requests_per_s"] for run in runs),
            "median_ms": statistics.median(run["median_ms"] for run in runs),
            "share_of_hello": statistics.median(run["share_of_hello"] for run in runs),
            "shares": [run["share_of_hello"] for run in runs],
            "non_2xx": sum(run["non_2xx"] for run in runs),
            "socket_errors": "; ".join(run["socket_errors"] for run in runs if run["socket_errors"]),
        } for name, runs in rounds.items()}
        load = None
        if args.load_duration:
            mix = [(path, cookies) for _, path, cookies, _ in pages]
            mix.insert(3, ("/?result=deferred&sort=study_id", coordinator))
            mix.insert(4, ("/?sort=flag&page=3", coordinator))
            load = load_run(port, mix, connections=args.load_connections, duration=args.load_duration)
        return results, load
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def scaling_run(database: Database, args, workdir: Path) -> list:
    env = environment(database, workdir / "static")
    database.create()
    run([PYTHON, "manage.py", "migrate", "--no-input", "-v0"], env)
    run([PYTHON, "manage.py", "collectstatic", "--no-input", "-v0"], env)  # the pages name their static files
    run([PYTHON, "manage.py", "ensure_admin"], env, capture_output=True)
    rows, have = [], 0
    for step, target in enumerate(args.scaling):
        started = time.perf_counter()
        child(env, "_setup", str(target - have), str(7 + step), str(args.extra), PASSWORD)
        seeded = time.perf_counter() - started
        have = target
        row = json.loads(child(env, "_lists", str(args.repeat)))
        row["seeded_s"] = round(seeded)
        rows.append(row)
        print(f"  N = {row['open_assessments']:,} ({row['evaluations']:,} evaluations; seeded in {seeded:.0f} s)")
        for name, page in row["pages"].items():
            print(f"    {name:<62} {page['queries']:>3} queries ({page['sql_ms']:>7.1f} ms in SQL)"
                  f" {page['median_ms']:>9.1f} ms per page")
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        command, rest = sys.argv[1], sys.argv[2:]
        if command == "_setup":
            child_setup(int(rest[0]), int(rest[1]), int(rest[2]), rest[3])
        elif command == "_lists":
            child_lists(int(rest[0]))
        elif command == "_pick":
            child_pick()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="open assessments for the page run (default 3000)")
    parser.add_argument("--extra", type=int, default=2, help="past checklists per assessment (default 2)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per page and round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of /hello/ and the pages (default 3): the median share of the rounds")
    parser.add_argument("--scaling", default="1000,10000",
                        help="numbers of open assessments for the list pages, comma-separated ('' to skip)")
    parser.add_argument("--repeat", type=int, default=15, help="requests per list page and N (median)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--load-connections", type=int, default=64, help="connections of the load run (default 64)")
    parser.add_argument("--load-duration", type=int, default=20,
                        help="seconds of the load run over the signed-in pages (0 to skip; default 20)")
    args = parser.parse_args()
    args.scaling = [int(n) for n in args.scaling.split(",") if n]
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    if shutil.which("wrk") is None and not args.skip_pages:
        raise SystemExit("bench_web: wrk is missing (apt-get install wrk; `make bench-web` installs it)")
    base_url = os.environ.get("DATABASE_URL", "")
    kinds = [kind for kind in args.databases.split(",")
             if kind == "sqlite" or (kind == "postgresql" and base_url.startswith("postgres"))]
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
            report = {"database": kind, "n": args.n, "extra": args.extra, "connections": args.connections,
                      "duration_s": args.duration, "rounds": args.rounds, "cores": os.cpu_count()}
            database = Database(kind, base_url, Path(tmp))
            try:
                if not args.skip_pages:
                    print(f"{kind}: pages, {args.n:,} open assessments, wrk -c{args.connections} "
                          f"-d{args.duration}s, 2 gunicorn workers, median of {args.rounds} rounds", flush=True)
                    report["pages"], load = pages_run(database, args, Path(tmp))
                    for name, row in report["pages"].items():
                        print(f"  {name:<40} {row['requests_per_s']:>8.1f} req/s  median {row['median_ms']:>8.2f} ms"
                              f"  {row['share_of_hello']:>6.1%} of /hello/"
                              f" ({', '.join(f'{share:.0%}' for share in row['shares'])})"
                              + (f"  non-2xx {row['non_2xx']}" if row["non_2xx"] else ""), flush=True)
                    if load:
                        report["load"] = load
                        errors = load["socket_errors"]
                        print(f"  load run, wrk -c{load['connections']} -d{load['duration_s']}s over "
                              f"{len(load['pages'])} pages in turn: {load['requests_per_s']:.1f} req/s, "
                              f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, errors {load['errors']} "
                              f"(non-2xx/3xx {load['non_2xx']}, connect {errors['connect']}, read {errors['read']}, "
                              f"write {errors['write']}, timeout {errors['timeout']})", flush=True)
                    database.drop()
                if args.scaling:
                    print(f"{kind}: list pages by number of open assessments", flush=True)
                    report["scaling"] = scaling_run(database, args, Path(tmp))
            finally:
                database.drop()
            path = RESULTS / f"web-{kind}-{stamp}.json"
            path.write_text(json.dumps(report, indent=2))
            print(f"  written to {path.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
