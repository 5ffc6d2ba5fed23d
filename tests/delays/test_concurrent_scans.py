"""Drill: four `scan_delays` processes at once over 1,000 due applications and their shipments.

The README promises that several workers can scan at once. Before issue 12 they deadlocked:
a scan marking the shipments of an application whose deadline moved waited on another scan
that held those shipments, while that one's new alerts waited (in the foreign-key check at
COMMIT) on the first scan's locked applications. Each round here starts four real processes
together, on the real PostgreSQL test database, and checks that every scan exits 0, every
due application is evaluated exactly once, nothing is left due and no alert or webhook event
is recorded twice. Half the applications have a stale statutory deadline, so their scan also
marks their shipments due again: those are evaluated a second time, on purpose.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from licensing.models import (
    ApplicationLine,
    LicenseApplication,
    Shipment,
    ShipmentLine,
    StatusChange,
    WebhookEvent,
)
from licensing.models.applications import LicenseType
from licensing.models.delays import AlertKind, DelayAlert
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create
from tests.delays.conftest import SHANGHAI, accepted_application
from tests.delays.test_celery_e2e import database_url, working_days_ago
from tests.webhooks.conftest import make_endpoint

PROJECT = Path(__file__).resolve().parents[2]
APPLICATIONS = 1000
SCANS = 4
ROUNDS = 5
SCAN_TIMEOUT = 90

pytestmark = [
    pytest.mark.drill,
    pytest.mark.pinned_clock("2026-11-20"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def clone(instance, **changes):
    """An unsaved copy of `instance` with a fresh primary key and `changes` applied."""
    fields = {
        f.attname: getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if not f.primary_key
    }
    return type(instance)(**{**fields, **changes})


def due_world(organization, exporter, mofcom, dysprosium, actor, now) -> None:
    """1,000 accepted general-license applications 46 working days in, two shipments each.

    One application and its shipments go through the services; the rest are copies, in bulk.
    """
    accepted_on = working_days_ago(46, timezone.localdate(now, SHANGHAI))
    template = accepted_application(
        dt.datetime.combine(accepted_on, dt.time(10), tzinfo=SHANGHAI),
        organization=organization,
        exporter=exporter,
        authority=mofcom,
        license_type=LicenseType.GENERAL,
        line__item=dysprosium,
    )
    ship_date = timezone.localdate(now, SHANGHAI) + dt.timedelta(days=2)
    shipments = [
        shipment_create(
            organization=organization,
            actor=actor,
            lines=[LineInput(item=dysprosium, quantity=10, unit="kg")],
            external_reference=f"PO-SCAN-0000-{n}",
            exporter=exporter,
            consignee_name="Rheinland Motoren GmbH",
            consignee_country="DE",
            destination_country="DE",
            required_ship_date=ship_date,
            license_application=template,
        )
        for n in (1, 2)
    ]
    lines = list(template.lines.all())
    changes = list(template.status_changes.all())
    shipment_lines = {s.pk: list(s.lines.all()) for s in shipments}

    copies = [clone(template) for _ in range(APPLICATIONS - 1)]
    LicenseApplication.objects.bulk_create(copies)
    ApplicationLine.objects.bulk_create(
        clone(line, application_id=copy.pk) for copy in copies for line in lines
    )
    StatusChange.objects.bulk_create(
        clone(change, application_id=copy.pk) for copy in copies for change in changes
    )
    shipment_copies = [
        clone(
            shipment,
            license_application_id=copy.pk,
            external_reference=f"PO-SCAN-{index:04d}-{n}",
        )
        for index, copy in enumerate(copies, start=1)
        for n, shipment in enumerate(shipments, start=1)
    ]
    Shipment.objects.bulk_create(shipment_copies)
    originals = [s for _ in copies for s in shipments]
    ShipmentLine.objects.bulk_create(
        clone(line, shipment_id=copy.pk)
        for copy, original in zip(shipment_copies, originals, strict=True)
        for line in shipment_lines[original.pk]
    )


def make_everything_due(round_number: int, now: dt.datetime) -> None:
    """A fresh start: no alerts or events, every row due, half the deadlines stale."""
    WebhookEvent.objects.all().delete()
    DelayAlert.objects.all().delete()
    due = now - dt.timedelta(hours=1)
    LicenseApplication.objects.update(next_check_at=due)
    Shipment.objects.update(next_check_at=due, at_risk=False)
    ids = sorted(LicenseApplication.objects.values_list("pk", flat=True))
    LicenseApplication.objects.filter(pk__in=ids[round_number % 2 :: 2]).update(
        statutory_deadline=None
    )


def run_scans(now: dt.datetime, logs: Path) -> list[subprocess.CompletedProcess]:
    """SCANS `manage.py scan_delays --now` processes started together; their results.

    Their output goes to files, not pipes: a scan blocked on a full pipe while holding its
    locks would stall the others, which the drill would then blame on the scan.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        # Smaller batches than the default 500: more transactions, so the scans interleave more.
        "DELAY_SCAN_BATCH_SIZE": "100",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "manage.py", "scan_delays", "--now", now.isoformat()]
    logs.mkdir(parents=True, exist_ok=True)
    paths = [logs / f"scan-{n}.log" for n in range(SCANS)]
    processes = []
    for path in paths:
        with path.open("wb") as log:
            processes.append(
                subprocess.Popen(
                    command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
    try:
        for process in processes:
            process.wait(timeout=SCAN_TIMEOUT)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [
        subprocess.CompletedProcess(command, process.returncode, path.read_text(errors="replace"))
        for process, path in zip(processes, paths, strict=True)
    ]


def scanned(output: str) -> tuple[int, int]:
    match = re.search(r"(\d+) applications, (\d+) shipments", output)
    assert match, output
    return int(match[1]), int(match[2])


def test_four_scans_at_once_never_deadlock_and_process_each_due_row_once(
    postgres_only, organization, exporter, mofcom, dysprosium, actor, tmp_path
):
    now = timezone.now()
    due_world(organization, exporter, mofcom, dysprosium, actor, now)
    make_endpoint(organization, "https://hooks.example.com/alerts")

    for round_number in range(ROUNDS):
        make_everything_due(round_number, now)
        stale = LicenseApplication.objects.filter(statutory_deadline__isnull=True).count()

        results = run_scans(now, tmp_path / f"round-{round_number + 1}")

        failures = [r.stdout for r in results if r.returncode != 0]
        assert not failures, f"round {round_number + 1}:\n" + "\n".join(failures)
        counts = [scanned(r.stdout) for r in results]
        assert sum(a for a, _ in counts) == APPLICATIONS, counts
        assert 2 * APPLICATIONS <= sum(s for _, s in counts) <= 2 * APPLICATIONS + 2 * stale
        assert not LicenseApplication.objects.filter(next_check_at__lte=now).exists()
        assert not Shipment.objects.filter(next_check_at__lte=now).exists()

        # warning, critical and overdue for each application; at risk for each shipment.
        levels = DelayAlert.objects.filter(kind=AlertKind.DELAY_LEVEL)
        assert set(levels.values_list("level", flat=True)) == {"warning", "critical", "overdue"}
        assert levels.count() == 3 * APPLICATIONS
        assert DelayAlert.objects.filter(kind=AlertKind.AT_RISK).count() == 2 * APPLICATIONS
        assert DelayAlert.objects.count() == 5 * APPLICATIONS
        per_application = levels.values("application").annotate(n=Count("pk"))
        assert {row["n"] for row in per_application} == {3}
        # One webhook event per alert, no more.
        assert WebhookEvent.objects.count() == DelayAlert.objects.count()
        raised = sum(r.stdout.count("\nraised ") + r.stdout.startswith("raised ") for r in results)
        assert raised == DelayAlert.objects.count()
