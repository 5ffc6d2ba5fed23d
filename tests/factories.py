"""factory_boy factories for the licensing domain, and a helper to walk the workflow.

Factories build the setting of a test; the behaviour under test always goes through the
services. Authorities and items are looked up by code first, so the rows the reference-data
migration installed are reused rather than duplicated.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from decimal import Decimal

import factory
from django.utils import timezone

from core.actors import Actor
from core.uscc import uscc_check_character
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ControlledItem,
    Exporter,
    LicenseApplication,
    LicenseType,
    LicensingAuthority,
    Organization,
    QuantityUnit,
    StatusChange,
)
from licensing.models.applications import APPLICATION_TRANSITIONS
from licensing.reference_data import AUTHORITIES
from licensing.services.applications import application_transition

TEST_ACTOR = Actor.system("tests")

_AUTHORITY_DEFAULTS = {row["code"]: row for row in AUTHORITIES}


def valid_uscc(body: str) -> str:
    """A valid Unified Social Credit Code made of 17 given characters and their check character."""
    return body + uscc_check_character(body)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Buyer {n} GmbH")
    kind = Organization.Kind.BUYER


class LicensingAuthorityFactory(factory.django.DjangoModelFactory):
    """CN-MOFCOM by default, with the rules of the reference data (45 working days, CN)."""

    class Meta:
        model = LicensingAuthority
        django_get_or_create = ("code",)

    code = "CN-MOFCOM"
    name = factory.LazyAttribute(lambda o: _AUTHORITY_DEFAULTS.get(o.code, {}).get("name", o.code))
    country = factory.LazyAttribute(
        lambda o: _AUTHORITY_DEFAULTS.get(o.code, {}).get("country", "CN")
    )
    review_period = factory.LazyAttribute(
        lambda o: _AUTHORITY_DEFAULTS.get(o.code, {}).get("review_period", 45)
    )
    review_period_unit = factory.LazyAttribute(
        lambda o: _AUTHORITY_DEFAULTS.get(o.code, {}).get("review_period_unit", "working_days")
    )
    clock_start_event = factory.LazyAttribute(
        lambda o: _AUTHORITY_DEFAULTS.get(o.code, {}).get("clock_start_event", "accepted")
    )
    calendar_country = factory.LazyAttribute(
        lambda o: _AUTHORITY_DEFAULTS.get(o.code, {}).get("calendar_country", "CN")
    )
    time_zone = factory.LazyAttribute(
        lambda o: _AUTHORITY_DEFAULTS.get(o.code, {}).get("time_zone", "Asia/Shanghai")
    )


class ControlledItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ControlledItem
        django_get_or_create = ("control_code",)

    control_code = factory.Sequence(lambda n: f"TEST-{n}")
    name = factory.LazyAttribute(lambda o: f"Test item {o.control_code}")
    material_family = "rare_earth"
    authority = factory.SubFactory(LicensingAuthorityFactory)


class ExporterFactory(factory.django.DjangoModelFactory):
    """A Chinese exporter with a valid USCC."""

    class Meta:
        model = Exporter

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Ganzhou Test Materials {n} Co., Ltd.")
    country = "CN"
    registration_number = factory.Sequence(lambda n: valid_uscc(f"91360700M{n:08d}"))


class LicenseApplicationFactory(factory.django.DjangoModelFactory):
    """A draft application with one line: 1000 kg of a test item (override via line__...)."""

    class Meta:
        model = LicenseApplication
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    exporter = factory.SubFactory(
        ExporterFactory, organization=factory.SelfAttribute("..organization")
    )
    authority = factory.SubFactory(LicensingAuthorityFactory)
    license_type = LicenseType.SINGLE
    end_user_name = "Rheinland Motoren GmbH"
    end_user_country = "DE"
    end_use = "Manufacture of permanent-magnet motors."
    destination_country = "DE"
    line = factory.RelatedFactory(
        "tests.factories.ApplicationLineFactory",
        factory_related_name="application",
    )


class ApplicationLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApplicationLine

    application = factory.SubFactory(LicenseApplicationFactory, line=None)
    item = factory.SubFactory(
        ControlledItemFactory, authority=factory.SelfAttribute("..application.authority")
    )
    quantity = Decimal(1000)
    unit = QuantityUnit.KILOGRAM


def status_path(to_status: str, *, start: str = ApplicationStatus.DRAFT) -> list[str]:
    """The shortest sequence of statuses leading from `start` to `to_status` in the workflow."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        status = queue.popleft()
        if status == to_status:
            break
        for following in APPLICATION_TRANSITIONS[status]:
            if following not in previous:
                previous[following] = status
                queue.append(following)
    if to_status not in previous:
        raise ValueError(f"{to_status!r} cannot be reached from {start!r}")
    path: list[str] = []
    status: str | None = to_status
    while status != start:
        path.append(status)
        status = previous[status]
    return path[::-1]


def transition_fields(to_status: str, *, reference: str = "") -> dict:
    """The fields a transition to `to_status` needs, for a valid license from 2025 to 2027."""
    if to_status == ApplicationStatus.ACCEPTED:
        return {"authority_reference": reference or "MOFCOM-2025-0001"}
    if to_status == ApplicationStatus.APPROVED:
        return {
            "license_number": "LIC-2025-0001",
            "valid_from": dt.date(2025, 1, 1),
            "valid_until": timezone.localdate() + dt.timedelta(days=365),
        }
    return {}


def walk_application(
    application: LicenseApplication,
    steps: list[tuple[str, dt.datetime]],
    *,
    actor: Actor = TEST_ACTOR,
    **overrides,
) -> list[StatusChange]:
    """Move `application` through `steps` of (status, occurred_at) with the services.

    Each step gets the fields its status needs (see `transition_fields`); `overrides`
    replace them, e.g. valid_from=... for the approval.
    """
    changes = []
    for status, occurred_at in steps:
        fields = transition_fields(status)
        fields.update({key: value for key, value in overrides.items() if key in fields})
        changes.append(
            application_transition(
                application=application,
                to_status=status,
                actor=actor,
                occurred_at=occurred_at,
                **fields,
            )
        )
    return changes


def application_in_status(
    status: str,
    *,
    first_step_at: dt.datetime | None = None,
    step: dt.timedelta = dt.timedelta(days=1),
    approval: dict | None = None,
    **factory_kwargs,
) -> LicenseApplication:
    """A new application moved along the shortest workflow path to `status`.

    Steps happen `step` apart from `first_step_at` (default: 60 days ago), all in the past.
    """
    application = LicenseApplicationFactory(**factory_kwargs)
    start = first_step_at or timezone.now() - dt.timedelta(days=60)
    path = status_path(status)
    walk_application(
        application,
        [(each, start + index * step) for index, each in enumerate(path)],
        **(approval or {}),
    )
    return application


def walk_to_review(
    application: LicenseApplication, accepted_at: dt.datetime, **transition_fields
) -> LicenseApplication:
    """Submit three days before `accepted_at`, accept then, start the review an hour later."""
    walk_application(
        application,
        [
            ("submitted", accepted_at - dt.timedelta(days=3)),
            ("accepted", accepted_at),
            ("under_review", accepted_at + dt.timedelta(hours=1)),
        ],
        **transition_fields,
    )
    return application
