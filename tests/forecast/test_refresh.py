"""Stored windows: filled by the nightly refresh, kept current by the services, shown by the API."""

from __future__ import annotations

import datetime as dt

from core.calendars import working_calendar
from licensing.models import ForecastCurve, LicenseApplication
from licensing.services.applications import clock_stop_record
from licensing.tasks import refresh_forecasts
from tests.api.test_applications_api import api_client
from tests.delays.conftest import beijing
from tests.factories import TEST_ACTOR, LicenseApplicationFactory, walk_application
from tests.forecast.conftest import NOW, under_review
from tests.forecast.history import weibull_quantile

D = dt.date.fromisoformat
TODAY = D("2025-11-10")


def working_days_after_start(application: LicenseApplication, day: dt.date) -> int:
    start = application.clock_started_at.astimezone(beijing(TODAY).tzinfo).date()
    return working_calendar("CN").working_days_between(start, day)


def test_without_history_the_window_is_the_statutory_deadline(
    organization, exporter, dysprosium, clock
):
    application = under_review(organization, exporter, dysprosium)
    assert application.statutory_deadline is not None
    assert application.expected_decision_basis == "statutory_deadline"
    assert application.expected_decision_p50 == application.statutory_deadline
    assert application.expected_decision_p90 == application.statutory_deadline
    assert application.expected_decision_sample_size == 0


def test_a_decision_stores_its_decision_times_and_clears_the_window(
    organization, exporter, dysprosium, clock
):
    """Accepted Fri 26 Sep 2025; information requested Mon 20 Oct, answered Wed 22 Oct (21
    and 22 Oct paused); approved Mon 10 Nov: day 27 on the calendar, 25 counting days."""
    application = under_review(organization, exporter, dysprosium, accepted_on="2025-09-26")
    walk_application(
        application,
        [
            ("info_requested", beijing("2025-10-20")),
            ("under_review", beijing("2025-10-22")),
            ("approved", beijing("2025-11-10", hour=9)),
        ],
    )
    application.refresh_from_db()
    assert application.decision_working_days == 25
    assert application.decision_calendar_days == 45
    assert application.expected_decision_basis == ""
    assert application.expected_decision_p50 is None
    assert application.expected_decision_p90 is None


def test_a_withdrawal_before_the_clock_started_has_no_decision_time(
    organization, exporter, dysprosium, clock
):
    application = LicenseApplicationFactory(
        organization=organization,
        exporter=exporter,
        authority=dysprosium.authority,
        line__item=dysprosium,
    )
    walk_application(
        application, [("submitted", beijing("2025-11-03")), ("withdrawn", beijing("2025-11-04"))]
    )
    application.refresh_from_db()
    assert (application.decision_working_days, application.decision_calendar_days) == (None, None)


def test_the_nightly_refresh_refits_the_curves_and_stores_every_open_window(
    organization, exporter, dysprosium, history
):
    application = under_review(organization, exporter, dysprosium)  # 5 working days waited
    assert application.expected_decision_basis == "statutory_deadline"  # no curves yet

    result = refresh_forecasts()

    assert result["applications"] == history.open + 1
    assert result["written"] == history.open + 1
    levels = set(ForecastCurve.objects.values_list("level", flat=True))
    assert levels == {
        "authority_item_destination",
        "authority_item",
        "authority_material_family",
        "authority",
    }
    application.refresh_from_db()
    assert application.expected_decision_basis == "authority_item_destination"
    assert application.expected_decision_computed_at == NOW
    # It has waited 5 working days: the decisions that came on day 5 or later stand behind it.
    later = LicenseApplication.objects.filter(status="approved", decision_working_days__gte=5)
    assert application.expected_decision_sample_size == later.count() < history.decided
    # Weibull(45, 2): given 5 days waited, median 38 and p90 69 working days from the start
    # (the conditioning barely moves them); 540 decisions pin them to a few days.
    p50 = working_days_after_start(application, application.expected_decision_p50)
    p90 = working_days_after_start(application, application.expected_decision_p90)
    assert abs(p50 - weibull_quantile(0.5)) <= 3, p50
    assert abs(p90 - weibull_quantile(0.9)) <= 6, p90
    # Every open application got a window, none of them before today.
    windows = LicenseApplication.objects.filter(status="under_review")
    assert windows.filter(expected_decision_basis="").count() == 0
    assert windows.filter(expected_decision_p50__lt=TODAY).count() == 0
    assert windows.filter(expected_decision_p90__lt=TODAY).count() == 0


def test_a_clock_stop_moves_the_window_from_the_stored_curves(
    organization, exporter, dysprosium, history, clock
):
    application = under_review(organization, exporter, dysprosium)
    refresh_forecasts()
    application.refresh_from_db()
    before = (application.expected_decision_p50, application.expected_decision_p90)
    curves_fitted = set(ForecastCurve.objects.values_list("pk", flat=True))

    # An expert review from Wednesday to Friday: three working days that do not count.
    clock_stop_record(
        application=application,
        kind="expert_review",
        started_on=D("2025-11-05"),
        ended_on=D("2025-11-07"),
        actor=TEST_ACTOR,
    )

    application.refresh_from_db()
    calendar = working_calendar("CN")
    assert application.expected_decision_basis == "authority_item_destination"
    # Three waited days fewer (Wed 5 to Fri 7 Nov do not count): the window moves later.
    assert application.expected_decision_p50 > before[0]
    assert calendar.working_days_between(before[1], application.expected_decision_p90) >= 1
    # No refit: the same stored curves.
    assert set(ForecastCurve.objects.values_list("pk", flat=True)) == curves_fitted


def test_the_api_shows_the_window_of_open_applications_and_of_their_shipments(
    organization, exporter, dysprosium, history, clock
):
    application = under_review(organization, exporter, dysprosium)
    refresh_forecasts()
    application.refresh_from_db()
    api = api_client(organization)
    expected = {
        "p50": application.expected_decision_p50.isoformat(),
        "p90": application.expected_decision_p90.isoformat(),
        "basis": "authority_item_destination",
        "sample_size": application.expected_decision_sample_size,
    }
    assert expected["sample_size"] > 500

    body = api.get(f"/api/v1/license-applications/{application.pk}/").json()
    assert body["expected_decision"] == expected
    listed = api.get("/api/v1/license-applications/", {"status": "under_review"}).json()
    shown = {row["id"]: row["expected_decision"] for row in listed["results"]}
    assert shown[str(application.pk)] == expected

    shipment = api.post(
        "/api/v1/shipments/",
        {
            "external_reference": "PO-FORECAST-1",
            "exporter": str(exporter.pk),
            "consignee": {"name": "Rheinland Motoren GmbH", "country": "DE"},
            "destination_country": "DE",
            "required_ship_date": "2026-06-30",
            "license_application": str(application.pk),
            "lines": [{"item": "1C905", "quantity": "100", "unit": "kg"}],
        },
        format="json",
    )
    assert shipment.status_code == 201, shipment.content
    assert shipment.json()["expected_decision"] == expected

    walk_application(application, [("approved", beijing(TODAY, hour=9))])
    assert (
        api.get(f"/api/v1/license-applications/{application.pk}/").json()["expected_decision"]
        is None
    )
    assert api.get(shipment.json()["url"]).json()["expected_decision"] is None


def test_a_refresh_leaves_a_window_alone_when_the_application_changed_meanwhile(
    organization, exporter, dysprosium, history, clock
):
    """The write checks the version read: a decision racing the nightly refresh keeps its result."""
    from licensing.services import forecasts

    application = under_review(organization, exporter, dysprosium)
    clocks = forecasts.open_clocks(forecasts.open_queryset(), now=NOW)
    curves = forecasts.fit_curves(forecasts.decided_history(), clocks)
    walk_application(application, [("approved", beijing(TODAY, hour=9))])  # meanwhile

    report = forecasts._store_windows(clocks, forecasts.windows_for(clocks, curves), now=NOW)

    assert report.written == len(clocks) - 1
    application.refresh_from_db()
    assert application.expected_decision_basis == ""
