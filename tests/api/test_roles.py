"""Who may do what through /api/v1/: a staff session exactly what its Django permissions
allow in the admin (licensing/staff_groups.py), an API key what its read-only flag allows.

`EXPECTED` is the whole rule for writes as one table: every write route of the API (POST,
PUT, PATCH, DELETE and every action) against the five kinds of caller. A denied write is a
403 problem and changes no row. The cells come from the committed schema's routes, so a new
write route without its row in the table fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from core.actors import Actor
from core.webhooks.signing import secret_generate
from licensing.models import (
    ClockStop,
    DelayAlert,
    Exporter,
    LicenseApplication,
    Shipment,
    ThresholdRule,
    WebhookDelivery,
    WebhookEndpoint,
)
from licensing.services.applications import clock_stop_record
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create
from licensing.services.threshold_rules import LevelInput, threshold_rule_create
from licensing.services.webhooks import webhook_events_record
from licensing.staff_groups import AUDITOR, COMPLIANCE_OFFICER
from licensing.tasks import deliver_webhook
from tests.api.contract import World, assert_problem, frozen, table_counts
from tests.api.test_contract import application_body, exporter_body, rule_body
from tests.factories import ExporterFactory, application_in_status

pytestmark = [pytest.mark.django_db, pytest.mark.pinned_clock("2026-11-20")]

PRINCIPALS = ("auditor", "officer", "superuser", "read_only_key", "read_write_key")

# The rule, route by route. Auditors write nothing; officers add and change what the
# workflow touches and delete nothing, and have no say over webhooks; superusers and
# read-write keys may do everything; read-only keys nothing.
# fmt: off
EXPECTED: dict[str, tuple[int, int, int, int, int]] = {
    #                                                    auditor officer superuser ro-key rw-key
    "POST exporters/":                                   (403,   201,    201,      403,   201),
    "PUT exporters/{id}/":                               (403,   200,    200,      403,   200),
    "PATCH exporters/{id}/":                             (403,   200,    200,      403,   200),
    "DELETE exporters/{id}/":                            (403,   403,    204,      403,   204),
    "POST license-applications/":                        (403,   201,    201,      403,   201),
    "PUT license-applications/{id}/":                    (403,   200,    200,      403,   200),
    "PATCH license-applications/{id}/":                  (403,   200,    200,      403,   200),
    "DELETE license-applications/{id}/":                 (403,   403,    204,      403,   204),
    "POST license-applications/{id}/transitions/":       (403,   201,    201,      403,   201),
    "POST license-applications/{id}/clock-stops/":       (403,   201,    201,      403,   201),
    "PATCH license-applications/{id}/clock-stops/{stop_id}/":
                                                         (403,   200,    200,      403,   200),
    "POST shipments/":                                   (403,   201,    201,      403,   201),
    "PUT shipments/{id}/":                               (403,   200,    200,      403,   200),
    "PATCH shipments/{id}/":                             (403,   200,    200,      403,   200),
    "DELETE shipments/{id}/":                            (403,   403,    204,      403,   204),
    "POST shipments/{id}/transitions/":                  (403,   201,    201,      403,   201),
    "POST threshold-rules/":                             (403,   201,    201,      403,   201),
    "PUT threshold-rules/{id}/":                         (403,   200,    200,      403,   200),
    "PATCH threshold-rules/{id}/":                       (403,   200,    200,      403,   200),
    "DELETE threshold-rules/{id}/":                      (403,   403,    204,      403,   204),
    "POST alerts/{id}/acknowledge/":                     (403,   200,    200,      403,   200),
    "POST webhook-endpoints/":                           (403,   403,    201,      403,   201),
    "PUT webhook-endpoints/{id}/":                       (403,   403,    200,      403,   200),
    "PATCH webhook-endpoints/{id}/":                     (403,   403,    200,      403,   200),
    "DELETE webhook-endpoints/{id}/":                    (403,   403,    204,      403,   204),
    "POST webhook-endpoints/{id}/rotate-secret/":        (403,   403,    200,      403,   200),
    "POST webhook-endpoints/{id}/test/":                 (403,   403,    202,      403,   202),
    "POST webhook-endpoints/{id}/deliveries/{delivery_id}/redeliver/":
                                                         (403,   403,    202,      403,   202),
}
# fmt: on

API = "/api/v1/"
SCHEMA = Path(settings.BASE_DIR) / "openapi" / "v1.yaml"
WRITE_METHODS = ("post", "put", "patch", "delete")


def write_routes_of_the_schema() -> list[str]:
    """Every write operation of openapi/v1.yaml, named as in EXPECTED ("POST exporters/")."""
    paths = yaml.safe_load(SCHEMA.read_text())["paths"]
    return [
        f"{method.upper()} {path.removeprefix(API)}"
        for path, operations in paths.items()
        for method in operations
        if method in WRITE_METHODS
    ]


SCHEMA_ROUTES = write_routes_of_the_schema()
# The table's routes, then any route of the schema the table lacks (its cells fail).
CELLS = [*EXPECTED, *(route for route in SCHEMA_ROUTES if route not in EXPECTED)]


# --- the rows every route works on ------------------------------------------------------------


class Scene:
    """Our organization's rows, one per thing a route writes, each made when first asked for."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.today = timezone.localdate()
        self.actor = Actor.system("role tests")

    def _application(self, status: str) -> LicenseApplication:
        return application_in_status(
            status,
            organization=self.world.ours.organization,
            exporter=self.world.ours.exporter,
            authority=self.world.authority,
            line__item=self.world.item,
        )

    @cached_property
    def spare_exporter(self) -> Exporter:
        """Referred to by nothing, so it can be deleted."""
        return ExporterFactory(organization=self.world.ours.organization)

    @cached_property
    def draft(self) -> LicenseApplication:
        return self._application("draft")

    @cached_property
    def under_review(self) -> LicenseApplication:
        return self._application("under_review")

    @cached_property
    def open_clock_stop(self) -> ClockStop:
        return clock_stop_record(
            application=self._application("under_review"),
            kind="expert_review",
            started_on=self.today,
            actor=self.actor,
        )

    @cached_property
    def shipment(self) -> Shipment:
        return shipment_create(
            organization=self.world.ours.organization,
            actor=self.actor,
            lines=[LineInput(item=self.world.item, quantity=Decimal(10), unit="kg")],
            external_reference="PO-ROLES-0",
            exporter=self.world.ours.exporter,
            consignee_name="Rheinland Motoren GmbH",
            consignee_country="DE",
            destination_country="DE",
            required_ship_date=self.today + dt.timedelta(days=30),
        )

    @cached_property
    def rule(self) -> ThresholdRule:
        return threshold_rule_create(
            organization=self.world.ours.organization,
            levels=[LevelInput(level="warning", after=10)],
            actor=self.actor,
            name="Our magnets",
        )

    @cached_property
    def alert(self) -> DelayAlert:
        return DelayAlert.objects.create(
            organization=self.world.ours.organization,
            kind="delay_level",
            level="warning",
            application=self.draft,
            message="The wait reached 30 working days.",
            raised_at=timezone.now(),
        )

    @cached_property
    def endpoint(self) -> WebhookEndpoint:
        return WebhookEndpoint.objects.create(
            organization=self.world.ours.organization,
            url="http://127.0.0.1:9/ours",
            secret=secret_generate(),
        )

    @cached_property
    def delivery(self) -> WebhookDelivery:
        endpoint = self.endpoint
        webhook_events_record(
            organization=self.world.ours.organization, event_type="alert.raised", data={}
        )
        return WebhookDelivery.objects.get(endpoint=endpoint)

    def shipment_body(self, **overrides) -> dict:
        return {
            "external_reference": "PO-ROLES-1",
            "exporter": str(self.world.ours.exporter.pk),
            "consignee": {"name": "Rheinland Motoren GmbH", "country": "DE"},
            "destination_country": "DE",
            "required_ship_date": str(self.today + dt.timedelta(days=30)),
            "lines": [{"item": "1C905", "quantity": "400", "unit": "kg"}],
        } | overrides


def endpoint_body() -> dict:
    return {"url": "http://127.0.0.1:9/roles", "description": "ERP bridge", "event_types": []}


@dataclass(frozen=True)
class Route:
    """A write request: where it goes, its body, and the row it would change (None: a create)."""

    path: Callable[[Scene], str]
    body: Callable[[Scene], dict | None] = lambda scene: None
    target: Callable[[Scene], object] | None = None


def detail(collection: str, row: Callable[[Scene], object]) -> Callable[[Scene], str]:
    return lambda scene: f"{API}{collection}/{row(scene).pk}/"


ROUTES: dict[str, Route] = {
    "POST exporters/": Route(lambda s: f"{API}exporters/", lambda s: exporter_body()),
    "PUT exporters/{id}/": Route(
        detail("exporters", lambda s: s.spare_exporter),
        lambda s: exporter_body(name="Renamed"),
        lambda s: s.spare_exporter,
    ),
    "PATCH exporters/{id}/": Route(
        detail("exporters", lambda s: s.spare_exporter),
        lambda s: {"contact_name": "Li Wei"},
        lambda s: s.spare_exporter,
    ),
    "DELETE exporters/{id}/": Route(
        detail("exporters", lambda s: s.spare_exporter), target=lambda s: s.spare_exporter
    ),
    "POST license-applications/": Route(
        lambda s: f"{API}license-applications/", lambda s: application_body(s.world)
    ),
    "PUT license-applications/{id}/": Route(
        detail("license-applications", lambda s: s.draft),
        lambda s: application_body(s.world, end_use="Servo motors."),
        lambda s: s.draft,
    ),
    "PATCH license-applications/{id}/": Route(
        detail("license-applications", lambda s: s.draft),
        lambda s: {"end_use": "Servo motors."},
        lambda s: s.draft,
    ),
    "DELETE license-applications/{id}/": Route(
        detail("license-applications", lambda s: s.draft), target=lambda s: s.draft
    ),
    "POST license-applications/{id}/transitions/": Route(
        lambda s: f"{API}license-applications/{s.under_review.pk}/transitions/",
        lambda s: {"to": "withdrawn"},
        lambda s: s.under_review,
    ),
    "POST license-applications/{id}/clock-stops/": Route(
        lambda s: f"{API}license-applications/{s.under_review.pk}/clock-stops/",
        lambda s: {"kind": "expert_review", "started_on": str(s.today)},
        lambda s: s.under_review,
    ),
    "PATCH license-applications/{id}/clock-stops/{stop_id}/": Route(
        lambda s: (
            f"{API}license-applications/{s.open_clock_stop.application_id}"
            f"/clock-stops/{s.open_clock_stop.pk}/"
        ),
        lambda s: {"ended_on": str(s.today)},
        lambda s: s.open_clock_stop,
    ),
    "POST shipments/": Route(lambda s: f"{API}shipments/", lambda s: s.shipment_body()),
    "PUT shipments/{id}/": Route(
        detail("shipments", lambda s: s.shipment),
        lambda s: s.shipment_body(destination_country="AT"),
        lambda s: s.shipment,
    ),
    "PATCH shipments/{id}/": Route(
        detail("shipments", lambda s: s.shipment),
        lambda s: {"required_ship_date": str(s.today + dt.timedelta(days=60))},
        lambda s: s.shipment,
    ),
    "DELETE shipments/{id}/": Route(
        detail("shipments", lambda s: s.shipment), target=lambda s: s.shipment
    ),
    "POST shipments/{id}/transitions/": Route(
        lambda s: f"{API}shipments/{s.shipment.pk}/transitions/",
        lambda s: {"to": "cancelled"},
        lambda s: s.shipment,
    ),
    "POST threshold-rules/": Route(lambda s: f"{API}threshold-rules/", lambda s: rule_body()),
    "PUT threshold-rules/{id}/": Route(
        detail("threshold-rules", lambda s: s.rule),
        lambda s: rule_body(name="Stricter"),
        lambda s: s.rule,
    ),
    "PATCH threshold-rules/{id}/": Route(
        detail("threshold-rules", lambda s: s.rule),
        lambda s: {"name": "Stricter"},
        lambda s: s.rule,
    ),
    "DELETE threshold-rules/{id}/": Route(
        detail("threshold-rules", lambda s: s.rule), target=lambda s: s.rule
    ),
    "POST alerts/{id}/acknowledge/": Route(
        lambda s: f"{API}alerts/{s.alert.pk}/acknowledge/",
        lambda s: {"note": "Calling MOFCOM."},
        lambda s: s.alert,
    ),
    "POST webhook-endpoints/": Route(
        lambda s: f"{API}webhook-endpoints/", lambda s: endpoint_body()
    ),
    "PUT webhook-endpoints/{id}/": Route(
        detail("webhook-endpoints", lambda s: s.endpoint),
        lambda s: endpoint_body() | {"description": "Planning tool"},
        lambda s: s.endpoint,
    ),
    "PATCH webhook-endpoints/{id}/": Route(
        detail("webhook-endpoints", lambda s: s.endpoint),
        lambda s: {"description": "Planning tool"},
        lambda s: s.endpoint,
    ),
    "DELETE webhook-endpoints/{id}/": Route(
        detail("webhook-endpoints", lambda s: s.endpoint), target=lambda s: s.endpoint
    ),
    "POST webhook-endpoints/{id}/rotate-secret/": Route(
        lambda s: f"{API}webhook-endpoints/{s.endpoint.pk}/rotate-secret/",
        target=lambda s: s.endpoint,
    ),
    "POST webhook-endpoints/{id}/test/": Route(
        lambda s: f"{API}webhook-endpoints/{s.endpoint.pk}/test/", target=lambda s: s.endpoint
    ),
    "POST webhook-endpoints/{id}/deliveries/{delivery_id}/redeliver/": Route(
        lambda s: f"{API}webhook-endpoints/{s.endpoint.pk}/deliveries/{s.delivery.pk}/redeliver/",
        target=lambda s: s.delivery,
    ),
}


@pytest.fixture(autouse=True)
def loopback_webhooks(settings, monkeypatch):
    """Endpoints on loopback are allowed, and deliveries are queued, never sent."""
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda *args, **kwargs: None)


@pytest.fixture
def scene(world) -> Scene:
    return Scene(world)


def staff_client(django_user_model, world: World, username: str, *, group: str = "", **flags):
    """A logged-in session of a staff user who is a member of our organization only."""
    user = django_user_model.objects.create_user(
        username=username, password="unused-password", is_staff=True, **flags
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    world.ours.organization.members.add(user)
    client = APIClient()
    client.force_login(user)
    return client


def client_of(principal: str, world: World, django_user_model) -> APIClient:
    if principal == "auditor":
        return staff_client(django_user_model, world, "auditor-ben", group=AUDITOR)
    if principal == "officer":
        return staff_client(django_user_model, world, "officer-ana", group=COMPLIANCE_OFFICER)
    if principal == "superuser":
        return staff_client(django_user_model, world, "root", is_superuser=True)
    if principal == "read_only_key":
        return world.ours.read_only_client()
    return world.ours.api


# --- the table, cell by cell ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "principal"),
    [
        pytest.param(route, principal, id=f"{route} as {principal}")
        for route in CELLS
        for principal in PRINCIPALS
    ],
)
def test_a_write_answers_what_the_callers_role_allows(scene, django_user_model, route, principal):
    assert route in SCHEMA_ROUTES, f"{route} is not a write route of {SCHEMA.name}"
    assert route in EXPECTED and route in ROUTES, f"{route}: add its row to EXPECTED and ROUTES"
    expected = EXPECTED[route][PRINCIPALS.index(principal)]
    method = route.split()[0].lower()
    spec = ROUTES[route]
    client = client_of(principal, scene.world, django_user_model)
    target = spec.target(scene) if spec.target else None
    before, counts = (frozen(target) if target else None), table_counts()
    headers = {"HTTP_IF_MATCH": "*"} if method in ("put", "patch", "delete") else {}
    body = spec.body(scene)

    if body is None:
        response = getattr(client, method)(spec.path(scene), **headers)
    else:
        response = getattr(client, method)(spec.path(scene), body, format="json", **headers)

    if expected != 403:
        assert response.status_code == expected, (response.status_code, response.content[:800])
        return
    assert_problem(response, 403, "permission_denied")
    assert "whsec_" not in response.content.decode()
    if target is not None:
        assert frozen(target) == before
    assert table_counts() == counts


# --- what the denial says, and reads ----------------------------------------------------------


def test_a_denied_write_names_the_permission_it_needs(scene, django_user_model):
    client = client_of("officer", scene.world, django_user_model)

    response = client.delete(f"{API}exporters/{scene.spare_exporter.pk}/", HTTP_IF_MATCH="*")

    detail = assert_problem(response, 403, "permission_denied")["detail"]
    assert "delete exporters" in detail
    assert "licensing.delete_exporter" in detail


def test_rotating_a_secret_as_an_officer_reveals_nothing_and_keeps_the_secret(
    scene, django_user_model
):
    client = client_of("officer", scene.world, django_user_model)
    secret = scene.endpoint.secret

    response = client.post(f"{API}webhook-endpoints/{scene.endpoint.pk}/rotate-secret/")

    detail = assert_problem(response, 403, "permission_denied")["detail"]
    assert "licensing.change_webhookendpoint" in detail
    assert "whsec_" not in response.content.decode()
    scene.endpoint.refresh_from_db()
    assert scene.endpoint.secret == secret


READS = [
    "exporters/",
    "license-applications/",
    "shipments/",
    "threshold-rules/",
    "alerts/",
    "webhook-endpoints/",
    "authorities/",
    "controlled-items/",
    "stats/lead-times/",
]


@pytest.mark.parametrize("path", READS)
def test_a_read_needs_the_view_permission(scene, django_user_model, path):
    """As in the admin: an Auditor views everything, a staff user without a role nothing."""
    auditor = client_of("auditor", scene.world, django_user_model)
    no_role = staff_client(django_user_model, scene.world, "no-role")

    assert auditor.get(f"{API}{path}").status_code == 200
    response = no_role.get(f"{API}{path}")
    assert "to view" in assert_problem(response, 403, "permission_denied")["detail"]
