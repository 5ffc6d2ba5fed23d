"""Seed data for `make bench`, written with COPY (psycopg) in one transaction per database.

Table and column names come from the models (`_meta.db_table`, `field.column`); a column a
seeder does not mention is filled with the field's default (or NULL where allowed), so a new
nullable or defaulted column does not break the seed, and a new required one fails loudly.

Two shapes of data:
- the API database: two organizations, a pool of license applications, and 1,000,000
  shipments (plus 20,000 of a second organization, so tenancy filtering is real), each with
  1 to 3 lines;
- the delay databases: open (under review) CN-MOFCOM applications with their status history
  and one line each. Every row is a pure function of its index, so rows 0..N-1, the due
  ones, are the same rows (same ids, same clocks) in every delay database; they are written
  spread evenly through the table (copy_order), as rows that came due at random would lie.

A seed is identified by SEED_VERSION in its organization names: change the generators, bump
it, and the next run re-seeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models, transaction
from django.db.models.fields import AutoFieldMixin
from psycopg import sql

from core.calendars import WorkingCalendar, working_calendar
from core.uscc import USCC_ALPHABET, uscc_check_character
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ControlledItem,
    DelayAlert,
    Exporter,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    QuantityUnit,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    StatusChange,
)
from licensing.models.delays import ThresholdRule
from licensing.models.levels import DelayLevel

SEED_VERSION = "bench-seed-2"
UTC = dt.UTC

# -- the API database ---------------------------------------------------------------------------
API_SHIPMENTS = 1_000_000
API_OTHER_SHIPMENTS = 20_000
API_PENDING_APPLICATIONS = 10_000
API_APPROVED_APPLICATIONS = 10_000
API_OTHER_APPLICATIONS = 1_000
API_EXPORTERS = 200
API_OTHER_EXPORTERS = 20
ORGANIZATION = f"{SEED_VERSION} buyer (1,000,000 shipments)"
OTHER_ORGANIZATION = f"{SEED_VERSION} other buyer"

# -- the delay databases ------------------------------------------------------------------------
# The scan runs at this fixed instant (the `--now` of `scan_delays`), so seeded clocks never
# go stale: 12:00 in Beijing on a Wednesday, a few weeks after the Labour Day holiday.
SCAN_NOW = dt.datetime(2025, 6, 18, 4, 0, tzinfo=UTC)
SCAN_ORGANIZATION = f"{SEED_VERSION} scan org"
SCAN_EXPORTERS = 20
# A due application has waited 31-38 working days: past `warning` (30), short of `critical` (40).
DUE_WAITS = range(31, 39)
# A not-due application has waited 1-25 working days; its next check is its warning day.
OPEN_WAITS = range(1, 26)
MOFCOM = "CN-MOFCOM"

STATUSES = [
    (ShipmentStatus.AWAITING_LICENSE, 35),
    (ShipmentStatus.LICENSED, 20),
    (ShipmentStatus.SHIPPED, 15),
    (ShipmentStatus.DELIVERED, 25),
    (ShipmentStatus.ON_HOLD, 2),
    (ShipmentStatus.CANCELLED, 3),
]
COUNTRIES = ["DE", "FR", "NL", "IT", "JP", "KR", "US", "GB", "PL", "CZ", "SE", "ES"]
UNITS = [QuantityUnit.KILOGRAM, QuantityUnit.TONNE, QuantityUnit.GRAM]


# -- COPY ---------------------------------------------------------------------------------------


class CopyInto:
    """COPY rows into a model's table: `varying` columns per row, every other column constant.

    Names are attnames (`organization_id`). Constants not given come from the field's default
    (NULL or "" where the field allows blank); any other column left out is an error, raised
    before any row is sent.
    """

    def __init__(
        self,
        model: type[models.Model],
        varying: Sequence[str],
        constants: Mapping[str, Any] | None = None,
    ) -> None:
        constants = dict(constants or {})
        fields = [
            field for field in model._meta.concrete_fields if not isinstance(field, AutoFieldMixin)
        ]
        by_attname = {field.attname: field for field in fields}
        unknown = (set(varying) | set(constants)) - set(by_attname)
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        tail_fields = [field for field in fields if field.attname not in varying]
        tail = []
        for field in tail_fields:
            if field.attname in constants:
                value = constants[field.attname]
            elif field.has_default():
                value = field.get_default()
            elif field.null:
                value = None
            elif field.blank and field.empty_strings_allowed:
                value = ""
            else:
                raise ValueError(f"Seeding {model.__name__} needs a value for {field.attname}")
            tail.append(field.get_db_prep_save(value, connection))
        self.tail = tuple(tail)
        columns = [by_attname[name].column for name in varying] + [f.column for f in tail_fields]
        self.statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(model._meta.db_table),
            sql.SQL(", ").join(sql.Identifier(column) for column in columns),
        )

    def copy(self, rows: Iterable[Sequence[Any]]) -> int:
        count = 0
        tail = self.tail
        with connection.cursor() as cursor, cursor.copy(self.statement) as copy:
            for row in rows:
                copy.write_row((*row, *tail))
                count += 1
        return count


def vacuum(*models_: type[models.Model], analyze: bool = False) -> None:
    command = sql.SQL("VACUUM (ANALYZE) {}" if analyze else "VACUUM {}")
    with connection.cursor() as cursor:
        for model in models_:
            cursor.execute(command.format(sql.Identifier(model._meta.db_table)))


def table_count(model: type[models.Model]) -> int:
    return model.objects.count()


def stable_uuid(kind: str, index: int) -> uuid.UUID:
    """The same random-looking UUID for the same (kind, index) in every database."""
    digest = hashlib.md5(f"{SEED_VERSION}:{kind}:{index}".encode(), usedforsecurity=False)
    return uuid.UUID(bytes=digest.digest(), version=4)


def random_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def valid_uscc(rng: random.Random) -> str:
    body = "91" + "".join(rng.choice(USCC_ALPHABET) for _ in range(15))
    return body + uscc_check_character(body)


def make_exporters(
    organization: Organization, count: int, rng: random.Random, *, kind: str
) -> list[Exporter]:
    exporters = [
        Exporter(
            id=stable_uuid(f"{kind}-exporter", index) if kind else random_uuid(rng),
            organization=organization,
            name=f"Bench Rare Metals Co. {index:03d}",
            country="CN",
            registration_number=valid_uscc(rng),
            address=f"{index} Industrial Road, Baotou",
        )
        for index in range(count)
    ]
    return Exporter.objects.bulk_create(exporters)


def mofcom_items() -> list[ControlledItem]:
    return list(ControlledItem.objects.filter(authority__code=MOFCOM).order_by("control_code"))


def default_rule() -> ThresholdRule | None:
    """The rule the scan selects for a CN-MOFCOM application without a more specific one."""
    return (
        ThresholdRule.objects.filter(
            organization__isnull=True,
            authority__isnull=True,
            item__isnull=True,
            exporter__isnull=True,
            material_family="",
            destination_country="",
            is_active=True,
        )
        .order_by("created_at")
        .first()
    )


# -- the API database ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiDataset:
    organization_id: uuid.UUID
    other_organization_id: uuid.UUID
    shipments: int
    other_shipments: int


def shipment_line_count(index: int) -> int:
    """1 to 3 lines, 1.3 on average; a function of the index, so the total is known up front."""
    return 1 + (index % 4 == 0) + (index % 20 == 0)


def expected_api_counts() -> dict[str, int]:
    lines = sum(shipment_line_count(i) for i in range(API_SHIPMENTS)) + sum(
        shipment_line_count(i) for i in range(API_OTHER_SHIPMENTS)
    )
    return {
        "shipments": API_SHIPMENTS + API_OTHER_SHIPMENTS,
        "shipment lines": lines,
        "applications": API_PENDING_APPLICATIONS
        + API_APPROVED_APPLICATIONS
        + 2 * API_OTHER_APPLICATIONS,
    }


def api_counts() -> dict[str, int]:
    if not Organization.objects.filter(name=ORGANIZATION).exists():
        return {}
    return {
        "shipments": table_count(Shipment),
        "shipment lines": table_count(ShipmentLine),
        "applications": table_count(LicenseApplication),
    }


def api_dataset() -> ApiDataset:
    organization = Organization.objects.get(name=ORGANIZATION)
    other = Organization.objects.get(name=OTHER_ORGANIZATION)
    return ApiDataset(
        organization_id=organization.pk,
        other_organization_id=other.pk,
        shipments=Shipment.objects.filter(organization=organization).count(),
        other_shipments=Shipment.objects.filter(organization=other).count(),
    )


@dataclass(frozen=True)
class PoolApplication:
    id: uuid.UUID
    exporter_id: uuid.UUID
    destination_country: str
    lines: tuple[tuple[int, str], ...]  # (item id, unit)


def _seed_application_pool(
    *,
    organization: Organization,
    exporters: list[Exporter],
    pending: int,
    approved: int,
    items: list[ControlledItem],
    authority: LicensingAuthority,
    rng: random.Random,
    now: dt.datetime,
    copies: dict[str, CopyInto],
) -> tuple[list[PoolApplication], list[PoolApplication]]:
    """Applications shipments link to: `pending` under review and `approved` ones."""
    pool: dict[str, list[PoolApplication]] = {"pending": [], "approved": []}
    application_rows, change_rows, line_rows = [], [], []
    for index in range(pending + approved):
        kind = "pending" if index < pending else "approved"
        application_id = random_uuid(rng)
        exporter = rng.choice(exporters)
        destination = rng.choice(COUNTRIES)
        submitted = now - dt.timedelta(days=rng.uniform(20, 300))
        accepted = submitted + dt.timedelta(days=rng.uniform(1, 5))
        review = accepted + dt.timedelta(days=1)
        steps = [
            (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, submitted),
            (ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED, accepted),
            (ApplicationStatus.ACCEPTED, ApplicationStatus.UNDER_REVIEW, review),
        ]
        license_number, valid_from, valid_until, decided = "", None, None, None
        if kind == "approved":
            decided = min(review + dt.timedelta(days=rng.uniform(10, 60)), now)
            steps.append((ApplicationStatus.UNDER_REVIEW, ApplicationStatus.APPROVED, decided))
            license_number = f"LIC-{index:06d}"
            valid_from = decided.date()
            valid_until = valid_from + dt.timedelta(days=365)
        status = steps[-1][1]
        lines = tuple(
            (rng.choice(items).pk, rng.choice(UNITS)) for _ in range(1 + (index % 3 == 0))
        )
        application_rows.append(
            (
                application_id,
                submitted - dt.timedelta(days=2),
                steps[-1][2],
                exporter.pk,
                status,
                destination,
                f"MOFCOM-{application_id.hex[:10]}",
                license_number,
                valid_from,
                valid_until,
                submitted,
                accepted,
                accepted,
                decided,
                len(steps) + 1,
            )
        )
        for from_status, to_status, occurred in steps:
            change_rows.append((random_uuid(rng), application_id, from_status, to_status, occurred))
        for position, (item_id, unit) in enumerate(lines):
            line_rows.append((application_id, position, item_id, Decimal(5000), unit))
        pool[kind].append(PoolApplication(application_id, exporter.pk, destination, lines))
    copies["applications"].copy(
        (row[0], row[1], row[2], organization.pk, authority.pk, *row[3:])
        for row in application_rows
    )
    copies["changes"].copy((*row, row[4]) for row in change_rows)
    copies["application lines"].copy(line_rows)
    return pool["pending"], pool["approved"]


def _shipment_rows(
    *,
    organization: Organization,
    count: int,
    exporters: list[Exporter],
    pending: list[PoolApplication],
    approved: list[PoolApplication],
    items: list[ControlledItem],
    rng: random.Random,
    now: dt.datetime,
    line_rows: list,
    prefix: str,
) -> Iterable[tuple]:
    statuses = [status for status, _ in STATUSES]
    weights = [weight for _, weight in STATUSES]
    # Created 30 s apart on average, the newest just before `now`: ~a year of shipments.
    spacing = dt.timedelta(seconds=30 * API_SHIPMENTS / count)
    first = now - spacing * count
    for index in range(count):
        status = rng.choices(statuses, weights)[0]
        if status == ShipmentStatus.AWAITING_LICENSE:
            application = rng.choice(pending) if rng.random() < 0.9 else None
        elif status in (ShipmentStatus.LICENSED, ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED):
            application = rng.choice(approved)
        else:
            application = rng.choice(pending) if rng.random() < 0.5 else None
        created = first + spacing * index + dt.timedelta(seconds=rng.uniform(0, 20))
        updated = min(created + dt.timedelta(days=rng.uniform(0, 10)), now)
        ship_date = created.date() + dt.timedelta(days=rng.randint(30, 120))
        shipped_on = delivered_on = None
        if status in (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED):
            shipped_on = ship_date
        if status == ShipmentStatus.DELIVERED:
            delivered_on = ship_date + dt.timedelta(days=12)
        if application is not None:
            exporter_id, destination = application.exporter_id, application.destination_country
            line_choices = application.lines
        else:
            exporter_id, destination = rng.choice(exporters).pk, rng.choice(COUNTRIES)
            line_choices = ((rng.choice(items).pk, rng.choice(UNITS)),)
        shipment_id = random_uuid(rng)
        for position in range(shipment_line_count(index)):
            item_id, unit = line_choices[position % len(line_choices)]
            line_rows.append(
                (shipment_id, position, item_id, Decimal(rng.randint(1, 400)) / 4, unit)
            )
        yield (
            shipment_id,
            created,
            updated,
            f"{prefix}-{index:07d}",
            exporter_id,
            destination,
            ship_date,
            status,
            application.id if application else None,
            shipped_on,
            delivered_on,
        )


def seed_api() -> None:
    """Two organizations, their exporters and application pools, and their shipments."""
    rng = random.Random(20250618)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    authority = LicensingAuthority.objects.get(code=MOFCOM)
    items = mofcom_items()
    copies = {
        "applications": CopyInto(
            LicenseApplication,
            [
                "id",
                "created_at",
                "updated_at",
                "organization_id",
                "authority_id",
                "exporter_id",
                "status",
                "destination_country",
                "authority_reference",
                "license_number",
                "valid_from",
                "valid_until",
                "submitted_at",
                "accepted_at",
                "clock_started_at",
                "decided_at",
                "version",
            ],
            {
                "license_type": "general",
                "end_user_name": "Rheinland Motoren GmbH",
                "end_user_country": "DE",
                "end_use": "Manufacture of permanent-magnet motors.",
            },
        ),
        "changes": CopyInto(
            StatusChange,
            ["id", "application_id", "from_status", "to_status", "occurred_at", "recorded_at"],
            {"actor_label": "bench seed"},
        ),
        "application lines": CopyInto(
            ApplicationLine, ["application_id", "position", "item_id", "quantity", "unit"]
        ),
    }
    shipments = CopyInto(
        Shipment,
        [
            "id",
            "created_at",
            "updated_at",
            "external_reference",
            "exporter_id",
            "destination_country",
            "required_ship_date",
            "status",
            "license_application_id",
            "shipped_on",
            "delivered_on",
            "organization_id",
        ],
        {
            "consignee_name": "Rheinland Motoren GmbH",
            "consignee_country": "DE",
            "consignee_address": "Industriestrasse 1, 50667 Koeln",
        },
    )
    shipment_lines = CopyInto(
        ShipmentLine, ["shipment_id", "position", "item_id", "quantity", "unit"]
    )
    with transaction.atomic():
        for name, count, exporter_count, pending, approved in (
            (
                ORGANIZATION,
                API_SHIPMENTS,
                API_EXPORTERS,
                API_PENDING_APPLICATIONS,
                API_APPROVED_APPLICATIONS,
            ),
            (
                OTHER_ORGANIZATION,
                API_OTHER_SHIPMENTS,
                API_OTHER_EXPORTERS,
                API_OTHER_APPLICATIONS,
                API_OTHER_APPLICATIONS,
            ),
        ):
            organization = Organization.objects.create(name=name)
            exporters = make_exporters(organization, exporter_count, rng, kind="")
            pending_pool, approved_pool = _seed_application_pool(
                organization=organization,
                exporters=exporters,
                pending=pending,
                approved=approved,
                items=items,
                authority=authority,
                rng=rng,
                now=now,
                copies=copies,
            )
            # Lines are collected while the shipments stream, then copied after them.
            line_rows: list = []
            rows = _shipment_rows(
                organization=organization,
                count=count,
                exporters=exporters,
                pending=pending_pool,
                approved=approved_pool,
                items=items,
                rng=rng,
                now=now,
                line_rows=line_rows,
                prefix="PO" if name == ORGANIZATION else "OTHER-PO",
            )
            shipments.copy((*row, organization.pk) for row in rows)
            shipment_lines.copy(line_rows)
    vacuum(LicenseApplication, StatusChange, ApplicationLine, Shipment, ShipmentLine, analyze=True)


# -- the delay databases ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockPoint:
    """Where an application that has waited `waited` working days stands at SCAN_NOW."""

    waited: int
    accepted_at: dt.datetime
    warning_on: dt.date
    deadline: dt.date
    next_check_at: dt.datetime


def clock_points(calendar: WorkingCalendar, zone: ZoneInfo) -> dict[int, ClockPoint]:
    """For each wait in DUE_WAITS and OPEN_WAITS: the acceptance that gives it at SCAN_NOW."""
    today = SCAN_NOW.astimezone(zone).date()
    points = {}
    for waited in (*OPEN_WAITS, *DUE_WAITS):
        day = today - dt.timedelta(days=1)
        while not (
            calendar.is_working_day(day) and calendar.working_days_between(day, today) == waited
        ):
            day -= dt.timedelta(days=1)
        warning_on = calendar.add_working_days(day, 30)
        points[waited] = ClockPoint(
            waited=waited,
            accepted_at=dt.datetime.combine(day, dt.time(10, 0), tzinfo=zone),
            warning_on=warning_on,
            deadline=calendar.add_working_days(day, 45),
            next_check_at=dt.datetime.combine(warning_on, dt.time.min, tzinfo=zone),
        )
    return points


def scan_wait(index: int, due: int) -> int:
    return DUE_WAITS[index % len(DUE_WAITS)] if index < due else OPEN_WAITS[index % len(OPEN_WAITS)]


def copy_order(open_applications: int, due: int) -> Iterator[int]:
    """Row indexes in the order they are written: the due rows (0..due-1) spread evenly
    through the table, as rows that came due at random would be, not packed on its first pages."""
    stride = max(open_applications // max(due, 1), 1)
    next_open = due
    for position in range(open_applications):
        if position % stride == 0 and position // stride < due:
            yield position // stride
        else:
            yield next_open
            next_open += 1


def expected_scan_counts(open_applications: int) -> dict[str, int]:
    return {
        "applications": open_applications,
        "status changes": 3 * open_applications,
        "application lines": open_applications,
    }


def scan_counts() -> dict[str, int]:
    if not Organization.objects.filter(name=SCAN_ORGANIZATION).exists():
        return {}
    return {
        "applications": table_count(LicenseApplication),
        "status changes": table_count(StatusChange),
        "application lines": table_count(ApplicationLine),
    }


def seed_scan(*, open_applications: int, due: int) -> None:
    """`open_applications` under review; the first `due` are due at SCAN_NOW (one new level each).

    The status history is real (submitted, accepted, under review), so the scan computes
    the clock from it. Delay fields are stored as the scan left them at the last check:
    level none, next threshold `warning` on its day, next check at that day's midnight.
    """
    authority = LicensingAuthority.objects.get(code=MOFCOM)
    zone = ZoneInfo(authority.time_zone)
    points = clock_points(working_calendar(authority.calendar_country), zone)
    rule = default_rule()
    items = mofcom_items()
    rng = random.Random(SEED_VERSION)
    applications = CopyInto(
        LicenseApplication,
        [
            "id",
            "created_at",
            "updated_at",
            "exporter_id",
            "destination_country",
            "authority_reference",
            "submitted_at",
            "accepted_at",
            "clock_started_at",
            "statutory_deadline",
            "next_threshold_on",
            "next_check_at",
            "organization_id",
        ],
        {
            "authority_id": authority.pk,
            "license_type": "single",
            "status": ApplicationStatus.UNDER_REVIEW,
            "end_user_name": "Rheinland Motoren GmbH",
            "end_user_country": "DE",
            "end_use": "Manufacture of permanent-magnet motors.",
            "version": 4,
            "delay_level": DelayLevel.NONE,
            "delay_rule_id": rule.pk if rule else None,
            "next_threshold_level": DelayLevel.WARNING,
        },
    )
    changes = CopyInto(
        StatusChange,
        ["id", "application_id", "from_status", "to_status", "occurred_at", "recorded_at"],
        {"actor_label": "bench seed"},
    )
    lines = CopyInto(
        ApplicationLine,
        ["application_id", "item_id", "quantity"],
        {"position": 0, "unit": QuantityUnit.KILOGRAM},
    )

    with transaction.atomic():
        organization = Organization.objects.create(
            id=stable_uuid("organization", 0), name=SCAN_ORGANIZATION
        )
        exporters = make_exporters(organization, SCAN_EXPORTERS, rng, kind="scan")

        def application_rows() -> Iterable[tuple]:
            for index in copy_order(open_applications, due):
                point = points[scan_wait(index, due)]
                submitted = point.accepted_at - dt.timedelta(days=3)
                yield (
                    stable_uuid("application", index),
                    submitted - dt.timedelta(days=1),
                    point.accepted_at + dt.timedelta(days=1),
                    exporters[index % SCAN_EXPORTERS].pk,
                    COUNTRIES[index % len(COUNTRIES)],
                    f"MOFCOM-{index:08d}",
                    submitted,
                    point.accepted_at,
                    point.accepted_at,
                    point.deadline,
                    point.warning_on,
                    point.next_check_at,
                )

        steps = (
            (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, dt.timedelta(days=-3)),
            (ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED, dt.timedelta(0)),
            (ApplicationStatus.ACCEPTED, ApplicationStatus.UNDER_REVIEW, dt.timedelta(days=1)),
        )

        def change_rows() -> Iterable[tuple]:
            # One pass per step: an application's changes lie in three parts of the table, as
            # rows written weeks apart do, not side by side on one page.
            for step, (from_status, to_status, offset) in enumerate(steps):
                for index in copy_order(open_applications, due):
                    occurred = points[scan_wait(index, due)].accepted_at + offset
                    yield (
                        stable_uuid(f"status-change-{step}", index),
                        stable_uuid("application", index),
                        from_status,
                        to_status,
                        occurred,
                        occurred,
                    )

        def line_rows() -> Iterable[tuple]:
            for index in copy_order(open_applications, due):
                yield (
                    stable_uuid("application", index),
                    items[index % len(items)].pk,
                    Decimal(100 + index % 900),
                )

        applications.copy((*row, organization.pk) for row in application_rows())
        changes.copy(change_rows())
        lines.copy(line_rows())
    vacuum(LicenseApplication, StatusChange, ApplicationLine, DelayAlert, analyze=True)


def clear_alerts() -> None:
    """Empty the alert tables (TRUNCATE: no dead rows left behind to skew the next repeat)."""
    tables = {DelayAlert._meta.db_table, DelayAlert.shipments.through._meta.db_table}
    tables |= {related.related_model._meta.db_table for related in DelayAlert._meta.related_objects}
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier(table) for table in sorted(tables))
            )
        )


def restore_due(*, due: int) -> None:
    """Put the first `due` applications back as seeded (due, no alert), and vacuum.

    The delay fields depend only on the wait, so this is one UPDATE per wait in DUE_WAITS.
    """
    authority = LicensingAuthority.objects.get(code=MOFCOM)
    points = clock_points(
        working_calendar(authority.calendar_country), ZoneInfo(authority.time_zone)
    )
    rule = default_rule()
    clear_alerts()
    for waited in DUE_WAITS:
        ids = [stable_uuid("application", i) for i in range(due) if scan_wait(i, due) == waited]
        point = points[waited]
        LicenseApplication.objects.filter(pk__in=ids).update(
            statutory_deadline=point.deadline,
            delay_level=DelayLevel.NONE,
            delay_rule=rule,
            next_threshold_level=DelayLevel.WARNING,
            next_threshold_on=point.warning_on,
            next_check_at=point.next_check_at,
        )
    vacuum(LicenseApplication, DelayAlert)
