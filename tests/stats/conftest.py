"""A lead-time history with known durations, for the statistics tests.

Decided applications are made with the factories and then given their decision by a
queryset update of status, clock start, decision time and the two stored durations: the
tests need exact, known durations. Open applications go through the services
(`application_in_status`), so their ages come from a real clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from licensing.models import ApplicationStatus, ControlledItem, Exporter, LicenseApplication
from tests.api.contract import World, build_world
from tests.factories import (
    ApplicationLineFactory,
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    LicensingAuthorityFactory,
)

S = ApplicationStatus


def at(day: str) -> dt.datetime:
    """Noon UTC on `day`: the same date in UTC, Beijing and New York."""
    return dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")


def decided_application(
    *,
    organization,
    exporter: Exporter,
    authority_code: str,
    items: list[ControlledItem],
    status: str,
    started: str,
    decided: str,
    working_days: int | None,
    calendar_days: int | None,
    destination: str = "DE",
    license_type: str = "single",
) -> LicenseApplication:
    """A decided application with the given lines and stored durations (set directly)."""
    application = LicenseApplicationFactory(
        organization=organization,
        exporter=exporter,
        authority=LicensingAuthorityFactory(code=authority_code),
        destination_country=destination,
        license_type=license_type,
        line=None,
    )
    for position, item in enumerate(items):
        ApplicationLineFactory(application=application, item=item, position=position)
    LicenseApplication.objects.filter(pk=application.pk).update(
        status=status,
        clock_started_at=at(started),
        decided_at=at(decided),
        decision_working_days=working_days,
        decision_calendar_days=calendar_days,
    )
    application.refresh_from_db()
    return application


@dataclass
class History:
    world: World
    dysprosium: ControlledItem  # 1C905, rare earth
    terbium: ControlledItem  # 1C904, rare earth
    gallium: ControlledItem  # CN-23-GA, gallium
    rare_earth_exporter: Exporter
    gallium_exporter: Exporter
    applications: dict[str, LicenseApplication] = field(default_factory=dict)


@pytest.fixture
def history(db) -> History:
    """Ours: five CN-MOFCOM decisions on rare earths, two US-BIS ones on gallium; theirs: three.

    | name | authority | lines            | status    | started    | decided    | wd | cd |
    | A1   | CN-MOFCOM | 1C905            | approved  | 2025-03-03 | 2025-03-17 | 10 | 14 |
    | A2   | CN-MOFCOM | 1C905            | approved  | 2025-03-10 | 2025-04-07 | 20 | 28 |
    | A3   | CN-MOFCOM | 1C905            | denied    | 2025-04-01 | 2025-05-13 | 30 | 42 |
    | A4   | CN-MOFCOM | 1C905            | withdrawn | 2025-04-02 | 2025-04-09 |  5 |  7 |
    | A5   | CN-MOFCOM | 1C905 1C904 1C905| expired   | 2025-04-03 | 2025-05-29 | 40 | 56 |
    | B1   | US-BIS    | CN-23-GA         | approved  | 2025-05-05 | 2025-06-02 |  - |  - |
    | B2   | US-BIS    | CN-23-GA         | denied    | 2025-05-06 | 2025-05-15 |  7 |  9 |
    A1-A5 go to DE from the rare-earth exporter; B1, B2 to JP from the gallium exporter.
    Theirs: three CN-MOFCOM approvals of 1C905, 99 working days each.
    """
    world = build_world()
    mofcom_item = world.item
    terbium = ControlledItemFactory(control_code="1C904", authority=world.authority)
    gallium = ControlledItemFactory(
        control_code="CN-23-GA", authority=world.authority, material_family="gallium"
    )
    ours = world.ours.organization
    rare_earth_exporter = world.ours.exporter
    gallium_exporter = ExporterFactory(organization=ours, name="Zhuzhou Gallium Works Co., Ltd.")
    history = History(world, mofcom_item, terbium, gallium, rare_earth_exporter, gallium_exporter)
    rows = [
        ("A1", "CN-MOFCOM", [mofcom_item], S.APPROVED, "2025-03-03", "2025-03-17", 10, 14),
        ("A2", "CN-MOFCOM", [mofcom_item], S.APPROVED, "2025-03-10", "2025-04-07", 20, 28),
        ("A3", "CN-MOFCOM", [mofcom_item], S.DENIED, "2025-04-01", "2025-05-13", 30, 42),
        ("A4", "CN-MOFCOM", [mofcom_item], S.WITHDRAWN, "2025-04-02", "2025-04-09", 5, 7),
        (
            "A5",
            "CN-MOFCOM",
            [mofcom_item, terbium, mofcom_item],
            S.EXPIRED,
            "2025-04-03",
            "2025-05-29",
            40,
            56,
        ),
        ("B1", "US-BIS", [gallium], S.APPROVED, "2025-05-05", "2025-06-02", None, None),
        ("B2", "US-BIS", [gallium], S.DENIED, "2025-05-06", "2025-05-15", 7, 9),
    ]
    for name, authority, items, status, started, decided, working, calendar in rows:
        is_gallium = authority == "US-BIS"
        history.applications[name] = decided_application(
            organization=ours,
            exporter=gallium_exporter if is_gallium else rare_earth_exporter,
            authority_code=authority,
            items=items,
            status=status,
            started=started,
            decided=decided,
            working_days=working,
            calendar_days=calendar,
            destination="JP" if is_gallium else "DE",
            license_type="general" if is_gallium else "single",
        )
    for index in range(3):
        history.applications[f"T{index}"] = decided_application(
            organization=world.theirs.organization,
            exporter=world.theirs.exporter,
            authority_code="CN-MOFCOM",
            items=[mofcom_item],
            status=S.APPROVED,
            started="2025-03-03",
            decided="2025-07-01",
            working_days=99,
            calendar_days=120,
        )
    return history
