"""End-to-end tests: Playwright drives Debian's Chromium against the live test server.

The live server needs committed data, so these tests are transactional. The flush after each
one empties every table, including what the data migrations created (roles, rule set version
1): ``migration_data`` replays those migrations' own functions when the data is missing
(``tests.conftest.replay_data_migrations``).
"""

import os

import pytest

from tests.conftest import replay_data_migrations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Playwright's sync API runs an event loop; Django's ORM calls from the test body are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS, "headless": True}


@pytest.fixture(autouse=True)
def migration_data(transactional_db):
    """Roles and the default rule set, as the migrations create them, for every end-to-end test."""
    replay_data_migrations()


@pytest.fixture
def task_worker():
    """Start a task worker (django-tasks-db's, as `make run` runs it) on the live server's database,
    in a thread of this process; stopped after the test. Call the fixture's value to start it."""
    import threading

    from django.db import connection
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(queue_names=["default"], interval=0.2, batch=False, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="e2e-worker", excluded_queue_names=[])
    threads = []

    def run():
        try:
            worker.run()
        finally:
            connection.close()

    def start():
        threads.append(threading.Thread(target=run, daemon=True))
        threads[-1].start()

    yield start
    worker.running = False
    for thread in threads:
        thread.join(30)
