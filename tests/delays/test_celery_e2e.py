"""End to end: a real Celery beat and worker, over real Redis, against the real test database.

An application accepted 46 working days ago reaches `overdue` because beat schedules the
scan and a worker runs it: nothing here calls the task function. PostgreSQL only (the
worker is another process and needs the committed rows); skipped with the reason on
SQLite, and failing instead when REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from core.calendars import working_calendar
from licensing.models import LicenseApplication
from licensing.models.delays import DelayAlert
from tests.delays.conftest import accepted_application
from tests.pinned_clock import subprocess_environment

PROJECT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
WAIT_SECONDS = 60
CELERY_QUEUES = ("scans", "default", "webhooks")


def database_url() -> str:
    """The URL of the database this test runs on: the *test* database, by name."""
    db = settings.DATABASES["default"]
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcesses:
    """`celery worker` and `celery beat` as subprocesses, with their logs kept in files."""

    def __init__(self, workdir: Path, broker_url: str) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "REDIS_URL": broker_url,
            "DELAY_SCAN_INTERVAL_SECONDS": "2",
            "VAR_DIR": str(workdir / "var"),
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *arguments: str) -> None:
        """`celery -A config <arguments>` with this interpreter."""
        self.run(name, [sys.executable, "-m", "celery", "-A", "config", *arguments])

    def run(self, name: str, command: list[str]) -> None:
        """Any command, from the project's folder, with this fixture's environment.

        The process reads the test's clock: pinned when the test pinned it, real otherwise.
        """
        log = (self.workdir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT,
            env={**self.env, **subprocess_environment(timezone.now())},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def check_running(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"celery {name} exited early\n{self.logs()}"

    def logs(self) -> str:
        return "\n".join(
            f"----- celery {name} -----\n{(self.workdir / f'{name}.log').read_text(errors='replace')}"
            for name in self.processes
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def celery(request, tmp_path, redis_url, postgres_only):
    """Starts worker and beat on demand; always stops them, before the database is flushed."""
    import redis

    # Start from empty queues: no message left over from an earlier run may scan first.
    client = redis.Redis.from_url(redis_url)
    client.delete(*CELERY_QUEUES, "unacked", "unacked_index")
    client.close()
    processes = CeleryProcesses(tmp_path, redis_url)
    yield processes
    processes.stop()
    # Shown by pytest when the test failed ("Captured stdout teardown").
    print(processes.logs())


def working_days_ago(count: int, today: dt.date) -> dt.date:
    """The latest working day with exactly `count` working days after it, up to `today`."""
    calendar = working_calendar("CN")
    day = today - dt.timedelta(days=1)
    while calendar.working_days_between(day, today) < count or not calendar.is_working_day(day):
        day -= dt.timedelta(days=1)
    assert calendar.working_days_between(day, today) == count
    return day


@pytest.mark.redis
@pytest.mark.drill
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.pinned_clock("2026-01-05")  # a Monday after New Year's make-up Sunday
def test_beat_and_a_worker_raise_overdue_for_an_application_accepted_46_working_days_ago(
    celery, organization, exporter, mofcom
):
    today = timezone.localdate(timezone.now(), SHANGHAI)
    accepted_on = working_days_ago(46, today)
    application = accepted_application(
        dt.datetime.combine(accepted_on, dt.time(10), tzinfo=SHANGHAI),
        organization=organization,
        exporter=exporter,
        authority=mofcom,
    )
    # The services stored where it stands; the alerts are the scan's to raise.
    assert application.statutory_deadline < today
    assert application.next_check_at <= timezone.now()
    assert not DelayAlert.objects.exists()

    started = timezone.now()
    celery.start(
        "worker",
        "worker",
        "--queues",
        ",".join(CELERY_QUEUES),
        "--pool",
        "solo",
        "--hostname",
        f"delays-e2e-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    )
    celery.start("beat", "beat", "--loglevel", "INFO")

    deadline = time.monotonic() + WAIT_SECONDS
    overdue = DelayAlert.objects.none()
    while time.monotonic() < deadline:
        celery.check_running()
        application.refresh_from_db()
        overdue = DelayAlert.objects.filter(application=application, level="overdue")
        if application.delay_level == "overdue" and overdue.exists():
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"no overdue alert within {WAIT_SECONDS} s\n{celery.logs()}")

    alert = overdue.get()
    assert alert.raised_at >= started
    assert alert.wait_elapsed == 46
    assert sorted(
        DelayAlert.objects.filter(application=application).values_list("level", "repeat_index")
    ) == [("critical", 0), ("overdue", 0), ("warning", 0)]
    # The scan stored the next crossing: the first repeat, 10 working days after the deadline.
    application.refresh_from_db()
    assert application.next_check_at > timezone.now()
    assert (application.next_threshold_level, application.next_threshold_on) == (
        "overdue",
        working_calendar("CN").add_working_days(application.statutory_deadline, 10),
    )
    assert LicenseApplication.objects.get(pk=application.pk).delay_level == "overdue"
    logs = celery.logs()
    assert "licensing.tasks.scan_delays" in logs
    assert "Sending due task scan-delays" in logs
