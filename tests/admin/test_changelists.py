"""The work queues as officers see them: columns, filters, search, urgency order, scoping."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from licensing.clock import application_clock
from licensing.models import (
    AlertKind,
    ApplicationStatus,
    DelayAlert,
    DelayLevel,
    LicenseApplication,
    Shipment,
)
from tests.admin.conftest import change_url, changelist_url
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    application_in_status,
)

pytestmark = pytest.mark.django_db


def _rows(response) -> list:
    return list(response.context["cl"].result_list)


def _overdue_application(organization, exporter, dysprosium, **kwargs):
    """Accepted about 100 days ago and still under review: past the 45 working days."""
    return application_in_status(
        ApplicationStatus.UNDER_REVIEW,
        first_step_at=timezone.now() - dt.timedelta(days=100),
        organization=organization,
        exporter=exporter,
        line__item=dysprosium,
        **kwargs,
    )


def _shipment(application, reference: str, **fields) -> Shipment:
    return Shipment.objects.create(
        organization=application.organization,
        external_reference=reference,
        exporter=application.exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country="DE",
        required_ship_date=timezone.localdate() + dt.timedelta(days=30),
        license_application=application,
        **fields,
    )


def test_application_row_shows_the_queue_columns(admin_client, organization, exporter, dysprosium):
    application = _overdue_application(organization, exporter, dysprosium)
    application.refresh_from_db()
    assert application.delay_level == DelayLevel.OVERDUE

    response = admin_client.get(changelist_url(LicenseApplication))

    html = response.content.decode()
    clock = application_clock(application)
    assert f"{clock.elapsed} working days" in html
    assert re.search(r'lic-badge--overdue"[^>]*>overdue<', html), "a coloured badge with its text"
    assert 'lic-badge--info">under review<' in html
    assert application.authority_reference in html
    assert exporter.name in html
    assert "1C905 1000 kg" in html
    assert date_format(application.statutory_deadline) in html
    assert "licensing/admin.css" in html


def test_overdue_filter_lists_only_overdue_applications(
    admin_client, organization, exporter, dysprosium
):
    overdue = _overdue_application(organization, exporter, dysprosium)
    fresh = LicenseApplicationFactory(organization=organization, exporter=exporter)

    response = admin_client.get(changelist_url(LicenseApplication) + "?overdue=yes")

    assert _rows(response) == [overdue]
    assert "By overdue" in response.content.decode()
    others = _rows(admin_client.get(changelist_url(LicenseApplication) + "?overdue=no"))
    assert others == [fresh]


def test_most_urgent_applications_come_first(admin_client, organization, exporter):
    today = timezone.localdate()
    rows = {}
    for name, status, level, deadline in (
        ("approved", ApplicationStatus.APPROVED, DelayLevel.NONE, None),
        ("fine", ApplicationStatus.UNDER_REVIEW, DelayLevel.NONE, today + dt.timedelta(days=40)),
        ("warning", ApplicationStatus.UNDER_REVIEW, DelayLevel.WARNING, today),
        ("overdue-late", ApplicationStatus.UNDER_REVIEW, DelayLevel.OVERDUE, today),
        (
            "overdue-early",
            ApplicationStatus.INFO_REQUESTED,
            DelayLevel.OVERDUE,
            today - dt.timedelta(days=9),
        ),
        ("critical", ApplicationStatus.ACCEPTED, DelayLevel.CRITICAL, today),
    ):
        rows[name] = LicenseApplicationFactory(organization=organization, exporter=exporter)
        # The stored delay state, as the delay engine keeps it.
        LicenseApplication.objects.filter(pk=rows[name].pk).update(
            status=status, delay_level=level, statutory_deadline=deadline
        )

    response = admin_client.get(changelist_url(LicenseApplication))

    order = [rows_by_pk for rows_by_pk in _rows(response)]
    names = {row.pk: name for name, row in rows.items()}
    assert [names[row.pk] for row in order] == [
        "overdue-early",
        "overdue-late",
        "critical",
        "warning",
        "fine",
        "approved",
    ]


def test_open_alerts_material_family_and_search_filters(
    admin_client, organization, exporter, dysprosium
):
    with_alert = _overdue_application(organization, exporter, dysprosium)
    DelayAlert.objects.create(
        organization=organization,
        kind=AlertKind.DELAY_LEVEL,
        level=DelayLevel.OVERDUE,
        application=with_alert,
        message="overdue",
        raised_at=timezone.now(),
    )
    gallium = ControlledItemFactory(control_code="GA-TEST", material_family="gallium")
    other_exporter = ExporterFactory(organization=organization, name="Yunnan Gallium Works")
    gallium_application = LicenseApplicationFactory(
        organization=organization, exporter=other_exporter, line__item=gallium
    )
    url = changelist_url(LicenseApplication)

    assert _rows(admin_client.get(url + "?open_alerts=yes")) == [with_alert]
    assert _rows(admin_client.get(url + "?open_alerts=no")) == [gallium_application]
    assert _rows(admin_client.get(url + "?material_family=gallium")) == [gallium_application]
    assert _rows(admin_client.get(url + "?q=Yunnan")) == [gallium_application]
    registration = exporter.registration_number
    assert _rows(admin_client.get(url + f"?q={registration}")) == [with_alert]
    assert _rows(admin_client.get(url + f"?q={with_alert.authority_reference}")) == [with_alert]


def test_officers_see_only_their_organizations_rows(
    officer_client, organization, other_organization, exporter
):
    own = LicenseApplicationFactory(organization=organization, exporter=exporter)
    foreign = LicenseApplicationFactory(organization=other_organization)

    response = officer_client.get(changelist_url(LicenseApplication))

    assert _rows(response) == [own]
    assert other_organization.name not in response.content.decode()
    assert officer_client.get(change_url(own)).status_code == 200
    # Someone else's application does not exist for this officer.
    assert officer_client.get(change_url(foreign)).status_code == 302
    assert officer_client.get(change_url(foreign), follow=True).request["PATH_INFO"] == "/admin/"


def test_superusers_see_every_organization(admin_client, organization, other_organization):
    LicenseApplicationFactory(organization=organization)
    LicenseApplicationFactory(organization=other_organization)

    assert len(_rows(admin_client.get(changelist_url(LicenseApplication)))) == 2


def test_shipments_queue_shows_risk_first_with_the_license(
    admin_client, organization, exporter, dysprosium
):
    application = _overdue_application(organization, exporter, dysprosium)
    calm = _shipment(application, "PO-CALM")
    at_risk = _shipment(application, "PO-RISK")
    Shipment.objects.filter(pk=at_risk.pk).update(at_risk=True)

    response = admin_client.get(changelist_url(Shipment))

    assert _rows(response)[:2] == [at_risk, calm]
    html = response.content.decode()
    assert 'lic-badge--critical">at risk<' in html
    assert change_url(application) in html
    filtered = _rows(admin_client.get(changelist_url(Shipment) + "?at_risk__exact=1"))
    assert filtered == [at_risk]


def test_alerts_queue_filters_by_state_and_links_its_subject(
    admin_client, organization, exporter, dysprosium
):
    application = _overdue_application(organization, exporter, dysprosium)
    now = timezone.now()

    def alert(level, **fields):
        return DelayAlert.objects.create(
            organization=organization,
            kind=AlertKind.DELAY_LEVEL,
            level=level,
            application=application,
            message=f"{level} alert",
            raised_at=now,
            **fields,
        )

    open_alert = alert(DelayLevel.WARNING)
    acknowledged = alert(DelayLevel.CRITICAL, acknowledged_at=now)
    resolved = alert(DelayLevel.OVERDUE, resolved_at=now)
    url = changelist_url(DelayAlert)

    response = admin_client.get(url)
    assert _rows(response) == [open_alert, acknowledged, resolved]
    assert change_url(application) in response.content.decode()
    assert _rows(admin_client.get(url + "?state=open")) == [open_alert]
    assert _rows(admin_client.get(url + "?state=acknowledged")) == [acknowledged]
    assert _rows(admin_client.get(url + "?state=resolved")) == [resolved]
