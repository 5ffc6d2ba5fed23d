"""Shipment flags: at risk of missing the ship date, and a license expiring before it is used.

The services store the flags as soon as anything changes; the scan raises the alerts. The
flags clear, and their alerts resolve, when the shipment leaves or is cancelled, or when the
condition clears. Dates: an application accepted 26 Sep 2025 is due on Thursday 4 December.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from licensing.models import Shipment
from licensing.models.delays import AlertKind, DelayAlert
from licensing.services.applications import clock_stop_record
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create, shipment_transition, shipment_update
from licensing.services.threshold_rules import LevelInput, threshold_rule_create
from tests.delays.conftest import (
    DEADLINE,
    SHANGHAI,
    accepted_application,
    beijing,
    raised_lines,
    scan,
)
from tests.factories import walk_application

D = dt.date.fromisoformat
_references = itertools.count(1)


def midnight(day: str | dt.date) -> dt.datetime:
    return dt.datetime.combine(D(day) if isinstance(day, str) else day, dt.time(0), tzinfo=SHANGHAI)


@pytest.fixture
def make_shipment(organization, exporter, dysprosium, actor):
    def make(ship_date: str, application=None, **fields) -> Shipment:
        shipment = shipment_create(
            organization=organization,
            actor=actor,
            lines=[LineInput(item=dysprosium, quantity=Decimal("10"), unit="kg")],
            external_reference=f"PO-RISK-{next(_references):03d}",
            exporter=exporter,
            consignee_name="Rheinland Motoren GmbH",
            consignee_country="DE",
            destination_country="DE",
            required_ship_date=D(ship_date),
            license_application=application,
            **fields,
        )
        return fresh(shipment)  # the delay state is stored on the row, not on this instance

    return make


@pytest.fixture
def application(clock, organization, exporter, mofcom, dysprosium):
    """Accepted 26 Sep 2025, due 4 Dec 2025; a general license, so it can cover many shipments."""
    return accepted_application(
        organization=organization,
        exporter=exporter,
        authority=mofcom,
        license_type="general",
        line__item=dysprosium,
    )


def shipment_alerts(shipment) -> list[tuple[str, str, str]]:
    return sorted(
        DelayAlert.objects.filter(shipment=shipment).values_list("kind", "level", "resolution")
    )


def fresh(shipment: Shipment) -> Shipment:
    shipment.refresh_from_db()
    return shipment


# --- at risk ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_an_application_a_shipment_is_at_risk_once_too_late_to_file(clock, make_shipment):
    # Ship on Tue 20 Jan 2026, 5 days' buffer: decided by Thu 15 Jan. 45 working days before
    # that (New Year 1-3 Jan off, Sun 4 Jan worked) is Wed 12 Nov 2025: the last day to file.
    shipment = make_shipment("2026-01-20")
    assert shipment.at_risk is False
    assert shipment.next_check_at == midnight("2025-11-13")

    assert raised_lines(scan(midnight("2025-11-13") - dt.timedelta(seconds=1))) == []
    output = scan(midnight("2025-11-13"))

    assert raised_lines(output) == [
        f"raised at_risk critical: Shipment {shipment.external_reference} is at risk: the license "
        "decision is not expected before its required ship date 2026-01-20."
    ]
    assert fresh(shipment).at_risk is True
    alert = DelayAlert.objects.get(shipment=shipment)
    assert (alert.kind, alert.level, alert.application) == (AlertKind.AT_RISK, "critical", None)
    assert list(alert.shipments.all()) == [shipment]
    assert raised_lines(scan(midnight("2025-11-14"))) == []


@pytest.mark.django_db
def test_a_shipment_later_than_period_plus_buffer_is_not_at_risk_yet(clock, make_shipment):
    shipment = make_shipment("2026-01-21")
    assert shipment.at_risk is False
    assert scan(midnight("2025-11-13")).endswith("0 alerts raised.\n")
    assert fresh(shipment).next_check_at == midnight("2025-11-14")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ship_date", "at_risk"),
    [
        ("2025-12-08", True),  # decided by 3 Dec at the latest: the deadline is after
        ("2025-12-09", False),  # decided by 4 Dec: the deadline day itself is in time
        ("2026-03-01", False),
    ],
)
def test_a_shipment_is_at_risk_when_the_deadline_falls_after_ship_date_minus_5_days(
    application, make_shipment, ship_date, at_risk
):
    shipment = make_shipment(ship_date, application)

    assert shipment.at_risk is at_risk
    assert not DelayAlert.objects.filter(shipment=shipment).exists()  # the scan raises
    scan(beijing("2025-11-10", 12))
    expected = [(AlertKind.AT_RISK, "critical", "")] if at_risk else []
    assert shipment_alerts(shipment) == expected


@pytest.mark.django_db
def test_a_deadline_that_passed_undecided_counts_as_a_decision_expected_today(
    clock, application, make_shipment
):
    in_time = make_shipment("2025-12-09", application)
    assert in_time.at_risk is False
    assert in_time.next_check_at == midnight(DEADLINE + dt.timedelta(days=1))

    # Friday 5 December and still no decision: it can come no earlier than today.
    scan(midnight("2025-12-05"))
    assert fresh(in_time).at_risk is True
    assert shipment_alerts(in_time) == [(AlertKind.AT_RISK, "critical", "")]

    clock.set(beijing("2025-12-10"))
    tight = make_shipment("2025-12-14", application)  # decided by 9 Dec: too late already
    roomy = make_shipment("2025-12-16", application)  # decided by 11 Dec: still possible
    assert (tight.at_risk, roomy.at_risk) == (True, False)
    assert roomy.next_check_at == midnight("2025-12-12")


@pytest.mark.django_db
@pytest.mark.parametrize(("buffer", "at_risk"), [(0, False), (4, False), (5, True), (10, True)])
def test_the_lead_buffer_comes_from_the_rule(
    clock, organization, mofcom, actor, application, make_shipment, buffer, at_risk
):
    threshold_rule_create(
        organization=organization,
        levels=[LevelInput("warning", 30)],
        actor=actor,
        name=f"{buffer} days' buffer",
        authority=mofcom,
        lead_buffer_days=buffer,
    )
    # Ship on Monday 8 December: with 4 days' buffer the decision may come on the 4th.
    assert make_shipment("2025-12-08", application).at_risk is at_risk


@pytest.mark.django_db
def test_an_approval_clears_at_risk_and_resolves_its_alert(clock, application, make_shipment):
    shipment = make_shipment("2025-12-08", application)
    scan(beijing("2025-11-10", 12))
    assert shipment_alerts(shipment) == [(AlertKind.AT_RISK, "critical", "")]

    walk_application(
        application,
        [("approved", beijing("2025-11-10", 9))],
        valid_from=D("2025-11-10"),
        valid_until=D("2026-11-09"),
    )

    assert fresh(shipment).at_risk is False
    assert shipment_alerts(shipment) == [(AlertKind.AT_RISK, "critical", "The condition cleared.")]
    assert DelayAlert.objects.get(shipment=shipment).resolved_at == clock()


@pytest.mark.django_db
def test_a_later_ship_date_clears_at_risk(clock, application, make_shipment, actor):
    shipment = make_shipment("2025-12-08", application)
    scan(beijing("2025-11-10", 12))

    shipment_update(shipment=shipment, actor=actor, required_ship_date=D("2026-01-15"))

    assert fresh(shipment).at_risk is False
    assert DelayAlert.objects.get(shipment=shipment).state == "resolved"


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["cancelled", "on_hold"])
def test_cancelling_clears_at_risk_but_holding_does_not(
    clock, application, make_shipment, actor, status
):
    shipment = make_shipment("2025-12-08", application)
    scan(beijing("2025-11-10", 12))

    shipment_transition(shipment=shipment, to_status=status, actor=actor)

    alert = DelayAlert.objects.get(shipment=shipment)
    if status == "cancelled":
        assert fresh(shipment).at_risk is False
        assert fresh(shipment).next_check_at is None
        assert (alert.state, alert.resolution) == ("resolved", "The shipment is cancelled.")
    else:
        assert fresh(shipment).at_risk is True
        assert alert.state == "open"


@pytest.mark.django_db
def test_a_denial_puts_waiting_shipments_at_risk(clock, application, make_shipment):
    shipment = make_shipment("2026-03-01", application)
    assert shipment.at_risk is False

    walk_application(application, [("denied", beijing("2025-11-10", 9))])

    assert fresh(shipment).at_risk is True
    assert fresh(shipment).next_check_at == clock()  # due: the scan raises the alert
    assert raised_lines(scan(clock()))[0].startswith("raised at_risk critical")


# --- license expiring -----------------------------------------------------------------------------


@pytest.fixture
def license(clock, organization, exporter, mofcom, dysprosium):
    """Approved on 10 Nov 2025, valid until Wednesday 31 December 2025."""
    application = accepted_application(
        organization=organization,
        exporter=exporter,
        authority=mofcom,
        license_type="general",
        line__item=dysprosium,
    )
    walk_application(
        application,
        [("approved", beijing("2025-11-10", 9))],
        valid_from=D("2025-11-10"),
        valid_until=D("2025-12-31"),
    )
    return application


@pytest.mark.django_db
def test_a_license_expiring_before_the_ship_date_is_critical(license, make_shipment):
    shipment = make_shipment("2026-01-10", license)

    assert (shipment.at_risk, shipment.license_expiring) == (False, "critical")
    output = scan(beijing("2025-11-10", 12))
    assert raised_lines(output) == [
        f"raised license_expiring critical: Shipment {shipment.external_reference}: license "
        "LIC-2025-0001 expires on 2025-12-31, before the required ship date 2026-01-10."
    ]
    alert = DelayAlert.objects.get(shipment=shipment)
    assert alert.application == license


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("today", "ship_date", "expiring"),
    [
        ("2025-11-30", "2025-12-31", "none"),  # the window opens on 1 December
        ("2025-12-01", "2025-12-31", "warning"),  # shipping on the last valid day is fine
        ("2025-12-01", "2026-01-01", "critical"),
    ],
)
def test_the_expiry_flag_at_its_boundaries(
    clock, license, make_shipment, today, ship_date, expiring
):
    clock.set(beijing(today))
    assert make_shipment(ship_date, license).license_expiring == expiring


@pytest.mark.django_db
def test_a_license_expiring_within_the_window_while_unshipped_is_a_warning(
    clock, license, make_shipment, actor
):
    # Valid until 31 Dec, 30 days' window: from 1 December on.
    shipment = make_shipment("2025-12-20", license)
    assert shipment.license_expiring == "none"
    assert shipment.next_check_at == midnight("2025-12-01")

    assert raised_lines(scan(midnight("2025-12-01") - dt.timedelta(seconds=1))) == []
    output = scan(midnight("2025-12-01"))

    assert raised_lines(output) == [
        f"raised license_expiring warning: Shipment {shipment.external_reference}: license "
        "LIC-2025-0001 expires on 2025-12-31 and the shipment has not left."
    ]
    assert fresh(shipment).license_expiring == "warning"

    # Moved past the expiry: critical now; the warning's condition cleared.
    clock.set(beijing("2025-12-02"))
    shipment_update(shipment=shipment, actor=actor, required_ship_date=D("2026-01-05"))
    assert fresh(shipment).license_expiring == "critical"
    scan(beijing("2025-12-02", 12))
    assert shipment_alerts(shipment) == [
        (AlertKind.LICENSE_EXPIRING, "critical", ""),
        (AlertKind.LICENSE_EXPIRING, "warning", "The condition cleared."),
    ]


@pytest.mark.django_db
def test_shipping_clears_the_expiry_flag_and_resolves_its_alert(
    clock, license, make_shipment, actor
):
    clock.set(beijing("2025-12-03"))
    shipment = make_shipment("2025-12-20", license)
    assert shipment.license_expiring == "warning"
    scan(clock())
    assert DelayAlert.objects.get(shipment=shipment).state == "open"

    shipment_transition(shipment=shipment, to_status="licensed", actor=actor)
    assert DelayAlert.objects.get(shipment=shipment).state == "open"  # still waiting to leave
    shipment_transition(shipment=shipment, to_status="shipped", actor=actor)

    shipment = fresh(shipment)
    assert (shipment.license_expiring, shipment.at_risk, shipment.next_check_at) == (
        "none",
        False,
        None,
    )
    assert shipment_alerts(shipment) == [
        (AlertKind.LICENSE_EXPIRING, "warning", "The shipment is shipped.")
    ]
    assert raised_lines(scan(beijing("2026-02-01"))) == []


@pytest.mark.django_db
def test_an_open_information_request_puts_a_shipment_at_risk_as_soon_as_the_deadline_passes_it(
    clock, application, make_shipment
):
    # Ship on Fri 12 Dec: decided by Sun 7 Dec. Due 4 Dec, in time, until the clock pauses.
    clock.set(beijing("2025-10-13", 12))
    walk_application(application, [("info_requested", beijing("2025-10-13", 11))])
    shipment = make_shipment("2025-12-12", application)
    assert shipment.at_risk is False

    # Each working day of the open request moves the deadline out by one: 5 Dec after 14 Oct,
    # 8 Dec after 15 Oct, which is too late for 7 December.
    scan(midnight("2025-10-14"))
    application.refresh_from_db()
    assert application.statutory_deadline == D("2025-12-05")
    assert fresh(shipment).at_risk is False

    output = scan(midnight("2025-10-15"))

    application.refresh_from_db()
    assert application.statutory_deadline == D("2025-12-08")
    assert fresh(shipment).at_risk is True
    assert raised_lines(output) == [
        f"raised at_risk critical: Shipment {shipment.external_reference} is at risk: the license "
        "decision is not expected before its required ship date 2025-12-12."
    ]
    # Review resumes: the pause ends; the next check is the next level again, not tomorrow.
    clock.set(beijing("2025-10-16", 12))
    walk_application(application, [("under_review", beijing("2025-10-16", 11))])
    application.refresh_from_db()
    assert application.statutory_deadline == D("2025-12-09")
    assert application.next_check_at == midnight(application.next_threshold_on)
    assert application.next_threshold_level == "warning"


@pytest.mark.django_db
def test_an_open_clock_stop_is_followed_day_by_day_too(clock, application, actor):
    clock.set(beijing("2025-10-20", 12))
    clock_stop_record(
        application=application, kind="onsite_verification", started_on=D("2025-10-20"), actor=actor
    )
    application.refresh_from_db()
    assert application.statutory_deadline == D("2025-12-05")  # 20 Oct paused so far
    assert application.next_check_at == midnight("2025-10-21")

    scan(midnight("2025-10-22"))
    application.refresh_from_db()
    assert application.statutory_deadline == D("2025-12-09")  # 20, 21, 22 Oct paused
