"""The "Delays" dashboard at /admin/delays/: its figures, who sees which, and its query count.

The fixture is a known world on China's calendar, with the time frozen at Thursday
18 December 2025, 10:00 in Beijing, and every application walked through the services.
Working days waited on that day, counted by hand (1-8 Oct 2025 are off, Sun 28 Sep and
Sat 11 Oct are make-up working days; November and December have no holiday):

    accepted Fri 26 Sep   55 working days   overdue (deadline Thu 4 Dec)
    accepted Wed 22 Oct   41                critical (40)
    accepted Fri 31 Oct   34                warning (30)
    accepted Mon 10 Nov   28                none
    accepted Mon 10 Nov,  18                none: information requested Mon 17 Nov,
      paused 10 days                          answered Mon 1 Dec pauses 18 Nov - 1 Dec
    accepted Tue 16 Dec    2                none
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from licensing.models import DelayAlert, LicenseApplication, StatusChange
from licensing.services.delays import delays_scan
from licensing.staff_groups import AUDITOR, COMPLIANCE_OFFICER
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    LicensingAuthorityFactory,
    OrganizationFactory,
    walk_application,
    walk_to_review,
)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 12, 18, 10, 0, tzinfo=SHANGHAI)
DASHBOARD = "/admin/delays/"


def beijing(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=SHANGHAI)


# -- reading the page as a user would ----------------------------------------------------------


class _Tables(HTMLParser):
    """Each <table id=...>: its body rows as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id"):
            self._table = attributes["id"]
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(response) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser.tables


def rows_by_label(table: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in table}


def level_cards(response) -> dict[str, int]:
    html = response.content.decode()
    return {
        label: int(count)
        for count, label in re.findall(
            r'<span class="level-count">(\d+)</span>\s*<span class="level-label">([^<]+)</span>',
            html,
        )
    }


def open_total(response) -> int:
    return int(re.search(r'<strong id="open-total">(\d+)</strong>', response.content.decode())[1])


# -- the world -------------------------------------------------------------------------------


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW.astimezone(dt.UTC))
    return NOW


def accepted(accepted_on: str, *, reference: str, organization, exporter, item, destination="DE"):
    """A CN-MOFCOM application submitted, accepted on `accepted_on` and under review."""
    application = LicenseApplicationFactory(
        organization=organization,
        exporter=exporter,
        authority=item.authority,
        destination_country=destination,
        line__item=item,
    )
    accepted_at = beijing(accepted_on)
    walk_to_review(application, accepted_at, authority_reference=reference)
    return application


@pytest.fixture
def world(frozen_now):
    """Two organizations' applications on the frozen day, scanned once (alerts raised)."""
    home = OrganizationFactory(name="Rheinland Motoren GmbH")
    away = OrganizationFactory(name="Kansai Precision Tools K.K.")
    mofcom = LicensingAuthorityFactory(code="CN-MOFCOM")
    us_bis = LicensingAuthorityFactory(code="US-BIS")
    dysprosium = ControlledItemFactory(
        control_code="TEST-DY", authority=mofcom, material_family="rare_earth"
    )
    gallium = ControlledItemFactory(
        control_code="TEST-GA", authority=mofcom, material_family="gallium"
    )
    wire = ControlledItemFactory(
        control_code="TEST-US", authority=us_bis, material_family="tungsten"
    )
    magnets = ExporterFactory(organization=home, name="Ganzhou Magnets Co., Ltd.")
    metals = ExporterFactory(organization=home, name="Jiangxi Metals Co., Ltd.")
    foreign = ExporterFactory(organization=away, name="Away Exporter Co., Ltd.")

    apps = {
        "overdue": accepted(
            "2025-09-26",
            reference="MOFCOM-OVERDUE",
            organization=home,
            exporter=magnets,
            item=dysprosium,
        ),
        "critical": accepted(
            "2025-10-22",
            reference="MOFCOM-CRITICAL",
            organization=home,
            exporter=magnets,
            item=gallium,
        ),
        "warning": accepted(
            "2025-10-31",
            reference="MOFCOM-WARNING",
            organization=home,
            exporter=metals,
            item=dysprosium,
            destination="JP",
        ),
        "quiet": accepted(
            "2025-11-10",
            reference="MOFCOM-QUIET",
            organization=home,
            exporter=metals,
            item=dysprosium,
        ),
        "paused": accepted(
            "2025-11-10",
            reference="MOFCOM-PAUSED",
            organization=home,
            exporter=magnets,
            item=gallium,
            destination="US",
        ),
        "fresh": accepted(
            "2025-12-16",
            reference="MOFCOM-FRESH",
            organization=home,
            exporter=magnets,
            item=dysprosium,
            destination="JP",
        ),
        "draft": LicenseApplicationFactory(
            organization=home, exporter=metals, authority=us_bis, line__item=wire
        ),
        "away": accepted(
            "2025-09-26",
            reference="MOFCOM-AWAY",
            organization=away,
            exporter=foreign,
            item=dysprosium,
        ),
    }
    walk_application(
        apps["paused"],
        [("info_requested", beijing("2025-11-17")), ("under_review", beijing("2025-12-01"))],
    )
    decided = accepted(
        "2025-09-26", reference="DECIDED", organization=home, exporter=magnets, item=dysprosium
    )
    walk_application(decided, [("approved", beijing("2025-12-02"))])
    delays_scan(now=NOW)
    # The overdue application's warning is from last month: not one of this week's alerts.
    DelayAlert.objects.filter(application=apps["overdue"], level="warning").update(
        raised_at=NOW - dt.timedelta(days=30)
    )
    for application in apps.values():
        application.refresh_from_db()
    return {"home": home, "away": away, "apps": apps}


def staff_user(django_user_model, username: str, *, group: str | None, organizations=()):
    user = django_user_model.objects.create_user(
        username=username, password="a-long-test-password", is_staff=True
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    for organization in organizations:
        organization.members.add(user)
    return user


@pytest.fixture
def officer(django_user_model, world):
    return staff_user(
        django_user_model, "officer", group=COMPLIANCE_OFFICER, organizations=[world["home"]]
    )


@pytest.fixture
def auditor(django_user_model, world):
    return staff_user(django_user_model, "auditor", group=AUDITOR, organizations=[world["home"]])


@pytest.fixture
def outsider(django_user_model, world):
    """A compliance officer of the other organization only."""
    return staff_user(
        django_user_model, "outsider", group=COMPLIANCE_OFFICER, organizations=[world["away"]]
    )


def dashboard_as(client, user):
    client.force_login(user)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    return response


# -- the figures -------------------------------------------------------------------------------


def test_the_world_has_the_levels_the_hand_count_says(world):
    apps = world["apps"]
    assert {name: apps[name].delay_level for name in apps} == {
        "overdue": "overdue",
        "critical": "critical",
        "warning": "warning",
        "quiet": "none",
        "paused": "none",
        "fresh": "none",
        "draft": "none",
        "away": "overdue",
    }


def test_officer_sees_their_organizations_counts(client, officer):
    response = dashboard_as(client, officer)

    assert open_total(response) == 7
    assert level_cards(response) == {"No delay": 4, "Warning": 1, "Critical": 1, "Overdue": 1}
    page = tables(response)
    assert rows_by_label(page["by-authority"]) == {
        "CN-MOFCOM": ["6", "1", "1", "1"],
        "US-BIS": ["1", "0", "0", "0"],
    }
    assert rows_by_label(page["by-material-family"]) == {
        "rare earths": ["4", "1", "0", "1"],
        "gallium": ["2", "0", "1", "0"],
        "tungsten": ["1", "0", "0", "0"],
    }
    assert rows_by_label(page["by-destination"]) == {
        "Germany (DE)": ["4", "0", "1", "1"],
        "Japan (JP)": ["2", "1", "0", "0"],
        "United States of America (US)": ["1", "0", "0", "0"],
    }
    assert rows_by_label(page["by-exporter"]) == {
        "Ganzhou Magnets Co., Ltd.": ["4", "0", "1", "1"],
        "Jiangxi Metals Co., Ltd.": ["3", "1", "0", "0"],
    }


def test_ageing_counts_working_days_net_of_pauses(client, officer):
    page = tables(dashboard_as(client, officer))

    assert rows_by_label(page["ageing"]) == {
        "0-10": ["1"],  # fresh: 2
        "11-20": ["1"],  # paused: 28 - 10 paused = 18
        "21-30": ["1"],  # quiet: 28
        "31-40": ["1"],  # warning: 34
        "41-45": ["1"],  # critical: 41
        "46+": ["1"],  # overdue: 55
        "Clock not started": ["1"],  # the draft
    }


def test_oldest_lists_the_longest_waits_first_with_links(client, officer, world):
    response = dashboard_as(client, officer)
    apps = world["apps"]

    oldest = tables(response)["oldest"]
    assert [row[1] for row in oldest] == ["55", "41", "34", "28", "18", "2"]
    assert [row[2] for row in oldest[:3]] == ["overdue", "critical", "warning"]
    html = response.content.decode()
    first_link = reverse("admin:licensing_licenseapplication_change", args=[apps["overdue"].pk])
    assert f'<a href="{first_link}">{apps["overdue"]}</a>' in html
    away_link = reverse("admin:licensing_licenseapplication_change", args=[apps["away"].pk])
    assert away_link not in html


def test_recent_alerts_are_this_weeks_of_the_users_organizations(client, officer, world):
    response = dashboard_as(client, officer)

    this_week = DelayAlert.objects.filter(
        organization=world["home"], raised_at__gte=NOW - dt.timedelta(days=7)
    )
    # overdue's critical, overdue and first repeat (its warning is older); critical's
    # warning and critical; warning's warning.
    assert this_week.count() == 6
    alerts = tables(response)["recent-alerts"]
    assert len(alerts) == 6
    assert re.search(r'id="recent-alert-count">6<', response.content.decode())
    assert {row[3] for row in alerts} == {
        str(world["apps"][name]) for name in ("overdue", "critical", "warning")
    }


def test_superuser_sees_every_organization(client, django_user_model, world):
    admin = django_user_model.objects.create_superuser("root", password="a-long-test-password")
    response = dashboard_as(client, admin)

    assert open_total(response) == 8
    assert level_cards(response)["Overdue"] == 2
    page = tables(response)
    assert rows_by_label(page["by-exporter"])["Away Exporter Co., Ltd."] == ["1", "0", "0", "1"]
    assert tables(response)["oldest"][0][1] == "55"
    assert len(page["oldest"]) == 7


def test_staff_of_another_organization_see_only_its_numbers(client, outsider, world):
    response = dashboard_as(client, outsider)

    assert open_total(response) == 1
    assert level_cards(response) == {"No delay": 0, "Warning": 0, "Critical": 0, "Overdue": 1}
    page = tables(response)
    assert rows_by_label(page["by-exporter"]) == {"Away Exporter Co., Ltd.": ["1", "0", "0", "1"]}
    assert "Ganzhou Magnets" not in response.content.decode()
    assert [row[1] for row in page["oldest"]] == ["55"]
    assert all(str(world["apps"]["away"]) == row[3] for row in page["recent-alerts"])


def test_auditor_can_read_the_dashboard(client, auditor):
    response = dashboard_as(client, auditor)
    assert open_total(response) == 7
    assert "<svg" in response.content.decode()


def test_charts_are_inline_svg_and_nothing_comes_from_elsewhere(client, officer):
    html = dashboard_as(client, officer).content.decode()

    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart') == 7  # levels,
    # ageing, four breakdowns and the lead times
    assert "Open applications by working days waited" in html
    external = re.findall(r'(?:src|href)="(https?:)?//', html)
    assert external == []
    assert "/static/licensing/dashboard.css" in html


def test_a_level_card_links_to_the_changelist_of_those_applications(client, officer, world):
    response = dashboard_as(client, officer)
    link = re.search(
        r'<li class="level-card level-overdue">\s*<a href="([^"]+)"', response.content.decode()
    )[1].replace("&amp;", "&")

    changelist = client.get(link)

    assert changelist.status_code == 200
    html = changelist.content.decode()
    change = "admin:licensing_licenseapplication_change"
    assert reverse(change, args=[world["apps"]["overdue"].pk]) in html
    assert reverse(change, args=[world["apps"]["quiet"].pk]) not in html


# -- access ------------------------------------------------------------------------------------


def test_the_admin_index_links_to_the_dashboard(client, officer):
    client.force_login(officer)
    response = client.get(reverse("admin:index"))
    assert re.search(r'<a href="/admin/delays/">Delays dashboard</a>', response.content.decode())
    assert reverse("admin:delay-dashboard") == DASHBOARD


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_view_permission_are_refused(client, django_user_model, world):
    clerk = staff_user(django_user_model, "clerk", group=None, organizations=[world["home"]])
    client.force_login(clerk)
    assert client.get(DASHBOARD).status_code == 403
    assert "Delays dashboard" not in client.get(reverse("admin:index")).content.decode()


# -- query count -------------------------------------------------------------------------------


def _queries_for_dashboard(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(DASHBOARD)
    assert response.status_code == 200
    return len(queries)


def _open_applications(count: int, *, organization, exporters, items) -> None:
    """`count` open applications with started clocks, some paused, set up directly (the
    query count does not depend on how they got there)."""
    for index in range(count):
        item = items[index % len(items)]
        application = LicenseApplicationFactory(
            organization=organization,
            exporter=exporters[index % len(exporters)],
            authority=item.authority,
            destination_country=("DE", "JP", "US", "FR")[index % 4],
            line__item=item,
            status="under_review" if index % 3 else "info_requested",
            clock_started_at=NOW - dt.timedelta(days=5 + index % 70),
            delay_level=("none", "warning", "critical", "overdue")[index % 4],
        )
        if index % 3 == 0:
            StatusChange.objects.create(
                application=application,
                from_status="under_review",
                to_status="info_requested",
                occurred_at=NOW - dt.timedelta(days=2),
            )
            application.clock_stops.create(
                kind="expert_review", started_on=(NOW - dt.timedelta(days=4)).date()
            )


def test_query_count_does_not_grow_with_the_applications(client, django_user_model, frozen_now):
    organization = OrganizationFactory(name="Rheinland Motoren GmbH")
    mofcom = LicensingAuthorityFactory(code="CN-MOFCOM")
    us_bis = LicensingAuthorityFactory(code="US-BIS")
    items = [
        ControlledItemFactory(control_code="TEST-DY", authority=mofcom),
        ControlledItemFactory(control_code="TEST-GA", authority=mofcom, material_family="gallium"),
        ControlledItemFactory(control_code="TEST-US", authority=us_bis),
    ]
    exporters = [ExporterFactory(organization=organization) for _ in range(3)]
    officer = staff_user(
        django_user_model, "officer", group=COMPLIANCE_OFFICER, organizations=[organization]
    )
    client.force_login(officer)

    _open_applications(10, organization=organization, exporters=exporters, items=items)
    client.get(DASHBOARD)  # warm the per-process calendar cache
    with_10 = _queries_for_dashboard(client)
    _open_applications(190, organization=organization, exporters=exporters, items=items)
    with_200 = _queries_for_dashboard(client)

    assert LicenseApplication.objects.count() == 200
    assert with_200 == with_10, f"{with_10} queries with 10 applications, {with_200} with 200"
    assert with_10 <= 20, with_10


def test_lead_time_chart_shows_the_median_and_p90_of_the_users_decisions(client, officer, world):
    """The one decision (accepted Fri 26 Sep, approved Tue 2 Dec) took 43 working days:
    55 waited by Thu 18 Dec, less the 12 working days 3-18 Dec."""
    decided = LicenseApplication.objects.get(authority_reference="DECIDED")
    assert decided.decision_working_days == 43
    away_decision = world["apps"]["away"]
    walk_application(away_decision, [("denied", beijing("2025-12-10"))])

    response = dashboard_as(client, officer)

    rows = tables(response)["lead-times"]
    assert len(rows) == 1  # the other organization's denial is not the officer's
    label, median, p90, decisions = rows[0]
    assert "CN-MOFCOM" in label
    assert (median, p90, decisions) == ("43", "43", "1")
    assert "<svg" in response.content.decode().split('id="lead-times-heading"')[1]
