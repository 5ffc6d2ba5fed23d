"""The delay levels on a real application, through the services and `manage.py scan_delays`.

The services only store where an application stands; the scan raises the alerts. The dates
are the hand count of tests/delays/conftest.py (accepted Friday 26 September 2025).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from licensing.models import DelayLevel, LicenseApplication
from licensing.models.delays import AlertKind, DelayAlert, ThresholdRule
from licensing.services.applications import application_update, clock_stop_record
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create
from tests.delays.conftest import (
    CRITICAL_DAY,
    DEADLINE,
    REPEAT_1_DAY,
    REPEAT_2_DAY,
    SHANGHAI,
    WARNING_DAY,
    accepted_application,
    beijing,
    raised_lines,
    scan,
)
from tests.factories import walk_application

MIDNIGHT = dt.time(0, 0)


def at_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, MIDNIGHT, tzinfo=SHANGHAI)


def delay_alerts(application) -> list[tuple[str, int]]:
    return sorted(
        DelayAlert.objects.filter(application=application, kind=AlertKind.DELAY_LEVEL).values_list(
            "level", "repeat_index"
        ),
        key=lambda pair: (DelayLevel.values.index(pair[0]), pair[1]),
    )


def default_rule() -> ThresholdRule:
    """The default rule for every authority that migration 0005 installs."""
    return ThresholdRule.objects.get(organization=None, authority=None)


@pytest.fixture
def application(clock, mofcom, organization, exporter):
    return accepted_application(organization=organization, exporter=exporter, authority=mofcom)


@pytest.fixture
def waiting_shipment(application, actor):
    """A shipment covered by the application, due to ship long after any decision."""
    return shipment_create(
        organization=application.organization,
        actor=actor,
        lines=[LineInput(item=application.lines.get().item, quantity=Decimal("100"), unit="kg")],
        external_reference="PO-2025-0815",
        exporter=application.exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country=application.destination_country,
        required_ship_date=dt.date(2026, 9, 1),
        license_application=application,
    )


# --- one level at a time ------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_level_is_raised_on_its_day_once_and_escalates_the_one_before(
    application, waiting_shipment
):
    # Day 27: nothing reached; the next crossing is stored, indexed, for the scan.
    assert application.delay_level == DelayLevel.NONE
    assert application.statutory_deadline == DEADLINE
    assert (application.next_threshold_level, application.next_threshold_on) == (
        DelayLevel.WARNING,
        WARNING_DAY,
    )
    assert application.next_check_at == at_midnight(WARNING_DAY)

    # A minute before the warning day nothing is due: the scan does not even look.
    before = scan(at_midnight(WARNING_DAY) - dt.timedelta(minutes=1))
    assert raised_lines(before) == []
    assert "0 applications" in before
    assert not DelayAlert.objects.exists()

    expected = [
        (WARNING_DAY, DelayLevel.WARNING, 0, 30, CRITICAL_DAY, DelayLevel.CRITICAL),
        (CRITICAL_DAY, DelayLevel.CRITICAL, 0, 40, DEADLINE, DelayLevel.OVERDUE),
        (DEADLINE, DelayLevel.OVERDUE, 0, 45, REPEAT_1_DAY, DelayLevel.OVERDUE),
        (REPEAT_1_DAY, DelayLevel.OVERDUE, 1, 55, REPEAT_2_DAY, DelayLevel.OVERDUE),
    ]
    for day, level, repeat, elapsed, next_day, next_level in expected:
        output = scan(at_midnight(day))
        lines = raised_lines(output)
        assert len(lines) == 1, output
        assert lines[0].startswith(f"raised delay_level {level}: CN-MOFCOM MOFCOM-2025-0001: ")
        assert f"waited {elapsed} working days" in lines[0]
        assert "Scanned at" in output and "1 alerts raised." in output

        alert = DelayAlert.objects.get(application=application, level=level, repeat_index=repeat)
        assert alert.kind == AlertKind.DELAY_LEVEL
        assert (alert.wait_elapsed, alert.wait_unit) == (elapsed, "working_days")
        assert alert.raised_at == at_midnight(day)
        assert alert.rule == default_rule()
        assert list(alert.shipments.all()) == [waiting_shipment]
        assert alert.state == "open"

        application.refresh_from_db()
        assert application.delay_level == level
        assert (application.next_threshold_level, application.next_threshold_on) == (
            next_level,
            next_day,
        )
        assert application.next_check_at == at_midnight(next_day)

        again = scan(at_midnight(day) + dt.timedelta(hours=12))
        assert raised_lines(again) == [], again
        assert "0 alerts raised." in again

    warning, critical, overdue, repeat_1 = (
        DelayAlert.objects.get(application=application, level=level, repeat_index=repeat)
        for _, level, repeat, *_ in expected
    )
    assert warning.escalates is None
    assert critical.escalates == warning
    assert overdue.escalates == critical
    assert repeat_1.escalates is None  # a repeat reminds; it does not escalate

    # Repeat 2 falls on Sunday 4 January 2026, a make-up working day after New Year.
    assert raised_lines(scan(at_midnight(REPEAT_2_DAY) - dt.timedelta(seconds=1))) == []
    output = scan(at_midnight(REPEAT_2_DAY))
    assert len(raised_lines(output)) == 1
    assert DelayAlert.objects.get(application=application, repeat_index=2).wait_elapsed == 65
    assert delay_alerts(application) == [
        ("warning", 0),
        ("critical", 0),
        ("overdue", 0),
        ("overdue", 1),
        ("overdue", 2),
    ]


@pytest.mark.django_db
def test_a_late_scan_raises_every_level_passed_once_and_a_second_scan_nothing(application):
    output = scan(beijing("2025-12-19", 9))

    lines = raised_lines(output)
    assert sorted(line.split(":")[0] for line in lines) == [
        "raised delay_level critical",
        "raised delay_level overdue",
        "raised delay_level overdue",
        "raised delay_level warning",
    ]
    assert any("overdue (repeat 1)" in line for line in lines)
    assert output.splitlines()[-1] == (
        "Scanned at 2025-12-19T09:00:00+08:00: 1 applications, 0 shipments, 4 alerts raised."
    )
    assert delay_alerts(application) == [
        ("warning", 0),
        ("critical", 0),
        ("overdue", 0),
        ("overdue", 1),
    ]
    # Each alert records the wait when it was raised, not the day of its level.
    assert set(DelayAlert.objects.values_list("wait_elapsed", flat=True)) == {56}
    critical = DelayAlert.objects.get(level=DelayLevel.CRITICAL)
    assert critical.escalates == DelayAlert.objects.get(level=DelayLevel.WARNING)
    assert DelayAlert.objects.get(level=DelayLevel.OVERDUE, repeat_index=0).escalates == critical

    second = scan(beijing("2025-12-19", 9, 5))
    assert raised_lines(second) == []
    assert DelayAlert.objects.count() == 4
    # Even when the application is forced due again, the database keeps one alert per level.
    LicenseApplication.objects.update(next_check_at=beijing("2025-12-19", 9))
    third = scan(beijing("2025-12-19", 9, 10))
    assert "1 applications" in third
    assert raised_lines(third) == []
    assert DelayAlert.objects.count() == 4


@pytest.mark.django_db
def test_scan_delays_refuses_a_now_that_is_not_iso_8601(db):
    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("scan_delays", "--now", "next tuesday")


@pytest.mark.django_db
def test_scan_delays_reads_a_naive_now_as_utc(application):
    # 16:30 UTC on 12 Nov is 00:30 on 13 Nov in Beijing: the warning day has begun.
    output = scan(dt.datetime(2025, 11, 12, 16, 30))
    assert "Scanned at 2025-11-12T16:30:00+00:00" in output
    assert delay_alerts(application) == [("warning", 0)]


# --- decisions resolve ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("decision", ["approved", "denied", "withdrawn"])
def test_alerts_resolve_when_the_application_is_decided_or_withdrawn(clock, application, decision):
    scan(beijing("2025-12-05"))
    assert delay_alerts(application) == [("warning", 0), ("critical", 0), ("overdue", 0)]
    clock.set(beijing("2025-12-08", 15))

    walk_application(
        application,
        [(decision, beijing("2025-12-08", 11))],
        valid_from=dt.date(2025, 12, 8),
        valid_until=dt.date(2026, 12, 7),
    )

    application.refresh_from_db()
    assert application.delay_level == DelayLevel.NONE
    assert application.next_check_at is None
    assert application.next_threshold_on is None
    alerts = DelayAlert.objects.filter(application=application)
    assert {alert.state for alert in alerts} == {"resolved"}
    assert {alert.resolved_at for alert in alerts} == {clock()}
    assert {alert.resolution for alert in alerts} == {f"The application is {decision}."}
    # Nothing more is raised for it, however late.
    assert raised_lines(scan(beijing("2026-03-01"))) == []
    assert DelayAlert.objects.filter(application=application).count() == 3


@pytest.mark.django_db
def test_a_withdrawal_while_information_is_requested_resolves_too(clock, application):
    clock.set(beijing("2025-11-14", 11))
    walk_application(application, [("info_requested", beijing("2025-11-14"))])
    scan(beijing("2025-11-14", 12))
    assert delay_alerts(application) == [("warning", 0)]
    clock.set(beijing("2025-11-20"))

    walk_application(application, [("withdrawn", beijing("2025-11-20", 9))])

    assert DelayAlert.objects.get(application=application).resolution == (
        "The application is withdrawn."
    )


# --- no deadline ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("flag", ["is_escalated", "involves_watch_listed_party"])
def test_without_a_deadline_there_is_no_overdue_but_the_day_counts_still_apply(
    clock, application, actor, flag
):
    application_update(application=application, actor=actor, **{flag: True})
    application.refresh_from_db()
    assert application.statutory_deadline is None
    assert application.next_threshold_level == DelayLevel.WARNING

    output = scan(beijing("2025-12-19"))

    levels = [level for level, _ in delay_alerts(application)]
    assert "overdue" not in levels
    assert levels[:2] == ["warning", "critical"]
    assert "statutory deadline none" in output
    application.refresh_from_db()
    assert application.delay_level == DelayLevel.CRITICAL
    assert application.next_threshold_level != DelayLevel.OVERDUE
    assert not DelayAlert.objects.filter(level=DelayLevel.OVERDUE).exists()


# --- backdated histories --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_backdated_history_entered_step_by_step_alerts_only_for_where_it_ends(
    clock, mofcom, organization, exporter
):
    # Officers type in, on Friday 19 December 2025, a history that began in September.
    clock.set(beijing("2025-12-19", 15))
    now = clock()
    application = accepted_application(
        beijing("2025-09-26"),
        review_from=beijing("2025-09-29"),
        organization=organization,
        exporter=exporter,
        authority=mofcom,
    )
    # Without the pause still to be entered, it would have waited 56 days: overdue and
    # repeat 1 (18 Dec). The services store that state and leave the alerts to the scan.
    assert application.delay_level == DelayLevel.OVERDUE
    assert application.next_check_at == now
    assert not DelayAlert.objects.exists()

    walk_application(application, [("info_requested", beijing("2025-10-13"))])
    application.refresh_from_db()
    # Paused since 13 October: 7 days waited, no level at all.
    assert application.delay_level == DelayLevel.NONE
    assert not DelayAlert.objects.exists()

    walk_application(application, [("under_review", beijing("2025-10-17"))])
    application.refresh_from_db()
    # Paused (13 Oct, 17 Oct]: 4 days. 52 days waited; the deadline moved to 10 December.
    assert application.statutory_deadline == dt.date(2025, 12, 10)
    assert application.delay_level == DelayLevel.OVERDUE
    assert application.next_check_at == now
    assert not DelayAlert.objects.exists()

    output = scan(now)

    assert delay_alerts(application) == [("warning", 0), ("critical", 0), ("overdue", 0)]
    assert len(raised_lines(output)) == 3
    assert set(DelayAlert.objects.values_list("wait_elapsed", flat=True)) == {52}
    application.refresh_from_db()
    # Repeat 1 now falls 10 working days after 10 December.
    assert application.next_threshold_on == dt.date(2025, 12, 24)
    assert application.next_threshold_level == DelayLevel.OVERDUE


@pytest.mark.django_db
def test_a_clock_stop_entered_later_moves_the_next_level_out(clock, application, actor):
    clock.set(beijing("2025-11-12"))
    clock_stop_record(
        application=application,
        kind="expert_review",
        started_on=dt.date(2025, 11, 3),
        ended_on=dt.date(2025, 11, 7),
        actor=actor,
    )
    application.refresh_from_db()
    # Five working days paused: warning on day 30 moves from 13 to 20 November.
    assert application.next_threshold_on == dt.date(2025, 11, 20)
    assert application.statutory_deadline == dt.date(2025, 12, 11)
    assert raised_lines(scan(at_midnight(WARNING_DAY))) == []
    assert raised_lines(scan(at_midnight(dt.date(2025, 11, 20))))[0].startswith(
        "raised delay_level warning"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("flag", ["is_escalated", "involves_watch_listed_party"])
def test_losing_the_deadline_resolves_the_overdue_alert_but_not_the_others(
    clock, application, actor, flag
):
    scan(beijing("2025-12-05"))
    assert delay_alerts(application) == [("warning", 0), ("critical", 0), ("overdue", 0)]
    clock.set(beijing("2025-12-08", 15))

    application_update(
        application=LicenseApplication.objects.get(pk=application.pk), actor=actor, **{flag: True}
    )

    states = dict(
        DelayAlert.objects.filter(application=application).values_list("level", "resolved_at")
    )
    assert states["overdue"] == clock()
    assert states["warning"] is None and states["critical"] is None
    application.refresh_from_db()
    assert application.statutory_deadline is None
    assert application.delay_level == DelayLevel.CRITICAL


@pytest.mark.django_db
def test_a_rules_levels_are_listed_by_day_count_with_the_deadline_level_last():
    # NULL sorts first on SQLite and last on PostgreSQL unless the ordering says which.
    assert list(default_rule().levels.values_list("level", flat=True)) == [
        "warning",
        "critical",
        "overdue",
    ]
