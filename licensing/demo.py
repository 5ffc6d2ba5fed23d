"""Demo data for `make run`: exporters in Ganzhou, buyers abroad, applications of every age.

Everything goes through the services, backdated with `occurred_at`, so the demo exercises
the same rules as production. Loading is idempotent: rows are keyed by their references.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.calendars import working_calendar
from core.errors import DomainError
from core.uscc import uscc_check_character
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ControlledItem,
    Exporter,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    Shipment,
    StatusChange,
    WebhookEndpoint,
)
from licensing.services.applications import (
    application_create,
    application_transition,
    clock_stop_record,
)
from licensing.services.delays import delays_scan
from licensing.services.exporters import exporter_create
from licensing.services.forecasts import forecast_refresh_all
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create, shipment_transition
from licensing.services.webhooks import webhook_endpoint_create

DEMO = Actor.system("demo")
# A fixed secret, only ever used for the demo receiver on loopback (see the Procfile).
DEMO_WEBHOOK_SECRET = "whsec_ZGVtby1vbmx5LXNlY3JldC1mb3ItdGhlLWxvb3BiYWNr"  # noqa: S105 (public demo value)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def demo_uscc(body: str) -> str:
    """A well-formed USCC for demo data: 17 given characters plus the right check character."""
    return body + uscc_check_character(body)


EXPORTERS = [
    # (key, name, registration body (17 chars), address, contact)
    (
        "jlmag",
        "JL MAG Rare-Earth Co., Ltd. (demo)",
        "91360700MA35DEM01",
        "Ganzhou, Jiangxi, China",
        "Export desk",
    ),
    (
        "haisheng",
        "Ganzhou Haisheng Tungsten Co., Ltd. (demo)",
        "91360700MA35DEM02",
        "Ganzhou, Jiangxi, China",
        "Sales office",
    ),
    (
        "gallium",
        "Jiangxi Gallium Materials Co., Ltd. (demo)",
        "91360100MA35DEM03",
        "Nanchang, Jiangxi, China",
        "Trade compliance",
    ),
]


@dataclass(frozen=True)
class DemoApplication:
    reference: str
    exporter: str
    item: str
    quantity: str
    unit: str
    destination: str
    end_user: str
    license_type: str
    # The story, as (status, working days before today) in order; the clock starts at "accepted".
    story: tuple[tuple[str, int], ...]
    clock_stop: tuple[str, int, int | None] | None = None
    escalated: bool = False


APPLICATIONS = [
    DemoApplication(
        "DEMO-A1",
        "jlmag",
        "1C905",
        "500",
        "kg",
        "DE",
        "Rheinland Motoren GmbH",
        "single",
        (("submitted", 53), ("accepted", 50), ("under_review", 48)),
    ),
    DemoApplication(
        "DEMO-A2",
        "jlmag",
        "1C904",
        "200",
        "kg",
        "DE",
        "Rheinland Motoren GmbH",
        "single",
        (("submitted", 45), ("accepted", 42), ("under_review", 40)),
    ),
    DemoApplication(
        "DEMO-A3",
        "haisheng",
        "1C117.d",
        "2",
        "t",
        "JP",
        "Kansai Precision Tools K.K.",
        "single",
        (("submitted", 35), ("accepted", 33), ("under_review", 31)),
    ),
    DemoApplication(
        "DEMO-A4",
        "jlmag",
        "CN-18-MAG",
        "10000",
        "pcs",
        "US",
        "Lakeshore Drives Inc.",
        "single",
        (("submitted", 25), ("accepted", 22), ("under_review", 20), ("info_requested", 6)),
    ),
    DemoApplication(
        "DEMO-A5",
        "jlmag",
        "1C902",
        "5",
        "t",
        "TH",
        "Siam EV Components Co., Ltd.",
        "general",
        (("submitted", 80), ("accepted", 75), ("under_review", 70), ("approved", 30)),
    ),
    DemoApplication(
        "DEMO-A6",
        "gallium",
        "CN-23-GA",
        "50",
        "kg",
        "US",
        "Lakeshore Drives Inc.",
        "single",
        (("submitted", 70), ("accepted", 66), ("under_review", 64), ("denied", 20)),
    ),
    DemoApplication(
        "DEMO-A7",
        "haisheng",
        "1C117.c",
        "800",
        "kg",
        "DE",
        "Rheinland Motoren GmbH",
        "single",
        (("submitted", 30), ("accepted", 28), ("under_review", 26)),
        clock_stop=("expert_review", 15, 5),
    ),
    DemoApplication(
        "DEMO-A8",
        "jlmag",
        "1C903",
        "100",
        "kg",
        "JP",
        "Kansai Precision Tools K.K.",
        "single",
        (("submitted", 3),),
    ),
    DemoApplication(
        "DEMO-A9",
        "gallium",
        "CN-23-GE",
        "20",
        "kg",
        "US",
        "Lakeshore Drives Inc.",
        "single",
        (("submitted", 40), ("accepted", 38), ("under_review", 36)),
        escalated=True,
    ),
    DemoApplication(
        "DEMO-A10",
        "jlmag",
        "1C905",
        "300",
        "kg",
        "TH",
        "Siam EV Components Co., Ltd.",
        "single",
        (),
    ),
]

SHIPMENTS = [
    # (reference, application, quantity, unit, days until required ship date, status story)
    ("PO-DE-1001", "DEMO-A1", "500", "kg", 10, ()),
    ("PO-DE-1002", "DEMO-A2", "200", "kg", 45, ()),
    ("PO-JP-2001", "DEMO-A3", "2", "t", 20, ()),
    ("PO-US-3001", "DEMO-A4", "10000", "pcs", 30, ()),
    ("PO-TH-4001", "DEMO-A5", "2", "t", -10, ("licensed", "shipped")),
    ("PO-TH-4002", "DEMO-A5", "1500", "kg", 14, ("licensed",)),
    ("PO-DE-1003", "DEMO-A7", "800", "kg", 60, ()),
    ("PO-JP-2002", None, "100", "kg", 90, ()),
]


# The decided history the forecast learns from: (item, destination, exporter, how many,
# median working days, spread (log sd), share denied, share withdrawn). Counts differ so
# that the open demo applications rest on different levels: 1C905 to Germany has its own
# history; 1C904 to Germany borrows the item's; tungsten items the family's; magnets to the
# US (slow, often denied) have little; germanium almost none.
HISTORY = [
    ("1C905", "DE", "jlmag", 70, 38, 0.30, 0.03, 0.04),
    ("1C905", "JP", "jlmag", 40, 35, 0.30, 0.03, 0.04),
    ("1C905", "US", "jlmag", 25, 55, 0.40, 0.25, 0.08),
    ("1C904", "DE", "jlmag", 12, 40, 0.30, 0.03, 0.04),
    ("1C904", "JP", "jlmag", 20, 37, 0.30, 0.03, 0.04),
    ("1C902", "TH", "jlmag", 35, 33, 0.25, 0.02, 0.03),
    ("1C903", "JP", "jlmag", 18, 36, 0.30, 0.03, 0.04),
    ("1C117.c", "DE", "haisheng", 15, 30, 0.25, 0.02, 0.05),
    ("1C117.d", "JP", "haisheng", 14, 31, 0.25, 0.02, 0.05),
    ("1C117.d", "DE", "haisheng", 16, 29, 0.25, 0.02, 0.05),
    ("CN-18-MAG", "US", "jlmag", 8, 60, 0.40, 0.30, 0.10),
    ("CN-18-MAG", "DE", "jlmag", 30, 42, 0.30, 0.04, 0.04),
    ("CN-23-GA", "US", "gallium", 12, 58, 0.40, 0.40, 0.10),
    ("CN-23-GA", "DE", "gallium", 25, 40, 0.30, 0.05, 0.04),
    ("CN-23-GE", "DE", "gallium", 5, 41, 0.30, 0.05, 0.04),
]
HISTORY_PREFIX = "HIST-"
HISTORY_MONTHS = 18


def working_days_before(today: dt.date, count: int) -> dt.date:
    calendar = working_calendar("CN")
    day = today
    while calendar.working_days_between(day, today) < count:
        day -= dt.timedelta(days=1)
    return day


def _at(day: dt.date) -> dt.datetime:
    """10:00 Beijing time on `day`, the hour of a typical MOFCOM notice."""
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=SHANGHAI)


class DemoLoader:
    def __init__(self, *, stdout) -> None:
        self.stdout = stdout
        self.today = timezone.localdate(timezone.now(), SHANGHAI)
        self.created = 0

    def load(self) -> None:
        organization, _ = Organization.objects.get_or_create(
            name="Rheinland Motoren GmbH (demo)", defaults={"kind": Organization.Kind.BUYER}
        )
        exporters = {key: self._exporter(organization, key, *rest) for key, *rest in EXPORTERS}
        applications = {
            spec.reference: self._application(organization, exporters, spec)
            for spec in APPLICATIONS
        }
        for spec in SHIPMENTS:
            self._shipment(organization, exporters, applications, *spec)
        self._webhook_endpoint(organization)
        self._decided_history(organization, exporters)
        self.stdout.write(f"Demo data: {self.created} rows created (existing ones kept).")
        # The nightly forecast refit, now: the open applications show their expected decision
        # at once, and the scan below reads their p90 for the shipments' at-risk check.
        forecast = forecast_refresh_all()
        self.stdout.write(
            f"Forecast: {forecast.curves} decision-time curves, {forecast.applications} open "
            f"applications with a window ({forecast.statutory_fallbacks} on the statutory deadline)."
        )
        # One scan now, so the alerts are there at once (beat's first scan waits an interval);
        # their webhook deliveries are queued and reach the demo receiver when the worker starts.
        report = delays_scan()
        self.stdout.write(f"Delay scan: {len(report.raised)} alerts raised.")

    @transaction.atomic
    def _decided_history(self, organization, exporters) -> None:
        """A few hundred applications decided over the last 18 months, written in bulk.

        Stored as the services leave a decided application (status history, decision times),
        but inserted with bulk_create: walking each through the services would take minutes.
        Skipped when the organization already has them.
        """
        if LicenseApplication.objects.filter(
            organization=organization, authority_reference__startswith=HISTORY_PREFIX
        ).exists():
            return
        rng = random.Random(20251009)
        authority = LicensingAuthority.objects.get(code="CN-MOFCOM")
        calendar = working_calendar(authority.calendar_country)
        items = {item.control_code: item for item in ControlledItem.objects.all()}
        first_start = self.today - dt.timedelta(days=HISTORY_MONTHS * 30)
        applications, lines, changes = [], [], []
        number = 0
        for code, destination, exporter, count, median, spread, denied, withdrawn in HISTORY:
            for _ in range(count):
                number += 1
                # Draw until the decision lies in the past: the history holds decisions only.
                while True:
                    start = first_start + dt.timedelta(days=rng.randint(0, HISTORY_MONTHS * 30))
                    days = max(5, round(rng.lognormvariate(math.log(median), spread)))
                    decided_on = calendar.add_working_days(start, days)
                    if calendar.is_working_day(start) and decided_on < self.today:
                        break
                outcome = rng.random()
                if outcome < withdrawn:
                    status = ApplicationStatus.WITHDRAWN
                    # Withdrawn part-way through the wait, not on the day of a decision.
                    days = max(1, round(days * rng.uniform(0.2, 0.9)))
                    decided_on = calendar.add_working_days(start, days)
                elif outcome < withdrawn + denied:
                    status = ApplicationStatus.DENIED
                else:
                    status = ApplicationStatus.APPROVED
                accepted_at = _at(start)
                decided_at = _at(decided_on)
                application = LicenseApplication(
                    organization=organization,
                    exporter=exporters[exporter],
                    authority=authority,
                    license_type="single",
                    status=status,
                    end_user_name="Rheinland Motoren GmbH"
                    if destination == "DE"
                    else f"Demo buyer ({destination})",
                    end_user_country=destination,
                    end_use="Manufacture of permanent-magnet motors and tooling (demo history).",
                    destination_country=destination,
                    authority_reference=f"{HISTORY_PREFIX}{number:04d}",
                    license_number=f"LIC-HIST-{number:04d}"
                    if status == ApplicationStatus.APPROVED
                    else "",
                    valid_from=decided_on if status == ApplicationStatus.APPROVED else None,
                    valid_until=decided_on + dt.timedelta(days=364)
                    if status == ApplicationStatus.APPROVED
                    else None,
                    submitted_at=accepted_at - dt.timedelta(days=3),
                    accepted_at=accepted_at,
                    clock_started_at=accepted_at,
                    decided_at=decided_at,
                    decision_working_days=days,
                    decision_calendar_days=(decided_on - start).days,
                    version=5,
                )
                applications.append(application)
                lines.append(
                    ApplicationLine(
                        application=application,
                        item=items[code],
                        quantity=Decimal(rng.choice([50, 100, 200, 500, 1000])),
                        unit="kg",
                    )
                )
                steps = [
                    (
                        ApplicationStatus.DRAFT,
                        ApplicationStatus.SUBMITTED,
                        accepted_at - dt.timedelta(days=3),
                    ),
                    (ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED, accepted_at),
                    (
                        ApplicationStatus.ACCEPTED,
                        ApplicationStatus.UNDER_REVIEW,
                        accepted_at + dt.timedelta(hours=2),
                    ),
                    (ApplicationStatus.UNDER_REVIEW, status, decided_at),
                ]
                changes.extend(
                    StatusChange(
                        application=application,
                        from_status=from_status,
                        to_status=to_status,
                        occurred_at=occurred_at,
                        actor_label=DEMO.label,
                        note="Demo history.",
                    )
                    for from_status, to_status, occurred_at in steps
                )
        LicenseApplication.objects.bulk_create(applications, batch_size=500)
        ApplicationLine.objects.bulk_create(lines, batch_size=500)
        StatusChange.objects.bulk_create(changes, batch_size=500)
        self.created += len(applications)

    def _webhook_endpoint(self, organization) -> None:
        """The endpoint of `webhook_listen`, which `make run` starts: alerts arrive there live."""
        from django.conf import settings

        port = getattr(settings, "DEMO_WEBHOOK_PORT", None)
        url = f"http://127.0.0.1:{port}/"
        if (
            port is None
            or WebhookEndpoint.objects.filter(organization=organization, url=url).exists()
        ):
            return
        try:
            webhook_endpoint_create(
                organization=organization,
                actor=DEMO,
                url=url,
                description="Demo receiver: python manage.py webhook_listen (make run starts it).",
                secret=DEMO_WEBHOOK_SECRET,
            )
        except DomainError as error:
            self.stdout.write(f"Demo webhook endpoint not created: {error.detail}")
            return
        self.created += 1

    def _exporter(self, organization, key, name, body, address, contact) -> Exporter:
        registration = demo_uscc(body)
        existing = Exporter.objects.filter(
            organization=organization, registration_number=registration
        ).first()
        if existing:
            return existing
        self.created += 1
        return exporter_create(
            organization=organization,
            actor=DEMO,
            name=name,
            country="CN",
            registration_number=registration,
            address=address,
            contact_name=contact,
        )

    @transaction.atomic
    def _application(self, organization, exporters, spec: DemoApplication) -> LicenseApplication:
        existing = LicenseApplication.objects.filter(
            organization=organization, authority_reference=spec.reference
        ).first()
        if existing:
            return existing
        self.created += 1
        application = application_create(
            organization=organization,
            exporter=exporters[spec.exporter],
            authority=LicensingAuthority.objects.get(code="CN-MOFCOM"),
            license_type=spec.license_type,
            end_user_name=spec.end_user,
            end_user_country=spec.destination,
            end_use="Manufacture of permanent-magnet motors and tooling (demo).",
            destination_country=spec.destination,
            actor=DEMO,
            lines=[
                LineInput(
                    item=ControlledItem.objects.get(control_code=spec.item),
                    quantity=Decimal(spec.quantity),
                    unit=spec.unit,
                    value=Decimal(spec.quantity) * 100,
                    currency="USD",
                )
            ],
            is_escalated=spec.escalated,
        )
        # Drafts carry the reference too, so that reloading finds them.
        application.authority_reference = spec.reference
        application.save(update_fields=["authority_reference"])
        for status, days_ago in spec.story:
            day = working_days_before(self.today, days_ago)
            extra = {}
            if status == "approved":
                extra = {
                    "license_number": f"LIC-{spec.reference}",
                    "valid_from": day,
                    "valid_until": day + dt.timedelta(days=3 * 365 - 1),
                }
            application_transition(
                application=application,
                to_status=status,
                actor=DEMO,
                occurred_at=_at(day),
                note=f"Demo: {status}.",
                **extra,
            )
        if spec.clock_stop:
            kind, started_ago, ended_ago = spec.clock_stop
            clock_stop_record(
                application=application,
                kind=kind,
                started_on=working_days_before(self.today, started_ago),
                ended_on=working_days_before(self.today, ended_ago) if ended_ago else None,
                note="Demo: expert consultation.",
                actor=DEMO,
            )
        return application

    @transaction.atomic
    def _shipment(
        self,
        organization,
        exporters,
        applications,
        reference,
        app_ref,
        quantity,
        unit,
        days_until,
        story,
    ) -> None:
        if Shipment.objects.filter(
            organization=organization, external_reference=reference
        ).exists():
            return
        self.created += 1
        application = applications.get(app_ref) if app_ref else None
        item_code = next(
            spec.item for spec in APPLICATIONS if spec.reference == (app_ref or "DEMO-A8")
        )
        shipment = shipment_create(
            organization=organization,
            actor=DEMO,
            external_reference=reference,
            exporter=application.exporter if application else exporters["jlmag"],
            consignee_name=application.end_user_name
            if application
            else "Kansai Precision Tools K.K.",
            consignee_country=application.destination_country if application else "JP",
            destination_country=application.destination_country if application else "JP",
            required_ship_date=self.today + dt.timedelta(days=days_until),
            license_application=application,
            lines=[
                LineInput(
                    item=ControlledItem.objects.get(control_code=item_code),
                    quantity=Decimal(quantity),
                    unit=unit,
                )
            ],
        )
        for status in story:
            shipment_transition(
                shipment=shipment, to_status=status, actor=DEMO, note=f"Demo: {status}."
            )


def ensure_demo_admin(*, stdout) -> None:
    """Create the demo superuser once and print how to log in."""
    from django.conf import settings

    user_model = get_user_model()
    username, password = settings.DEMO_ADMIN_USERNAME, settings.DEMO_ADMIN_PASSWORD
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user_model.objects.create_superuser(username=username, email="", password=password)
        stdout.write(f"Demo admin created. Log in at /admin/ as {username} / {password}")
    else:
        stdout.write(
            f"Demo admin exists. Log in at /admin/ as {username} (password unchanged: {password} by default)"
        )
