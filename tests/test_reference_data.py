"""Reference data installed by migration, and the idempotent demo loader."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from core.models import CalendarException
from licensing.models import (
    ApplicationLine,
    ClockStop,
    ControlAnnouncement,
    ControlledItem,
    ControlPeriod,
    Exporter,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    Shipment,
    ShipmentLine,
    ShipmentStatusChange,
    StatusChange,
)

D = dt.date.fromisoformat


@pytest.mark.django_db
def test_cn_mofcom_decides_within_45_working_days_from_acceptance_on_the_cn_calendar():
    mofcom = LicensingAuthority.objects.get(code="CN-MOFCOM")
    assert mofcom.review_period == 45
    assert mofcom.review_period_unit == "working_days"
    assert mofcom.clock_start_event == "accepted"
    assert mofcom.calendar_country == "CN"
    assert mofcom.time_zone == "Asia/Shanghai"
    assert mofcom.amendment_review_period == 20


@pytest.mark.django_db
def test_us_bis_decides_within_90_calendar_days_from_submission():
    bis = LicensingAuthority.objects.get(code="US-BIS")
    assert bis.review_period == 90
    assert bis.review_period_unit == "calendar_days"
    assert bis.clock_start_event == "submitted"
    assert bis.calendar_country == "US"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "family", "announcement", "verified"),
    [
        ("1C902", "rare_earth", "No. 18 [2025]", True),
        ("1C903", "rare_earth", "No. 18 [2025]", True),
        ("1C904", "rare_earth", "No. 18 [2025]", True),
        ("1C905", "rare_earth", "No. 18 [2025]", True),
        ("1C906", "rare_earth", "No. 18 [2025]", False),
        ("1C907", "rare_earth", "No. 18 [2025]", False),
        ("1C908", "rare_earth", "No. 18 [2025]", False),
        ("1C117.c", "tungsten", "No. 10 [2025]", True),
        ("1C117.d", "tungsten", "No. 10 [2025]", True),
        ("1E902", "rare_earth_technology", "Nos. 55-58, 61, 62 [2025]", True),
    ],
)
def test_controlled_items_are_installed_with_their_announcement(
    code, family, announcement, verified
):
    item = ControlledItem.objects.select_related("authority", "announcement").get(control_code=code)
    assert item.authority.code == "CN-MOFCOM"
    assert item.material_family == family
    assert item.announcement.number == announcement
    assert item.code_verified is verified


@pytest.mark.django_db
def test_every_item_has_a_control_period_from_its_announcement():
    items = ControlledItem.objects.all()
    assert items.count() >= 27
    for item in items:
        assert ControlPeriod.objects.filter(item=item).exists(), item.control_code
    dysprosium = ControlledItem.objects.get(control_code="1C905")
    assert not dysprosium.is_controlled_on(D("2025-04-03"))
    assert dysprosium.is_controlled_on(D("2025-04-04"))


@pytest.mark.django_db
def test_the_october_2025_rules_are_suspended_until_10_november_2026():
    holmium = ControlledItem.objects.get(control_code="CN-61-HO")
    assert not holmium.is_controlled_on(D("2025-10-08"))
    assert holmium.is_controlled_on(D("2025-10-09"))
    assert holmium.is_controlled_on(D("2025-11-06"))
    assert not holmium.is_controlled_on(D("2025-11-07"))
    assert not holmium.is_controlled_on(D("2026-11-10"))
    assert holmium.is_controlled_on(D("2026-11-11"))


@pytest.mark.django_db
def test_announcements_are_installed():
    numbers = set(ControlAnnouncement.objects.values_list("number", flat=True))
    assert {"No. 23 [2023]", "No. 18 [2025]", "No. 10 [2025]", "No. 46 [2024]"} <= numbers


DEMO_MODELS = [
    Organization,
    Exporter,
    LicenseApplication,
    ApplicationLine,
    StatusChange,
    ClockStop,
    Shipment,
    ShipmentLine,
    ShipmentStatusChange,
    CalendarException,
]


def _counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in DEMO_MODELS}
    counts["User"] = get_user_model().objects.count()
    return counts


# The demo is dated relative to today: pinned, it tells the same stories on any day.
DEMO_DAY = "2026-11-20"


@pytest.mark.django_db
@pytest.mark.pinned_clock(DEMO_DAY)
def test_load_demo_is_idempotent():
    first_output = StringIO()
    call_command("load_demo", stdout=first_output)
    after_first = _counts()
    assert after_first["LicenseApplication"] >= 10
    assert after_first["Shipment"] >= 8
    assert after_first["Exporter"] == 3
    assert after_first["User"] == 1
    assert "Demo admin created" in first_output.getvalue()

    second_output = StringIO()
    call_command("load_demo", stdout=second_output)
    assert _counts() == after_first
    assert "0 rows created" in second_output.getvalue()
    assert "Demo admin exists" in second_output.getvalue()


@pytest.mark.django_db
@pytest.mark.pinned_clock(DEMO_DAY)
def test_demo_data_tell_the_stories_they_promise():
    call_command("load_demo", "--no-admin", stdout=StringIO())
    assert not get_user_model().objects.exists()
    statuses = dict(LicenseApplication.objects.values_list("authority_reference", "status"))
    assert statuses["DEMO-A4"] == "info_requested"
    assert statuses["DEMO-A5"] == "approved"
    assert statuses["DEMO-A6"] == "denied"
    assert statuses["DEMO-A10"] == "draft"
    assert Shipment.objects.get(external_reference="PO-TH-4001").status == "shipped"
    assert LicenseApplication.objects.get(authority_reference="DEMO-A9").is_escalated
    # Accepted 50, 42 and 33 working days before today: past the deadline, critical, warning.
    levels = dict(LicenseApplication.objects.values_list("authority_reference", "delay_level"))
    assert [levels[f"DEMO-A{n}"] for n in (1, 2, 3)] == ["overdue", "critical", "warning"]
