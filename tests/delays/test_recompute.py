"""Rule and calendar changes: the recompute they schedule, and what it moves.

A change commits, then `recompute_delays` runs in a worker: it marks the affected rows due
with one UPDATE per table (`delays_mark_due`), and the scan re-evaluates them. Celery is not
made eager here: the tests check that the task is enqueued on commit, and run its two steps.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import FieldErrors
from core.models import CalendarException
from licensing import tasks
from licensing.models import LicenseApplication
from licensing.models.delays import DelayAlert, ThresholdRule
from licensing.services.delays import delays_mark_due, delays_scan
from licensing.services.threshold_rules import (
    LevelInput,
    threshold_rule_create,
    threshold_rule_delete,
    threshold_rule_update,
)
from tests.delays.conftest import accepted_application
from tests.factories import LicenseApplicationFactory, LicensingAuthorityFactory


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """The recompute_delays messages sent to the broker (recorded instead of sent)."""
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.recompute_delays, "delay", lambda *args: sent.append(args))
    return sent


@pytest.fixture
def application(clock, organization, exporter, mofcom):
    """Day 27 on 10 November 2025: the default rule's warning (day 30) is three days away."""
    return accepted_application(organization=organization, exporter=exporter, authority=mofcom)


def recompute(now, calendar_country=None):
    """What the recompute_delays task does, at `now`."""
    delays_mark_due(now=now, calendar_country=calendar_country)
    return delays_scan(now=now)


# --- scheduling ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_rule_change_enqueues_one_recompute_after_commit(
    organization, actor, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        rule = threshold_rule_create(
            organization=organization, levels=[LevelInput("warning", 20)], actor=actor, name="r"
        )
    assert len(callbacks) == 1
    assert enqueued == []  # nothing is sent before the commit
    callbacks[0]()
    assert enqueued == [(None,)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        threshold_rule_update(rule=rule, actor=actor, expected_version=1, lead_buffer_days=9)
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        threshold_rule_delete(rule=rule, actor=actor, expected_version=2)
    assert len(callbacks) == 1
    assert enqueued == [(None,), (None,), (None,)]


@pytest.mark.django_db
def test_a_refused_rule_change_enqueues_nothing(
    organization, actor, enqueued, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(FieldErrors),
    ):
        threshold_rule_create(organization=organization, levels=[], actor=actor, name="empty")
    assert callbacks == []
    assert enqueued == []
    assert not ThresholdRule.objects.filter(name="empty").exists()


@pytest.mark.django_db
def test_a_calendar_exception_saved_in_the_admin_enqueues_a_recompute_for_its_country(
    admin_client, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            "/admin/core/calendarexception/add/",
            {
                "country": "CN",
                "date": "2025-11-20",
                "is_working_day": "",
                "source": "State Council notice (test)",
            },
        )
    assert response.status_code == 302, response.content
    assert CalendarException.objects.filter(country="CN", date="2025-11-20").exists()
    assert len(callbacks) == 1
    assert enqueued == [("CN",)]


# --- marking due -----------------------------------------------------------------------------


def open_applications(count: int, authority) -> None:
    for _ in range(count):
        LicenseApplicationFactory(authority=authority, status="under_review")


def queries_to_mark_due(now) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        marked = delays_mark_due(now=now)
    return len(captured), marked


@pytest.mark.django_db
def test_marking_due_runs_the_same_few_queries_for_1_as_for_50_applications(clock, mofcom):
    now = clock()
    open_applications(1, mofcom)
    few, marked_few = queries_to_mark_due(now)
    open_applications(49, mofcom)
    LicenseApplicationFactory(authority=mofcom)  # a draft: no clock, not marked
    LicenseApplicationFactory(authority=mofcom, status="approved")  # decided: not marked
    many, marked_many = queries_to_mark_due(now)

    assert (marked_few, marked_many) == (1, 50)
    assert few == many <= 2  # one UPDATE per table
    assert LicenseApplication.objects.filter(next_check_at=now).count() == 50


@pytest.mark.django_db
def test_marking_due_for_a_calendar_touches_only_the_clocks_on_that_calendar(clock, mofcom, us_bis):
    open_applications(2, mofcom)
    open_applications(3, us_bis)
    delays_mark_due(now=clock(), calendar_country="US")
    due = LicenseApplication.objects.filter(next_check_at=clock())
    assert due.count() == 3
    assert set(due.values_list("authority__calendar_country", flat=True)) == {"US"}


# --- what a recompute moves ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rule_change_moves_the_levels_of_open_applications(
    clock, application, organization, mofcom, actor
):
    now = clock()
    rule = threshold_rule_create(
        organization=organization,
        levels=[LevelInput("warning", 25), LevelInput("critical", 26)],
        actor=actor,
        name="stricter",
        authority=mofcom,
    )
    application.refresh_from_db()
    assert application.delay_level == "none"  # not before the recompute runs

    report = recompute(now)

    application.refresh_from_db()
    assert application.delay_level == "critical"
    assert application.delay_rule == rule
    assert sorted(alert.level for alert in report.raised) == ["critical", "warning"]
    # Warning at 25 moved to day 35 (20 Nov): the level falls back, the alerts stay raised.
    threshold_rule_update(
        rule=rule,
        actor=actor,
        levels=[LevelInput("warning", 35), LevelInput("critical", 36)],
    )
    assert recompute(now).raised == []
    application.refresh_from_db()
    assert application.delay_level == "none"
    assert (application.next_threshold_level, application.next_threshold_on) == (
        "warning",
        dt.date(2025, 11, 20),
    )
    threshold_rule_delete(rule=rule, actor=actor)
    recompute(now)
    application.refresh_from_db()
    assert application.delay_rule.organization is None  # back to the default
    assert application.next_threshold_on == dt.date(2025, 11, 13)
    assert DelayAlert.objects.count() == 2


@pytest.mark.django_db
def test_the_recompute_task_marks_due_and_scans(clock, application, organization, actor):
    threshold_rule_create(
        organization=organization, levels=[LevelInput("warning", 1)], actor=actor, name="at once"
    )
    marked = tasks.recompute_delays()  # the task's body, in this process
    assert marked == 1
    assert DelayAlert.objects.get(application=application).level == "warning"


@pytest.mark.django_db
def test_a_new_holiday_moves_the_deadline_after_the_recompute(clock, application):
    assert application.statutory_deadline == dt.date(2025, 12, 4)
    CalendarException.objects.create(
        country="CN", date=dt.date(2025, 11, 20), is_working_day=False, source="test: a day off"
    )
    application.refresh_from_db()
    assert application.statutory_deadline == dt.date(2025, 12, 4)  # stored, until recomputed

    recompute(clock(), calendar_country="CN")

    application.refresh_from_db()
    assert application.statutory_deadline == dt.date(2025, 12, 5)
    assert application.next_threshold_on == dt.date(2025, 11, 13)  # warning: before the 20th

    # A make-up Saturday brings it back a day; deleting both restores the official calendar.
    CalendarException.objects.create(
        country="CN", date=dt.date(2025, 11, 22), is_working_day=True, source="test: make-up day"
    )
    recompute(clock(), calendar_country="CN")
    application.refresh_from_db()
    assert application.statutory_deadline == dt.date(2025, 12, 4)
    CalendarException.objects.filter(date=dt.date(2025, 11, 20)).delete()
    recompute(clock(), calendar_country="CN")
    application.refresh_from_db()
    assert application.statutory_deadline == dt.date(2025, 12, 3)


@pytest.mark.django_db
def test_a_holiday_on_another_calendar_moves_nothing(clock, application):
    LicensingAuthorityFactory(code="US-BIS")
    CalendarException.objects.create(
        country="US", date=dt.date(2025, 11, 20), is_working_day=False, source="test"
    )
    recompute(clock(), calendar_country="US")
    application.refresh_from_db()
    assert application.statutory_deadline == dt.date(2025, 12, 4)


@pytest.mark.django_db
def test_a_recompute_that_reaches_a_level_raises_it_once(clock, application, organization, actor):
    threshold_rule_create(
        organization=organization, levels=[LevelInput("warning", 20)], actor=actor, name="r"
    )
    first = recompute(clock())
    second = recompute(clock() + dt.timedelta(minutes=1))
    assert [alert.level for alert in first.raised] == ["warning"]
    assert second.raised == []
    assert second.applications == 1  # marked due again, evaluated, nothing new
