"""The API contract (tests/api/contract.py) applied to every v1 resource.

Each class describes one resource; the tests come from the contract. Tests that only one
resource needs (acknowledging an alert, the key command) follow its description.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.actors import Actor
from licensing.models import (
    ControlledItem,
    ControlPeriod,
    Exporter,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    OrganizationAPIKey,
    Shipment,
)
from licensing.models.delays import DelayAlert, ThresholdRule
from licensing.services.applications import clock_stop_record
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create
from licensing.services.threshold_rules import LevelInput, threshold_rule_create
from tests.api.contract import (
    Action,
    FilterProbe,
    ReadOnlyContract,
    TenancyContract,
    World,
    WriteContract,
    an_hour_ago,
    assert_problem,
    frozen,
    ids,
    key_client,
    ok,
    serial,
    table_counts,
)
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    LicensingAuthorityFactory,
    application_in_status,
    valid_uscc,
)

ACTOR = Actor.system("contract tests")
TODAY = timezone.localdate()
IN_A_MONTH = TODAY + dt.timedelta(days=30)
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


# --- request bodies (also used by test_idempotency and test_errors) ----------------------------


def exporter_body(**overrides) -> dict:
    return {
        "name": "Baotou Rare Earth Trading Co., Ltd.",
        "country": "CN",
        "registration_number": valid_uscc("91150200700012345"),
        "address": "Baotou, Inner Mongolia",
        "contact_email": "sales@example.cn",
    } | overrides


def application_body(world: World, **overrides) -> dict:
    return {
        "exporter": str(world.ours.exporter.pk),
        "authority": "CN-MOFCOM",
        "license_type": "general",
        "end_user": {"name": "Rheinland Motoren GmbH", "country": "DE", "address": "Köln"},
        "end_use": "Manufacture of permanent-magnet motors.",
        "destination_country": "DE",
        "lines": [
            {
                "item": "1C905",
                "quantity": "1000",
                "unit": "kg",
                "value": "250000",
                "currency": "USD",
            }
        ],
    } | overrides


def shipment_body(world: World, **overrides) -> dict:
    return {
        "external_reference": "PO-CONTRACT-1",
        "exporter": str(world.ours.exporter.pk),
        "consignee": {"name": "Rheinland Motoren GmbH", "country": "DE"},
        "destination_country": "DE",
        "required_ship_date": IN_A_MONTH.isoformat(),
        "lines": [{"item": "1C905", "quantity": "400", "unit": "kg"}],
    } | overrides


def rule_body(**overrides) -> dict:
    return {
        "name": "Gallium to Japan",
        "material_family": "gallium",
        "destination_country": "JP",
        "levels": [
            {"level": "warning", "after": 20, "unit": "working_days"},
            {"level": "overdue", "at_statutory_deadline": True},
        ],
        "lead_buffer_days": 7,
    } | overrides


def exporter_id(world: World, row) -> str:
    return str(world.ours.exporter.pk)


# --- exporters --------------------------------------------------------------------------------


class TestExporters(WriteContract):
    list_url = "/api/v1/exporters/"
    model = Exporter
    orderings = ("created_at", "updated_at", "name")
    checked_fields = ("name", "country", "registration_number", "address", "contact_email")
    filters = (
        FilterProbe("country", "CN", "XX"),
        FilterProbe("updated_since", lambda world, row: an_hour_ago(), "yesterday", time=True),
        FilterProbe("search", lambda world, row: row.name[-12:], "s" * 201),
    )

    def make(self, world, tenant):
        return ExporterFactory(
            organization=tenant.organization, name=f"Ganzhou Contract Metals {next(serial)}"
        )

    def make_many(self, world, tenant, count):
        rows = Exporter.objects.bulk_create(
            Exporter(
                organization=tenant.organization,
                name=f"Exporter {index:04d}",
                country="DE",
                registration_number=f"HRB {next(serial)}",
            )
            for index in range(count)
        )
        return [row.pk for row in rows]

    def create_body(self, world):
        return exporter_body()

    def update_body(self, world):
        return {"contact_name": "Li Wei", "address": "Baotou, Kundulun District"}


# --- license applications ---------------------------------------------------------------------


class TestLicenseApplications(WriteContract):
    list_url = "/api/v1/license-applications/"
    model = LicenseApplication
    checked_fields = (
        "exporter",
        "authority",
        "license_type",
        "end_user",
        "end_use",
        "destination_country",
    )
    filters = (
        FilterProbe("status", "draft", "shelved", several="withdrawn"),
        FilterProbe("exporter", exporter_id, "exporter-1"),
        FilterProbe("authority", "CN-MOFCOM", "A" * 21),
        FilterProbe("item", "1C905", "1" * 31),
        FilterProbe("material_family", "rare_earth", "unobtainium"),
        FilterProbe("destination_country", "DE", "XX"),
        FilterProbe("updated_since", lambda world, row: an_hour_ago(), "yesterday", time=True),
        FilterProbe("delay_level", "none", "late", several="overdue"),
        FilterProbe("at_risk", "false", "perhaps"),
        FilterProbe("search", lambda world, row: row.exporter.name[-10:], "s" * 201),
    )

    def make(self, world, tenant):
        return LicenseApplicationFactory(
            organization=tenant.organization,
            exporter=tenant.exporter,
            authority=world.authority,
            line__item=world.item,
        )

    def make_many(self, world, tenant, count):
        rows = LicenseApplication.objects.bulk_create(
            LicenseApplication(
                organization=tenant.organization,
                exporter=tenant.exporter,
                authority=world.authority,
                license_type="single",
                end_user_name="Rheinland Motoren GmbH",
                end_user_country="DE",
                end_use="Motors.",
                destination_country="DE",
            )
            for _ in range(count)
        )
        return [row.pk for row in rows]

    def actions(self, world, tenant):
        application = application_in_status(
            "under_review",
            organization=tenant.organization,
            exporter=tenant.exporter,
            authority=world.authority,
            line__item=world.item,
        )
        stop = clock_stop_record(
            application=application, kind="expert_review", started_on=TODAY, actor=ACTOR
        )
        return application, [
            Action("get", "transitions/"),
            Action("post", "transitions/", {"to": "withdrawn"}),
            Action("get", "clock-stops/"),
            Action("post", "clock-stops/", {"kind": "expert_review", "started_on": str(TODAY)}),
            Action("patch", f"clock-stops/{stop.pk}/", {"ended_on": str(TODAY)}),
        ]

    def create_body(self, world):
        return application_body(world)

    def update_body(self, world):
        return {"end_use": "Servo motors for industrial robots.", "destination_country": "AT"}

    def nested_unknown(self, world):
        body = application_body(world)
        body["lines"][0]["colour"] = "red"
        return body, "/lines/0/colour"

    def read_only_changes(self, current):
        return super().read_only_changes(current) | {"status": "approved"}

    def change_computed_fields(self, pk):
        # As the delay scan does: no new version.
        LicenseApplication.objects.filter(pk=pk).update(delay_level="critical")

    def test_patch_escalated_is_a_400_that_points_to_is_escalated(self, world):
        created, response = self.create(world)
        url = response["Location"]
        before = frozen(LicenseApplication.objects.get(pk=created["id"]))

        typo = world.ours.api.patch(url, {"escalated": True}, format="json", HTTP_IF_MATCH='"1"')

        body = assert_problem(typo, 400, "invalid")
        assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
            ("/escalated", "unknown_field")
        ]
        assert "Did you mean is_escalated?" in body["errors"][0]["detail"]
        assert frozen(LicenseApplication.objects.get(pk=created["id"])) == before
        fixed = world.ours.api.patch(
            url, {"is_escalated": True}, format="json", HTTP_IF_MATCH='"1"'
        )
        assert ok(fixed)["is_escalated"] is True

    def test_an_unknown_field_of_the_end_user_is_a_400_at_its_pointer(self, world):
        counts = table_counts()
        body = application_body(world)
        body["end_user"]["adress"] = "Köln"
        response = world.ours.api.post(self.list_url, body, format="json")
        error = assert_problem(response, 400, "invalid")["errors"]
        assert [(e["pointer"], e["code"]) for e in error] == [("/end_user/adress", "unknown_field")]
        assert "Did you mean address?" in error[0]["detail"]
        assert table_counts() == counts

    def test_a_submitted_application_takes_its_get_body_back(self, world):
        application = application_in_status(
            "submitted",
            organization=world.ours.organization,
            exporter=world.ours.exporter,
            authority=world.authority,
            line__item=world.item,
        )
        read = world.ours.api.get(self.detail_url(application))
        current = ok(read)
        put = world.ours.api.put(
            self.detail_url(application),
            current | {"authority_reference": "MOFCOM-2026-0001"},
            format="json",
            HTTP_IF_MATCH=read["ETag"],
        )
        assert ok(put)["authority_reference"] == "MOFCOM-2026-0001"
        assert ok(put)["status"] == "submitted"

    def test_a_clock_stop_takes_its_read_only_fields_only_as_null(self, world):
        application, _ = self.actions(world, world.ours)
        url = f"{self.detail_url(application)}clock-stops/"
        counts = table_counts()
        body = {"kind": "expert_review", "started_on": str(TODAY)}
        response = world.ours.api.post(url, body | {"actor": "me"}, format="json")
        error = assert_problem(response, 400, "invalid")["errors"]
        assert [(e["pointer"], e["code"]) for e in error] == [("/actor", "read_only_field")]
        assert table_counts() == counts
        ok(world.ours.api.post(url, body | {"actor": None}, format="json"), 201)

    def test_the_delay_level_filter_takes_overdue_comma_critical(self, world):
        late = self.make(world, world.ours)
        LicenseApplication.objects.filter(pk=late.pk).update(delay_level="critical")
        on_time = self.make(world, world.ours)
        page = self.list_page(world.ours.api, delay_level="overdue,critical")
        assert str(late.pk) in ids(page["results"])
        assert str(on_time.pk) not in ids(page["results"])


# --- shipments --------------------------------------------------------------------------------


class TestShipments(WriteContract):
    list_url = "/api/v1/shipments/"
    model = Shipment
    orderings = ("created_at", "updated_at", "required_ship_date")
    tie_fields = ("created_at", "updated_at", "required_ship_date")
    checked_fields = (
        "external_reference",
        "exporter",
        "consignee",
        "destination_country",
        "required_ship_date",
    )
    filters = (
        FilterProbe("status", "awaiting_license", "lost", several="cancelled"),
        FilterProbe("exporter", exporter_id, "exporter-1"),
        FilterProbe("authority", "CN-MOFCOM", "A" * 21),
        FilterProbe("item", "1C905", "1" * 31),
        FilterProbe("material_family", "rare_earth", "unobtainium"),
        FilterProbe("destination_country", "DE", "XX"),
        FilterProbe(
            "required_ship_date_after",
            str(TODAY),
            "soon",
            pointer="/required_ship_date",
        ),
        FilterProbe(
            "required_ship_date_before",
            str(TODAY + dt.timedelta(days=365)),
            "2025-13-01",
            pointer="/required_ship_date",
        ),
        FilterProbe("license_application", UNKNOWN_ID, "LIC-1", matches=False),
        FilterProbe("updated_since", lambda world, row: an_hour_ago(), "yesterday", time=True),
        FilterProbe("delay_level", "none", "late", several="critical"),
        # Without a license the decision cannot come before the ship date: at risk.
        FilterProbe("at_risk", "true", "perhaps"),
        FilterProbe("search", lambda world, row: row.external_reference, "s" * 201),
    )

    def make(self, world, tenant):
        return shipment_create(
            organization=tenant.organization,
            actor=ACTOR,
            lines=[LineInput(item=world.item, quantity=Decimal(10), unit="kg")],
            external_reference=f"PO-MADE-{next(serial)}",
            exporter=tenant.exporter,
            consignee_name="Rheinland Motoren GmbH",
            consignee_country="DE",
            destination_country="DE",
            required_ship_date=IN_A_MONTH,
        )

    def make_many(self, world, tenant, count):
        rows = Shipment.objects.bulk_create(
            Shipment(
                organization=tenant.organization,
                external_reference=f"PO-BULK-{next(serial)}",
                exporter=tenant.exporter,
                consignee_name="Rheinland Motoren GmbH",
                consignee_country="DE",
                destination_country="DE",
                required_ship_date=IN_A_MONTH,
            )
            for _ in range(count)
        )
        return [row.pk for row in rows]

    def actions(self, world, tenant):
        return self.make(world, tenant), [
            Action("get", "transitions/"),
            Action("post", "transitions/", {"to": "cancelled"}),
        ]

    def create_body(self, world):
        return shipment_body(world)

    def update_body(self, world):
        return {"required_ship_date": str(IN_A_MONTH + dt.timedelta(days=14))}

    def replace_body(self, world, current):
        return shipment_body(
            world,
            consignee={"name": "Kansai Precision Tools K.K.", "country": "JP"},
            destination_country="JP",
        )

    def nested_unknown(self, world):
        body = shipment_body(world)
        body["consignee"]["email"] = "goods-in@example.de"
        return body, "/consignee/email"

    def read_only_changes(self, current):
        return super().read_only_changes(current) | {"status": "shipped", "shipped_on": str(TODAY)}

    def change_computed_fields(self, pk):
        # As the delay scan does: no new version.
        Shipment.objects.filter(pk=pk).update(at_risk=not Shipment.objects.get(pk=pk).at_risk)


# --- threshold rules --------------------------------------------------------------------------


class TestThresholdRules(WriteContract):
    list_url = "/api/v1/threshold-rules/"
    model = ThresholdRule
    orderings = ("created_at", "updated_at", "name")
    checked_fields = ("name", "material_family", "destination_country", "lead_buffer_days")

    def make(self, world, tenant):
        return threshold_rule_create(
            organization=tenant.organization,
            levels=[LevelInput(level="warning", after=10), LevelInput(level="critical", after=20)],
            actor=ACTOR,
            name=f"Rule {next(serial)}",
            exporter=tenant.exporter,
            item=world.item,
        )

    def make_many(self, world, tenant, count):
        rows = ThresholdRule.objects.bulk_create(
            ThresholdRule(organization=tenant.organization, name=f"Bulk rule {next(serial)}")
            for _ in range(count)
        )
        return [row.pk for row in rows]

    def create_body(self, world):
        return rule_body()

    def update_body(self, world):
        return {"name": "Gallium to Japan, stricter", "levels": [{"level": "warning", "after": 5}]}

    def nested_unknown(self, world):
        body = rule_body()
        body["levels"][1]["days"] = 30
        return body, "/levels/1/days"

    def read_only_changes(self, current):
        return super().read_only_changes(current) | {"is_default": True}

    def test_the_default_rules_are_listed_but_not_writable(self, world):
        default = ThresholdRule.objects.create(name="Everyone's default")
        url = self.detail_url(default)
        assert ok(world.ours.api.get(url))["is_default"] is True
        assert str(default.pk) in [
            row["id"] for row in self.list_page(world.ours.api, page_size=500)["results"]
        ]
        before = frozen(default)
        assert_problem(
            world.ours.api.patch(url, {"name": "Mine"}, format="json", HTTP_IF_MATCH="*"),
            404,
            "not_found",
        )
        assert_problem(world.ours.api.delete(url, HTTP_IF_MATCH="*"), 404, "not_found")
        assert frozen(default) == before


# --- alerts -----------------------------------------------------------------------------------


class TestAlerts(ReadOnlyContract, TenancyContract):
    list_url = "/api/v1/alerts/"
    model = DelayAlert
    default_ordering = "-raised_at"
    orderings = ("raised_at", "created_at")
    tie_fields = ("raised_at", "created_at")
    filters = (
        FilterProbe("kind", "delay_level", "late", several="at_risk"),
        FilterProbe("level", "warning", "apocalyptic", several="critical"),
        FilterProbe("state", "open", "closed"),
        FilterProbe("exporter", exporter_id, "exporter-1"),
        FilterProbe("authority", "CN-MOFCOM", "A" * 21),
        FilterProbe("raised_after", lambda world, row: an_hour_ago(), "soon", time=True),
    )

    def make(self, world, tenant):
        application = LicenseApplicationFactory(
            organization=tenant.organization,
            exporter=tenant.exporter,
            authority=world.authority,
            line__item=world.item,
        )
        alert = DelayAlert.objects.create(
            organization=tenant.organization,
            kind="delay_level",
            level="warning",
            application=application,
            message="The wait reached 30 working days.",
            raised_at=timezone.now(),
        )
        alert.shipments.add(TestShipments().make(world, tenant))
        return alert

    def make_many(self, world, tenant, count):
        application = LicenseApplicationFactory(
            organization=tenant.organization, exporter=tenant.exporter, authority=world.authority
        )
        rows = DelayAlert.objects.bulk_create(
            DelayAlert(
                organization=tenant.organization,
                kind="delay_level",
                level="warning",
                repeat_index=index,
                application=application,
                message=f"Repeat {index}.",
                raised_at=timezone.now(),
            )
            for index in range(count)
        )
        return [row.pk for row in rows]

    def actions(self, world, tenant):
        return self.make(world, tenant), [Action("post", "acknowledge/", {"note": "Seen."})]

    def test_acknowledging_keeps_the_first_acknowledgement(self, world):
        alert = self.make(world, world.ours)
        url = f"{self.detail_url(alert)}acknowledge/"

        first = ok(world.ours.api.post(url, {"note": "Calling MOFCOM."}, format="json"))
        assert first["state"] == "acknowledged"
        assert first["acknowledge_note"] == "Calling MOFCOM."
        assert first["acknowledged_by"].startswith("api-key:erp")
        again = ok(world.ours.api.post(url, {"note": "Again."}, format="json"))
        assert (again["acknowledged_at"], again["acknowledge_note"]) == (
            first["acknowledged_at"],
            "Calling MOFCOM.",
        )
        assert [
            row["id"] for row in self.list_page(world.ours.api, state="acknowledged")["results"]
        ] == [str(alert.pk)]

    def test_a_read_only_key_cannot_acknowledge(self, world):
        alert = self.make(world, world.ours)
        before = frozen(alert)
        response = world.ours.read_only_client().post(
            f"{self.detail_url(alert)}acknowledge/", {}, format="json"
        )
        assert_problem(response, 403, "permission_denied")
        assert frozen(alert) == before

    def test_an_acknowledgement_note_is_validated(self, world):
        alert = self.make(world, world.ours)
        url = f"{self.detail_url(alert)}acknowledge/"
        for note in ("x" * 2001, {"text": "x"}, ["x"]):
            body = assert_problem(world.ours.api.post(url, {"note": note}, format="json"), 400)
            assert {error["pointer"] for error in body["errors"]} == {"/note"}
        assert frozen(alert)["acknowledged_at"] is None


# --- the catalogues ---------------------------------------------------------------------------


class TestAuthorities(ReadOnlyContract):
    list_url = "/api/v1/authorities/"
    model = LicensingAuthority
    lookup = "code"
    default_ordering = "code"
    orderings = ("code",)
    tie_fields = ()
    walk_page_size = 7

    def make(self, world, tenant):
        return LicensingAuthorityFactory(code=f"T-{next(serial)}", country="JP")

    def make_many(self, world, tenant, count):
        rows = LicensingAuthority.objects.bulk_create(
            LicensingAuthority(
                code=f"TB-{next(serial):05d}",
                name="Test authority",
                country="JP",
                review_period=90,
                review_period_unit="calendar_days",
                clock_start_event="submitted",
                calendar_country="JP",
            )
            for _ in range(count)
        )
        return [row.pk for row in rows]

    def test_every_organization_reads_the_same_catalogue(self, world):
        self.make(world, world.ours)
        assert self.list_page(world.ours.api, page_size=500) == self.list_page(
            world.theirs.api, page_size=500
        )


class TestControlledItems(ReadOnlyContract):
    list_url = "/api/v1/controlled-items/"
    model = ControlledItem
    lookup = "control_code"
    default_ordering = "control_code"
    orderings = ("control_code",)
    tie_fields = ()
    walk_page_size = 11
    filters = (
        FilterProbe("authority", "CN-MOFCOM", "A" * 21),
        FilterProbe("material_family", "rare_earth", "unobtainium"),
    )

    def make(self, world, tenant):
        item = ControlledItemFactory(control_code=f"T-{next(serial)}", authority=world.authority)
        ControlPeriod.objects.create(item=item, starts_on=dt.date(2025, 4, 4))
        return item

    def make_many(self, world, tenant, count):
        rows = ControlledItem.objects.bulk_create(
            ControlledItem(
                control_code=f"TB-{next(serial):05d}",
                name="Test item",
                material_family="gallium",
                authority=world.authority,
            )
            for _ in range(count)
        )
        return [row.pk for row in rows]

    def test_an_item_shows_its_control_periods(self, world):
        item = self.make(world, world.ours)
        body = ok(world.ours.api.get(self.detail_url(item)))
        assert body["control_code"] == item.control_code
        assert body["authority"] == "CN-MOFCOM"
        assert body["control_periods"] == [
            {
                "announcement": None,
                "starts_on": "2025-04-04",
                "suspended_from": None,
                "suspended_until": None,
                "ends_on": None,
            }
        ]


# --- the key command --------------------------------------------------------------------------


KEY_SHAPE = re.compile(r"^[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}$")


def create_api_key(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_api_key_creates_the_organization_and_prints_the_key_last(world):
    output = create_api_key("--organization", "Nordic Magnets AB", "--name", "erp", "--read-only")

    organization = Organization.objects.get(name="Nordic Magnets AB")
    key = output.rstrip("\n").splitlines()[-1]
    assert KEY_SHAPE.match(key), output
    stored = OrganizationAPIKey.objects.get(organization=organization)
    assert (stored.name, stored.is_read_only, stored.revoked) == ("erp", True, False)

    # Stored hashed: the row holds the public prefix, never the secret.
    prefix, _, secret = key.partition(".")
    assert stored.prefix == prefix
    assert not any(secret in str(value) for value in frozen(stored).values())

    client = key_client(key)
    ok(client.get("/api/v1/exporters/"))
    response = client.post("/api/v1/exporters/", exporter_body(), format="json")
    assert_problem(response, 403, "permission_denied")
    assert not Exporter.objects.filter(organization=organization).exists()


@pytest.mark.django_db
def test_create_api_key_reuses_an_existing_organization(world):
    output = create_api_key("--organization", world.ours.organization.name)
    key = output.splitlines()[-1]

    assert Organization.objects.filter(name=world.ours.organization.name).count() == 1
    client = key_client(key)
    assert ok(client.get(TestExporters.list_url))["results"][0]["id"] == str(world.ours.exporter.pk)
    ok(client.post(TestExporters.list_url, exporter_body(), format="json"), 201)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ("--organization", ""),
        ("--organization", "   "),
        ("--organization", "X" * 201),
        ("--organization", "Bad\x00Name"),
        ("--organization", "Nordic Magnets AB", "--name", "n" * 51),
    ],
    ids=["empty", "blank", "too long", "NUL", "long name"],
)
def test_create_api_key_refuses_bad_arguments(args):
    before = (Organization.objects.count(), OrganizationAPIKey.objects.count())
    with pytest.raises(CommandError):
        create_api_key(*args)
    assert (Organization.objects.count(), OrganizationAPIKey.objects.count()) == before
