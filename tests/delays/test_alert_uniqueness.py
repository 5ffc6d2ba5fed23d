"""One alert per (subject, kind, level, repeat): the database enforces it, even under concurrency.

The refusals run on every database. The races need real row locks and real concurrent
transactions: PostgreSQL, two threads, each with its own connection.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from licensing.models import LicenseApplication
from licensing.models.delays import AlertKind, DelayAlert
from licensing.services import delays as delay_services
from licensing.services.delays import delays_scan, prefetched_applications
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create
from tests.delays.conftest import accepted_application, beijing

DAY_46 = beijing("2025-12-05", 12)  # the day after the deadline of an application accepted 26 Sep


def alert(**fields) -> DelayAlert:
    return DelayAlert.objects.create(message="inserted by the test", raised_at=DAY_46, **fields)


def refused(**fields) -> bool:
    try:
        with transaction.atomic():
            alert(**fields)
    except IntegrityError:
        return True
    return False


@pytest.fixture
def shipment(clock, organization, exporter, dysprosium, actor):
    return shipment_create(
        organization=organization,
        actor=actor,
        lines=[LineInput(item=dysprosium, quantity=Decimal("5"), unit="kg")],
        external_reference="PO-UNIQUE-1",
        exporter=exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country="DE",
        required_ship_date=dt.date(2025, 12, 1),
    )


@pytest.mark.django_db
def test_the_database_refuses_a_second_delay_alert_for_the_same_level_and_repeat(
    clock, mofcom, organization, exporter
):
    application = accepted_application(
        organization=organization, exporter=exporter, authority=mofcom
    )
    subject = {"organization": organization, "application": application}
    alert(kind=AlertKind.DELAY_LEVEL, level="overdue", repeat_index=0, **subject)

    assert refused(kind=AlertKind.DELAY_LEVEL, level="overdue", repeat_index=0, **subject)
    # Another repeat, another level: allowed.
    assert not refused(kind=AlertKind.DELAY_LEVEL, level="overdue", repeat_index=1, **subject)
    assert not refused(kind=AlertKind.DELAY_LEVEL, level="critical", repeat_index=0, **subject)
    assert DelayAlert.objects.count() == 3


@pytest.mark.django_db
def test_the_database_refuses_a_second_shipment_alert_of_the_same_kind_and_level(
    shipment, organization
):
    subject = {"organization": organization, "shipment": shipment}
    alert(kind=AlertKind.AT_RISK, level="critical", **subject)

    assert refused(kind=AlertKind.AT_RISK, level="critical", **subject)
    assert not refused(kind=AlertKind.LICENSE_EXPIRING, level="critical", **subject)
    assert refused(kind=AlertKind.LICENSE_EXPIRING, level="critical", **subject)
    assert not refused(kind=AlertKind.LICENSE_EXPIRING, level="warning", **subject)
    assert DelayAlert.objects.count() == 3


@pytest.mark.django_db
def test_the_two_constraints_are_partial_one_per_kind_of_subject(
    clock, shipment, organization, exporter, mofcom, actor
):
    application = accepted_application(
        organization=organization, exporter=exporter, authority=mofcom
    )
    # The shipment constraint ignores delay-level alerts, the application one the shipment kinds:
    # shipment alerts of two shipments under one application share (application, kind, level).
    other = shipment_create(
        organization=organization,
        actor=actor,
        lines=[LineInput(item=shipment.lines.get().item, quantity=Decimal("1"), unit="kg")],
        external_reference="PO-UNIQUE-2",
        exporter=exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country="DE",
        required_ship_date=dt.date(2025, 12, 1),
    )
    for each in (shipment, other):
        assert not refused(
            organization=organization,
            kind=AlertKind.AT_RISK,
            level="critical",
            application=application,
            shipment=each,
        )
    # A delay-level alert that also names a shipment is still unique per application.
    assert not refused(
        organization=organization,
        kind=AlertKind.DELAY_LEVEL,
        level="warning",
        application=application,
        shipment=shipment,
    )
    assert refused(
        organization=organization,
        kind=AlertKind.DELAY_LEVEL,
        level="warning",
        application=application,
        shipment=other,
    )
    # And every alert needs its subject.
    assert refused(organization=organization, kind=AlertKind.DELAY_LEVEL, level="warning")
    assert refused(
        organization=organization, kind=AlertKind.AT_RISK, level="critical", application=application
    )


# --- real concurrency (PostgreSQL) -----------------------------------------------------------------

APPLICATIONS = 12


def overdue_applications(clock, organization, exporter, mofcom) -> list[LicenseApplication]:
    clock.set(DAY_46)
    return [
        accepted_application(organization=organization, exporter=exporter, authority=mofcom)
        for _ in range(APPLICATIONS)
    ]


def run_in_threads(target, count: int = 2) -> list:
    """Run `target(index)` in `count` threads released together; return results or errors."""
    barrier = threading.Barrier(count, timeout=20)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as error:  # the test inspects what each thread got
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a scan hung"
    return results


def assert_one_alert_per_level(applications) -> None:
    for application in applications:
        assert sorted(
            DelayAlert.objects.filter(application=application).values_list("level", "repeat_index")
        ) == [("critical", 0), ("overdue", 0), ("warning", 0)]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
def test_two_scans_at_once_split_the_work_and_raise_each_alert_once(
    clock, organization, exporter, mofcom, monkeypatch
):
    applications = overdue_applications(clock, organization, exporter, mofcom)
    assert LicenseApplication.objects.filter(next_check_at__lte=DAY_46).count() == APPLICATIONS
    refresh = delay_services.delay_refresh_applications

    def slow_refresh(*args, **kwargs):
        # Hold each batch's rows locked a while, so that the two scans overlap.
        report = refresh(*args, **kwargs)
        time.sleep(0.2)
        return report

    monkeypatch.setattr(delay_services, "delay_refresh_applications", slow_refresh)

    reports = run_in_threads(lambda index: delays_scan(now=DAY_46, batch_size=3))

    assert all(not isinstance(report, Exception) for report in reports), reports
    # SKIP LOCKED: each application was evaluated by exactly one scan, and both took part.
    assert sum(report.applications for report in reports) == APPLICATIONS
    assert all(report.applications > 0 for report in reports), [r.applications for r in reports]
    raised = [alert.pk for report in reports for alert in report.raised]
    assert len(raised) == len(set(raised)) == 3 * APPLICATIONS
    assert set(raised) == set(DelayAlert.objects.values_list("pk", flat=True))
    assert_one_alert_per_level(applications)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
def test_without_the_row_locks_the_unique_constraints_still_keep_one_alert_per_level(
    clock, organization, exporter, mofcom, monkeypatch
):
    # Two refreshes of the same rows, neither locking them: both read "no alerts yet" and
    # both insert every alert. The database keeps the first and drops the second silently.
    applications = overdue_applications(clock, organization, exporter, mofcom)
    insert = delay_services._insert_alerts
    attempted: list[int] = []

    def insert_then_linger(alerts, **kwargs):
        attempted.append(len(alerts))
        inserted = insert(alerts, **kwargs)
        time.sleep(0.5)  # keep the transaction open while the other one reads and inserts
        return inserted

    monkeypatch.setattr(delay_services, "_insert_alerts", insert_then_linger)

    def refresh_all(index: int):
        with transaction.atomic():
            batch = list(prefetched_applications(LicenseApplication.objects.all()))
            return delay_services.delay_refresh_applications(batch, now=DAY_46, raise_alerts=True)

    reports = run_in_threads(refresh_all)

    assert all(not isinstance(report, Exception) for report in reports), reports
    assert attempted == [3 * APPLICATIONS, 3 * APPLICATIONS]
    raised = [alert.pk for report in reports for alert in report.raised]
    assert len(raised) == len(set(raised)) == 3 * APPLICATIONS
    assert sorted(len(report.raised) for report in reports) == [0, 3 * APPLICATIONS]
    assert_one_alert_per_level(applications)
    # The winner linked its escalations; the loser's ids went nowhere.
    assert DelayAlert.objects.filter(level="critical", escalates__level="warning").count() == (
        APPLICATIONS
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
def test_a_scan_skips_the_rows_another_scan_holds_instead_of_waiting_for_them(
    clock, organization, exporter, mofcom, monkeypatch
):
    applications = overdue_applications(clock, organization, exporter, mofcom)[:6]
    LicenseApplication.objects.exclude(pk__in=[a.pk for a in applications]).update(
        next_check_at=None
    )
    refresh = delay_services.delay_refresh_applications
    holding, release = threading.Event(), threading.Event()

    def refresh_and_hold(*args, **kwargs):
        report = refresh(*args, **kwargs)
        if threading.current_thread().name == "holder":
            holding.set()
            release.wait(timeout=30)  # keep the batch's rows locked, transaction open
        return report

    monkeypatch.setattr(delay_services, "delay_refresh_applications", refresh_and_hold)
    reports: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            reports[name] = delays_scan(now=DAY_46, batch_size=3)
        except Exception as error:  # inspected below
            reports[name] = error
        finally:
            connection.close()

    holder = threading.Thread(target=run, args=("holder",), name="holder")
    other = threading.Thread(target=run, args=("other",), name="other")
    try:
        holder.start()
        assert holding.wait(timeout=20), "the first scan never got its batch"
        other.start()
        other.join(timeout=10)
        # The second scan finished while the first still holds 3 rows: it skipped them.
        assert not other.is_alive(), "the second scan waited for the rows the first one holds"
    finally:
        release.set()
        holder.join(timeout=30)
        other.join(timeout=30)

    assert reports["other"].applications == 3, reports
    assert reports["holder"].applications == 3, reports
    assert_one_alert_per_level(applications)
