"""The admin side of the audit trail: what staff changes leave behind, and the History page.

Forms are submitted as a browser would: the change page is read, its fields kept as they
are except the ones a test edits, and posted back.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.actors import Actor
from core.audit import audit_record
from core.models import CalendarException, ObjectChange
from core.request_id import request_id_scope
from licensing.models import DelayAlert
from licensing.services.applications import application_update, clock_stop_record
from licensing.services.delays import delays_scan
from licensing.services.threshold_rules import LevelInput, threshold_rule_create
from licensing.staff_groups import AUDITOR, COMPLIANCE_OFFICER
from tests.delays.conftest import beijing
from tests.factories import ExporterFactory, LicenseApplicationFactory, application_in_status

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """The fields of the page's main <form>, as a browser would submit them (no buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.fields.append((name, attrs.get("value", "on")))
            else:
                self.fields.append((name, attrs.get("value") or ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields.append((self._select, attrs.get("value") or ""))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Django renders a newline right after <textarea>, which browsers drop.
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text += data


def submit(client, url: str, **changes: str):
    """Read the form at `url`, apply `changes`, post it with "Save"."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    parser = _FormFields()
    parser.feed(page.content.decode())
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    for name, value in changes.items():
        data[name] = [value]
    data["_save"] = ["Save"]
    return client.post(url, data)


def rows_for(instance) -> list[ObjectChange]:
    return list(
        ObjectChange.objects.filter(
            content_type=ContentType.objects.get_for_model(instance), object_id=str(instance.pk)
        ).order_by("time", "id")
    )


def staff(django_user_model, username: str, group: str, organization=None):
    user = django_user_model.objects.create_user(
        username=username, password="unused-password", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group))
    if organization is not None:
        organization.members.add(user)
    return user


@pytest.fixture
def officer(django_user_model, organization):
    return staff(django_user_model, "officer", COMPLIANCE_OFFICER, organization)


@pytest.fixture
def auditor(django_user_model, organization):
    return staff(django_user_model, "auditor", AUDITOR, organization)


# --- what staff changes leave behind -------------------------------------------------------------


def test_an_admin_save_without_a_service_is_recorded_as_the_staff_user(client, admin_user):
    exception = CalendarException.objects.create(
        country="CN", date=dt.date(2026, 2, 15), is_working_day=False, source="Draft notice"
    )
    client.force_login(admin_user)

    response = submit(
        client,
        f"/admin/core/calendarexception/{exception.pk}/change/",
        source="State Council notice 2025-11",
    )

    assert response.status_code == 302, response.content
    (row,) = rows_for(exception)
    assert row.action == "update"
    assert row.user == admin_user
    assert row.actor_label == "user:admin"
    assert row.request_id == response["X-Request-ID"]
    assert row.changes == {"source": ["Draft notice", "State Council notice 2025-11"]}


def test_an_admin_addition_is_recorded_with_its_values(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/core/calendarexception/add/",
        {
            "country": "CN",
            "date": "2026-02-14",
            "is_working_day": "on",
            "source": "State Council notice 2025-11",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.content
    exception = CalendarException.objects.get(date=dt.date(2026, 2, 14))
    (row,) = rows_for(exception)
    assert row.action == "create"
    assert row.user == admin_user
    assert row.request_id == response["X-Request-ID"]
    assert row.changes["is_working_day"] == [None, True]
    assert row.changes["source"] == [None, "State Council notice 2025-11"]


def test_officers_may_not_change_the_shared_calendar(client, officer):
    """The working calendar is every organization's: only superusers change it."""
    exception = CalendarException.objects.create(
        country="CN", date=dt.date(2026, 2, 15), is_working_day=False, source="Draft notice"
    )
    client.force_login(officer)

    response = submit(
        client, f"/admin/core/calendarexception/{exception.pk}/change/", source="Forged"
    )

    assert response.status_code == 403
    exception.refresh_from_db()
    assert exception.source == "Draft notice"
    assert rows_for(exception) == []


def test_an_admin_save_through_a_service_is_recorded_once_by_the_service(
    client, officer, organization
):
    application = LicenseApplicationFactory(
        organization=organization, exporter=ExporterFactory(organization=organization)
    )
    client.force_login(officer)

    response = submit(
        client,
        f"/admin/licensing/licenseapplication/{application.pk}/change/",
        end_use="Servo motors for wind turbines.",
    )

    assert response.status_code == 302, response.content
    application.refresh_from_db()
    assert application.end_use == "Servo motors for wind turbines."
    rows = ObjectChange.objects.filter(request_id=response["X-Request-ID"])
    assert [(row.action, row.object_id, row.actor_label) for row in rows] == [
        ("update", str(application.pk), "user:officer")
    ]
    assert rows[0].changes == {
        "end_use": ["Manufacture of permanent-magnet motors.", "Servo motors for wind turbines."]
    }


def test_an_admin_deletion_is_recorded_before_the_row_goes(client, admin_user):
    exception = CalendarException.objects.create(
        country="CN", date=dt.date(2026, 10, 8), is_working_day=False, source="National Day"
    )
    exception_id = exception.pk
    client.force_login(admin_user)

    response = client.post(f"/admin/core/calendarexception/{exception_id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not CalendarException.objects.filter(pk=exception_id).exists()
    (row,) = ObjectChange.objects.filter(object_id=str(exception_id))
    assert row.action == "delete"
    assert row.request_id == response["X-Request-ID"]
    assert row.changes["source"] == ["National Day", None]


def test_a_rejected_admin_form_writes_no_audit_row(client, admin_user):
    exception = CalendarException.objects.create(
        country="CN", date=dt.date(2026, 2, 15), is_working_day=False, source="Draft notice"
    )
    client.force_login(admin_user)

    response = submit(
        client, f"/admin/core/calendarexception/{exception.pk}/change/", date="not a date"
    )

    assert response.status_code == 200  # the form again, with its error
    assert not ObjectChange.objects.exists()


# --- the History page ----------------------------------------------------------------------------


def test_an_auditor_reads_an_application_history_with_its_clock_stops_and_alerts(
    client, auditor, organization, time_machine
):
    # Accepted on Fri 26 Sep 2025; on 20 Nov it has waited 35 working days (the National Day
    # holiday inside), past the warning at 30 and short of the critical level at 40: one alert.
    time_machine.move_to(beijing("2025-11-20"), tick=False)
    with request_id_scope("walk-request"):
        application = application_in_status(
            "under_review",
            first_step_at=beijing("2025-09-25"),
            organization=organization,
            exporter=ExporterFactory(organization=organization),
        )
    with request_id_scope("scan-request"):
        delays_scan()
    with request_id_scope("stop-request"):
        stop = clock_stop_record(
            application=application,
            kind="expert_review",
            started_on=dt.date(2025, 11, 17),
            actor=Actor.system("tests"),
        )
    alert = DelayAlert.objects.get(application=application)
    client.force_login(auditor)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/admin/licensing/licenseapplication/{application.pk}/history/")

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="audit-row"') == ObjectChange.objects.count()
    for request_id in ("walk-request", "scan-request", "stop-request"):
        assert request_id in html
    assert "system:tests" in html and "system:scan" in html
    # The workflow's steps, as before -> after of the status.
    assert "<del>draft</del> &rarr; <ins>submitted</ins>" in html
    assert "<del>accepted</del> &rarr; <ins>under_review</ins>" in html
    # Its clock stop and alert are the application's children: their rows are on its page.
    assert f"clock stop: {stop}" in html
    assert f"delay alert: {alert.message}" in html
    audit_queries = [q for q in queries.captured_queries if "core_objectchange" in q["sql"]]
    assert len(audit_queries) == 2  # the count for the paginator, and the page


def test_the_history_is_refused_to_staff_who_may_not_view_the_object(client, django_user_model):
    exception = CalendarException.objects.create(
        country="CN", date=dt.date(2026, 2, 15), is_working_day=False, source="Draft notice"
    )
    nobody = django_user_model.objects.create_user(
        username="nobody", password="unused-password", is_staff=True
    )
    client.force_login(nobody)

    response = client.get(f"/admin/core/calendarexception/{exception.pk}/history/")

    assert response.status_code == 403


# --- the audit rows themselves -------------------------------------------------------------------


def test_no_one_may_add_change_or_delete_an_audit_row(client, admin_user, organization):
    row = ObjectChange.objects.create(
        actor_label="system:tests",
        action="update",
        content_type=ContentType.objects.get_for_model(organization),
        object_id=str(organization.pk),
        object_repr=str(organization),
    )
    client.force_login(admin_user)  # a superuser

    assert client.get(f"/admin/core/objectchange/{row.pk}/change/").status_code == 200
    assert client.get("/admin/core/objectchange/add/").status_code == 403
    assert (
        client.post(f"/admin/core/objectchange/{row.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    changelist = client.get("/admin/core/objectchange/")
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    assert ObjectChange.objects.filter(pk=row.pk).exists()
    assert set(
        Permission.objects.filter(
            content_type=ContentType.objects.get_for_model(ObjectChange)
        ).values_list("codename", flat=True)
    ) == {"view_objectchange"}


def test_both_staff_groups_may_view_the_audit_trail():
    for name in (AUDITOR, COMPLIANCE_OFFICER):
        assert (
            Group.objects.get(name=name).permissions.filter(codename="view_objectchange").exists()
        ), name


def test_the_audit_trail_shows_staff_only_their_organizations_rows(
    client, auditor, organization, other_organization
):
    actor = Actor.system("tests")
    ours = LicenseApplicationFactory(
        organization=organization, exporter=ExporterFactory(organization=organization)
    )
    theirs = LicenseApplicationFactory(
        organization=other_organization, exporter=ExporterFactory(organization=other_organization)
    )
    for application in (ours, theirs):
        application_update(application=application, actor=actor, end_use="Wind turbines.")
    shared = CalendarException.objects.create(
        country="CN", date=dt.date(2026, 2, 15), is_working_day=False, source="Notice"
    )
    audit_record(actor=actor, instance=shared, action="update", changes={})
    client.force_login(auditor)

    page = client.get("/admin/core/objectchange/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f"/admin/core/objectchange/{rows_for(ours)[0].pk}/change/" in html
    assert f"/admin/core/objectchange/{rows_for(shared)[0].pk}/change/" in html
    assert f"/admin/core/objectchange/{rows_for(theirs)[0].pk}/change/" not in html
    assert (
        client.get(f"/admin/core/objectchange/{rows_for(theirs)[0].pk}/change/").status_code
        == 302  # "does not exist", back to the list
    )


def test_a_level_changed_inline_is_recorded_on_its_rule(client, officer, organization):
    rule = threshold_rule_create(
        organization=organization,
        levels=[LevelInput(level="warning", after=20), LevelInput(level="critical", after=30)],
        actor=Actor.system("tests"),
        name="Fast lane",
    )
    warning = rule.levels.get(level="warning")
    client.force_login(officer)
    change_url = f"/admin/licensing/thresholdrule/{rule.pk}/change/"
    page = client.get(change_url)
    prefix = re.search(r'name="([\w-]+)-TOTAL_FORMS"', page.content.decode()).group(1)
    forms = [
        name
        for name in re.findall(rf'name="({prefix}-\d+)-id" value="(\d+)"', page.content.decode())
        if name[1] == str(warning.pk)
    ]
    (form_prefix, _) = forms[0]

    response = submit(client, change_url, **{f"{form_prefix}-after": "25"})

    assert response.status_code == 302, response.content
    # The rule is saved by threshold_rule_update, as through the API: its levels are one
    # change of the rule.
    (_created, row) = rows_for(rule)
    assert row.action == "update"
    assert row.actor_label == "user:officer"
    assert row.request_id == response["X-Request-ID"]
    assert row.organization_id == str(organization.pk)
    before, after = row.changes["levels"]
    assert "warning after 20 working_days" in before
    assert "warning after 25 working_days" in after
    assert "critical after 30 working_days" in after
    history = client.get(f"/admin/licensing/thresholdrule/{rule.pk}/history/").content.decode()
    assert "warning after 25 working_days" in history
