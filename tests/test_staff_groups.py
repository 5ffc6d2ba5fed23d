"""The staff groups created by migration 0008 (licensing/staff_groups.py)."""

import pytest
from django.contrib.auth.models import Group

from licensing.staff_groups import AUDITOR, COMPLIANCE_OFFICER, staff_groups_sync

pytestmark = pytest.mark.django_db


def _codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return set(group.permissions.values_list("codename", flat=True))


def test_migrate_creates_both_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {COMPLIANCE_OFFICER, AUDITOR}


def test_auditor_may_view_everything_and_change_nothing():
    codenames = _codenames(AUDITOR)
    assert {"view_licenseapplication", "view_shipment", "view_delayalert"} <= codenames
    assert {"view_statuschange", "view_calendarexception"} <= codenames
    assert all(codename.startswith("view_") for codename in codenames)


def test_compliance_officer_works_the_queue_but_deletes_nothing():
    codenames = _codenames(COMPLIANCE_OFFICER)
    assert {
        "view_licenseapplication",
        "change_licenseapplication",
        "add_licenseapplication",
        "change_shipment",
        "change_delayalert",
        "change_thresholdrule",
    } <= codenames
    deletes = {codename for codename in codenames if codename.startswith("delete_")}
    # only parts edited with their record, through its service
    assert deletes == {
        "delete_applicationline",
        "delete_shipmentline",
        "delete_thresholdlevel",
    }
    assert "change_calendarexception" not in codenames
    assert "change_webhookendpoint" not in codenames


def test_sync_is_idempotent():
    from django.apps import apps

    before = _codenames(COMPLIANCE_OFFICER)
    staff_groups_sync(apps)
    assert _codenames(COMPLIANCE_OFFICER) == before
    assert Group.objects.filter(name=AUDITOR).count() == 1
