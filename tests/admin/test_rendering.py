"""Every admin changelist and change form renders with 1,000 rows, in a bounded number of
queries, and the work queues cost the same number of queries for 10 rows as for 100.

The rows are written with bulk_create: these tests are about rendering, not about how the
rows came to be (the services have their own tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import CalendarException, ObjectChange
from licensing.models import (
    AlertKind,
    ApplicationLine,
    ApplicationStatus,
    ClockStop,
    ControlAnnouncement,
    ControlledItem,
    DelayAlert,
    DelayLevel,
    Exporter,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    OrganizationAPIKey,
    Shipment,
    ShipmentLine,
    StatusChange,
    ThresholdLevel,
    ThresholdRule,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tests.admin.conftest import change_url, changelist_url

pytestmark = pytest.mark.django_db

ROWS = 1000
# A changelist or change form may read the session, the user, its permissions, the counts,
# the filters' choices, one query per inline and prefetch: never one per row.
MAX_QUERIES = 30
NOW = timezone.now()
LEVELS = [DelayLevel.NONE, DelayLevel.WARNING, DelayLevel.CRITICAL, DelayLevel.OVERDUE]


def _applications(base, count: int, *, offset: int = 0) -> list[LicenseApplication]:
    """Open applications under review, with a line, their history and a clock stop each."""
    applications = LicenseApplication.objects.bulk_create(
        LicenseApplication(
            organization=base["organization"],
            exporter=base["exporter"],
            authority=base["authority"],
            license_type="single",
            status=ApplicationStatus.UNDER_REVIEW,
            end_user_name="Rheinland Motoren GmbH",
            end_user_country="DE",
            end_use="Motors",
            destination_country="DE",
            authority_reference=f"MOFCOM-{offset + index:05d}",
            accepted_at=NOW - dt.timedelta(days=10 + index % 90),
            clock_started_at=NOW - dt.timedelta(days=10 + index % 90),
            statutory_deadline=(NOW + dt.timedelta(days=index % 60)).date(),
            delay_level=LEVELS[index % 4],
        )
        for index in range(count)
    )
    ApplicationLine.objects.bulk_create(
        ApplicationLine(
            application=application, item=base["item"], quantity=Decimal(500), unit="kg"
        )
        for application in applications
    )
    StatusChange.objects.bulk_create(
        StatusChange(
            application=application,
            from_status=from_status,
            to_status=to_status,
            occurred_at=application.clock_started_at,
            actor_label="tests",
        )
        for application in applications
        for from_status, to_status in (("submitted", "accepted"), ("accepted", "under_review"))
    )
    ClockStop.objects.bulk_create(
        ClockStop(
            application=application,
            kind="expert_review",
            started_on=application.clock_started_at.date() + dt.timedelta(days=2),
            ended_on=application.clock_started_at.date() + dt.timedelta(days=4),
        )
        for application in applications[::3]
    )
    return applications


def _shipments(base, count: int, *, offset: int = 0) -> list[Shipment]:
    application = _applications(base, 1, offset=90000 + offset)[0]
    shipments = Shipment.objects.bulk_create(
        Shipment(
            organization=base["organization"],
            external_reference=f"PO-{offset + index:05d}",
            exporter=base["exporter"],
            consignee_name="Rheinland Motoren GmbH",
            consignee_country="DE",
            destination_country="DE",
            required_ship_date=(NOW + dt.timedelta(days=index % 120)).date(),
            license_application=application,
            at_risk=index % 5 == 0,
            license_expiring=LEVELS[index % 3],
        )
        for index in range(count)
    )
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=shipment, item=base["item"], quantity=Decimal(1), unit="kg")
        for shipment in shipments
    )
    return shipments


def _alerts(base, count: int, *, offset: int = 0) -> list[DelayAlert]:
    applications = _applications(base, 4, offset=80000 + offset)
    shipment = _shipments(base, 1, offset=70000 + offset)[0]
    alerts = []
    for index in range(count):
        about_shipment = index % 4 == 3
        alerts.append(
            DelayAlert(
                organization=base["organization"],
                kind=AlertKind.AT_RISK if about_shipment else AlertKind.DELAY_LEVEL,
                level=DelayLevel.CRITICAL if about_shipment else LEVELS[1 + index % 3],
                repeat_index=index,
                application=applications[index % 4],
                shipment=shipment if about_shipment else None,
                message=f"Alert {index}",
                raised_at=NOW - dt.timedelta(hours=index),
                acknowledged_at=NOW if index % 7 == 0 else None,
                resolved_at=NOW if index % 11 == 0 else None,
            )
        )
    return DelayAlert.objects.bulk_create(alerts)


def _rules(base, count: int) -> list[ThresholdRule]:
    rules = ThresholdRule.objects.bulk_create(
        ThresholdRule(name=f"Rule {index:04d}", organization=base["organization"])
        for index in range(count)
    )
    ThresholdLevel.objects.bulk_create(
        ThresholdLevel(rule=rule, level=level, after=after)
        for rule in rules
        for level, after in (("warning", 30), ("critical", 40))
    )
    return rules


def _deliveries(base, count: int) -> list[WebhookDelivery]:
    endpoint = WebhookEndpoint.objects.create(
        organization=base["organization"], url="https://erp.example.com/hooks", secret="s"
    )
    events = WebhookEvent.objects.bulk_create(
        WebhookEvent(organization=base["organization"], type="alert.raised", payload={"data": {}})
        for _ in range(count)
    )
    return WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event=event,
            sequence=index + 1,
            webhook_id=f"msg_{index}",
            body="{}",
            status="succeeded",
        )
        for index, event in enumerate(events)
    )


def _axes_rows(model, count: int):
    extra = {"get_data": "", "post_data": "", "failures_since_start": 1}
    fields = {field.name for field in model._meta.concrete_fields}
    return model.objects.bulk_create(
        model(
            user_agent="pytest",
            ip_address=f"10.0.{index // 250}.{index % 250}",
            username=f"user{index}",
            http_accept="*/*",
            path_info="/admin/login/",
            attempt_time=NOW,
            **{key: value for key, value in extra.items() if key in fields},
        )
        for index in range(count)
    )


def _object_changes(base, count: int):
    content_type = ContentType.objects.get_for_model(Exporter)
    return ObjectChange.objects.bulk_create(
        ObjectChange(
            actor_label="user:tests",
            request_id=f"req-{index}",
            action="update",
            content_type=content_type,
            object_id=str(base["exporter"].pk),
            object_repr=str(base["exporter"]),
            changes={"name": [f"old {index}", f"new {index}"]},
        )
        for index in range(count)
    )


BUILDERS: dict[type, Callable] = {
    LicenseApplication: _applications,
    Shipment: _shipments,
    DelayAlert: _alerts,
    ThresholdRule: _rules,
    WebhookDelivery: _deliveries,
    Organization: lambda base, n: Organization.objects.bulk_create(
        Organization(name=f"Buyer {index:04d} GmbH") for index in range(n)
    ),
    Exporter: lambda base, n: Exporter.objects.bulk_create(
        Exporter(
            organization=base["organization"],
            name=f"Exporter {index:04d}",
            country="DE",
            registration_number=f"HRB {index:05d}",
        )
        for index in range(n)
    ),
    LicensingAuthority: lambda base, n: LicensingAuthority.objects.bulk_create(
        LicensingAuthority(
            code=f"AUTH-{index:04d}",
            name=f"Authority {index}",
            country="CN",
            review_period=45,
            review_period_unit="working_days",
            clock_start_event="accepted",
            calendar_country="CN",
        )
        for index in range(n)
    ),
    ControlAnnouncement: lambda base, n: ControlAnnouncement.objects.bulk_create(
        ControlAnnouncement(authority=base["authority"], number=f"No. {index} [2030]", title="T")
        for index in range(n)
    ),
    ControlledItem: lambda base, n: ControlledItem.objects.bulk_create(
        ControlledItem(
            control_code=f"9Z{index:04d}",
            name=f"Item {index}",
            material_family="rare_earth",
            authority=base["authority"],
        )
        for index in range(n)
    ),
    CalendarException: lambda base, n: CalendarException.objects.bulk_create(
        CalendarException(
            country="XX",
            date=dt.date(2030, 1, 1) + dt.timedelta(days=index),
            is_working_day=bool(index % 2),
            source="tests",
        )
        for index in range(n)
    ),
    WebhookEndpoint: lambda base, n: WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            organization=base["organization"], url=f"https://erp{index}.example.com/", secret="s"
        )
        for index in range(n)
    ),
    OrganizationAPIKey: lambda base, n: OrganizationAPIKey.objects.bulk_create(
        OrganizationAPIKey(
            id=f"k{index:07d}.hash",
            prefix=f"k{index:07d}",
            hashed_key=f"hash{index}",
            name=f"ERP key {index}",
            organization=base["organization"],
        )
        for index in range(n)
    ),
    User: lambda base, n: User.objects.bulk_create(
        User(username=f"staff{index:04d}", is_staff=True) for index in range(n)
    ),
    Group: lambda base, n: Group.objects.bulk_create(
        Group(name=f"Team {index:04d}") for index in range(n)
    ),
    AccessAttempt: lambda base, n: _axes_rows(AccessAttempt, n),
    AccessLog: lambda base, n: _axes_rows(AccessLog, n),
    AccessFailureLog: lambda base, n: _axes_rows(AccessFailureLog, n),
    ObjectChange: _object_changes,
}


@pytest.fixture
def base(organization, exporter, mofcom, dysprosium):
    return {
        "organization": organization,
        "exporter": exporter,
        "authority": mofcom,
        "item": dysprosium,
    }


def _label(model) -> str:
    return model._meta.label


def test_every_registered_model_has_a_rendering_test():
    missing = [_label(model) for model in admin.site._registry if model not in BUILDERS]
    assert not missing, f"add a builder to BUILDERS for: {missing}"


def _get(client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, len(queries)


@pytest.mark.parametrize("model", list(BUILDERS), ids=_label)
def test_changelist_and_change_form_render_with_1000_rows(admin_client, base, model):
    if model not in admin.site._registry:
        pytest.fail(f"{_label(model)} is no longer registered in the admin: drop its builder")
    rows = BUILDERS[model](base, ROWS)

    response, queries = _get(admin_client, changelist_url(model))
    assert response.status_code == 200
    assert queries <= MAX_QUERIES, f"changelist of {_label(model)}: {queries} queries"
    total = model._default_manager.count()
    assert f"{total} " in response.content.decode()  # "1003 license applications" etc.

    response, queries = _get(admin_client, change_url(rows[len(rows) // 2]))
    assert response.status_code == 200
    assert queries <= MAX_QUERIES, f"change form of {_label(model)}: {queries} queries"


QUEUES = [
    (LicenseApplication, _applications),
    (Shipment, _shipments),
    (DelayAlert, _alerts),
]


@pytest.mark.parametrize(
    ("model", "build"), QUEUES, ids=lambda value: getattr(value, "__name__", "")
)
def test_work_queues_cost_the_same_queries_for_10_and_100_rows(admin_client, base, model, build):
    build(base, 10, offset=0)
    _, with_10 = _get(admin_client, changelist_url(model))
    build(base, 90, offset=1000)
    response, with_100 = _get(admin_client, changelist_url(model))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100
    assert with_100 == with_10
