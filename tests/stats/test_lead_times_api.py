"""GET /api/v1/stats/lead-times/: the figures a client reads, exact for a known history.

The history (tests/stats/conftest.py) stores its decided applications' durations directly
(a queryset update), so every median and share below is known; open applications go
through the services, so their ages come from the real clock.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.clock import application_clock
from licensing.models import ApplicationStatus, LicenseApplication
from tests.api.contract import assert_problem, key_client, ok, pointers
from tests.factories import application_in_status, walk_application

URL = "/api/v1/stats/lead-times/"
S = ApplicationStatus


def report(client, **params) -> dict:
    return ok(client.get(URL, params))


def groups(body: dict) -> dict[str, dict]:
    return {group["key"]: group for group in body["groups"]}


def durations(sample_size, median, p75, p90) -> dict:
    return {"sample_size": sample_size, "median": median, "p75": p75, "p90": p90}


# Working days of the authority decisions A1, A2, A3, A5: 10, 20, 30, 40 (A4 withdrew).
MOFCOM_WORKING = durations(4, 25.0, 32.5, 37.0)
MOFCOM_CALENDAR = durations(4, 35.0, 45.5, 51.8)
MOFCOM_DECIDED = {
    "count": 5,
    "approved": 3,
    "denied": 1,
    "withdrawn": 1,
    "approved_share": 0.6,
    "denied_share": 0.2,
    "withdrawn_share": 0.2,
}
# B1 approved without a stored duration, B2 denied after 7 working days.
BIS_DECIDED = {
    "count": 2,
    "approved": 1,
    "denied": 1,
    "withdrawn": 0,
    "approved_share": 0.5,
    "denied_share": 0.5,
    "withdrawn_share": 0.0,
}
NO_OPEN = {"count": 0, "oldest": None}


def test_by_authority_every_figure_is_exact(history):
    body = report(history.world.ours.api)

    assert body["group_by"] == "authority"
    assert body["window"] == {"by": "decision", "from": None, "to": None}
    assert body["pooling"] == {"enabled": False, "min_samples": 5, "min_organizations": 3}
    mofcom, bis = body["groups"]
    assert mofcom == {
        "key": "CN-MOFCOM",
        "label": history.world.authority.name,
        "decided": MOFCOM_DECIDED,
        "decision_time": {"working_days": MOFCOM_WORKING, "calendar_days": MOFCOM_CALENDAR},
        "open": NO_OPEN,
        "pooled": None,
    }
    assert bis["key"] == "US-BIS"
    assert bis["label"] == "U.S. Department of Commerce, Bureau of Industry and Security"
    assert bis["decided"] == BIS_DECIDED
    assert bis["decision_time"] == {
        "working_days": durations(1, 7.0, 7.0, 7.0),
        "calendar_days": durations(1, 9.0, 9.0, 9.0),
    }


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (
            "item",
            {
                # A5 has two lines of 1C905: counted once there, and once for 1C904.
                "1C905": ("Dysprosium and dysprosium compounds", 5, MOFCOM_WORKING),
                "1C904": ("Terbium and terbium compounds", 1, durations(1, 40.0, 40.0, 40.0)),
                "CN-23-GA": ("Gallium and gallium compounds", 2, durations(1, 7.0, 7.0, 7.0)),
            },
        ),
        (
            "material_family",
            {
                # A5's three rare-earth lines count once.
                "rare_earth": ("rare earths", 5, MOFCOM_WORKING),
                "gallium": ("gallium", 2, durations(1, 7.0, 7.0, 7.0)),
            },
        ),
        (
            "destination_country",
            {
                "DE": ("Germany", 5, MOFCOM_WORKING),
                "JP": ("Japan", 2, durations(1, 7.0, 7.0, 7.0)),
            },
        ),
        (
            "month",
            {
                "2025-03": ("March 2025", 2, durations(2, 15.0, 17.5, 19.0)),  # A1, A2
                "2025-04": ("April 2025", 3, durations(2, 35.0, 37.5, 39.0)),  # A3, A4, A5
                "2025-05": ("May 2025", 2, durations(1, 7.0, 7.0, 7.0)),  # B1, B2
            },
        ),
    ],
)
def test_every_group_by_gives_exact_figures(history, group_by, expected):
    body = report(history.world.ours.api, group_by=group_by)

    assert body["group_by"] == group_by
    found = {
        key: (group["label"], group["decided"]["count"], group["decision_time"]["working_days"])
        for key, group in groups(body).items()
    }
    assert found == expected
    assert [group["key"] for group in body["groups"]] == sorted(expected)


def test_by_exporter_keys_are_exporter_ids_labelled_with_their_names(history):
    body = report(history.world.ours.api, group_by="exporter")

    found = groups(body)
    rare_earth, gallium = history.rare_earth_exporter, history.gallium_exporter
    assert set(found) == {str(rare_earth.pk), str(gallium.pk)}
    assert found[str(rare_earth.pk)]["label"] == rare_earth.name
    assert found[str(rare_earth.pk)]["decided"] == MOFCOM_DECIDED
    assert found[str(rare_earth.pk)]["decision_time"]["calendar_days"] == MOFCOM_CALENDAR
    assert found[str(gallium.pk)]["label"] == "Zhuzhou Gallium Works Co., Ltd."
    assert found[str(gallium.pk)]["decided"] == BIS_DECIDED


def test_another_organizations_durations_never_show(history):
    """Theirs: three 1C905 approvals after 99 working days. Ours never include them."""
    ours = report(history.world.ours.api, group_by="item")
    assert groups(ours)["1C905"]["decided"]["count"] == 5
    assert groups(ours)["1C905"]["decision_time"]["working_days"] == MOFCOM_WORKING

    theirs = report(history.world.theirs.api, group_by="item")
    assert list(groups(theirs)) == ["1C905"]
    assert groups(theirs)["1C905"]["decided"]["count"] == 3
    assert groups(theirs)["1C905"]["decision_time"]["working_days"] == durations(3, 99, 99, 99)

    # Filtered by their exporter, ours is empty rather than theirs.
    filtered = report(history.world.ours.api, exporter=str(history.world.theirs.exporter.pk))
    assert filtered["groups"] == []


def test_no_key_is_a_401_problem(history):
    response = key_client().get(URL)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_read_only_key_reads_with_or_without_the_trailing_slash(history):
    client = history.world.ours.read_only_client()
    body = report(client)
    assert groups(body)["CN-MOFCOM"]["decided"] == MOFCOM_DECIDED
    assert ok(client.get(URL.rstrip("/"))) == body


def test_only_get_is_allowed(history):
    response = history.world.ours.api.post(URL, {}, format="json")
    assert_problem(response, 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"group_by": "organization"}, "/group_by"),
        ({"window": "submission"}, "/window"),
        ({"from": "yesterday"}, "/from"),
        ({"from": "2025-02-30"}, "/from"),
        ({"to": "2025-01-01T00:00:00Z"}, "/to"),
        ({"from": "2025-06-01", "to": "2025-05-31"}, "/to"),
        ({"exporter": "not-a-uuid"}, "/exporter"),
        ({"destination_country": "XX"}, "/destination_country"),
        ({"license_type": "temporary"}, "/license_type"),
        ({"status": ["approved", "lost"]}, "/status/1"),
        ({"material_family": "unobtainium"}, "/material_family"),
        ({"authority": "A" * 21}, "/authority"),
        ({"item": "X" * 31}, "/item"),
        ({"status": ["approved"] * 12}, "/status"),
    ],
)
def test_a_bad_parameter_is_a_400_problem_naming_it(history, params, pointer):
    response = history.world.ours.api.get(URL, params)
    body = assert_problem(response, 400, "invalid")
    assert pointers(body) == {pointer}, body


@pytest.mark.parametrize(
    ("params", "decided"),
    [
        ({"from": "0001-01-01", "to": "9999-12-31"}, 7),
        ({"from": "9999-12-31"}, 0),
        ({"to": "0001-01-01", "window": "clock_start"}, 0),
        ({"group_by": "month", "window": "clock_start", "to": "9999-12-31"}, 7),
    ],
)
def test_the_extreme_dates_of_the_calendar_bound_a_window_too(history, params, decided):
    body = report(history.world.ours.api, **params)
    assert sum(group["decided"]["count"] for group in body["groups"]) == decided


def test_the_window_bounds_decisions_or_clock_starts(history):
    api = history.world.ours.api
    # Decided in April 2025: A2 (04-07) and A4 (04-09, withdrawn).
    by_decision = groups(report(api, **{"from": "2025-04-01", "to": "2025-04-30"}))
    assert list(by_decision) == ["CN-MOFCOM"]
    assert by_decision["CN-MOFCOM"]["decided"]["count"] == 2
    assert by_decision["CN-MOFCOM"]["decided"]["withdrawn"] == 1
    assert by_decision["CN-MOFCOM"]["decision_time"]["working_days"] == durations(
        1, 20.0, 20.0, 20.0
    )

    # Clock started in April 2025: A3, A4, A5.
    by_start = report(api, window="clock_start", **{"from": "2025-04-01", "to": "2025-04-30"})
    assert by_start["window"] == {"by": "clock_start", "from": "2025-04-01", "to": "2025-04-30"}
    mofcom = groups(by_start)["CN-MOFCOM"]
    assert mofcom["decided"]["count"] == 3
    assert mofcom["decision_time"]["working_days"] == durations(2, 35.0, 37.5, 39.0)

    # Both bounds are inclusive days: a window of one day holds that day's decisions.
    one_day = groups(report(api, **{"from": "2025-05-15", "to": "2025-05-15"}))
    assert list(one_day) == ["US-BIS"]
    assert one_day["US-BIS"]["decided"]["denied"] == 1


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"authority": "US-BIS"}, {"US-BIS": 2}),
        ({"status": ["denied"]}, {"CN-MOFCOM": 1, "US-BIS": 1}),
        ({"status": ["approved", "expired"]}, {"CN-MOFCOM": 3, "US-BIS": 1}),
        ({"item": "1C904"}, {"CN-MOFCOM": 1}),
        ({"material_family": "gallium"}, {"US-BIS": 2}),
        ({"destination_country": "JP"}, {"US-BIS": 2}),
        ({"license_type": "single"}, {"CN-MOFCOM": 5}),
        ({"authority": "NO-SUCH"}, {}),
    ],
)
def test_filters_select_applications_before_grouping(history, params, expected):
    body = report(history.world.ours.api, **params)
    assert {key: group["decided"]["count"] for key, group in groups(body).items()} == expected


def test_a_filter_by_item_keeps_the_other_items_of_those_applications(history):
    """Filters pick applications; grouping by item then shows all their distinct items."""
    body = report(history.world.ours.api, group_by="item", item="1C904")
    assert {key: group["decided"]["count"] for key, group in groups(body).items()} == {
        "1C904": 1,
        "1C905": 1,
    }


def test_open_applications_count_and_the_oldest_age_comes_from_its_clock(history):
    """Two open applications through the services; the older waited through an info request."""
    ours = history.world.ours
    now = timezone.now()
    older = application_in_status(
        S.UNDER_REVIEW,
        first_step_at=now - dt.timedelta(days=70),
        organization=ours.organization,
        exporter=ours.exporter,
        authority=history.world.authority,
        line__item=history.dysprosium,
    )

    walk_application(
        older,
        [
            (S.INFO_REQUESTED, now - dt.timedelta(days=50)),
            (S.UNDER_REVIEW, now - dt.timedelta(days=40)),
        ],
    )
    application_in_status(
        S.ACCEPTED,
        first_step_at=now - dt.timedelta(days=20),
        organization=ours.organization,
        exporter=ours.exporter,
        authority=history.world.authority,
        line__item=history.dysprosium,
    )
    # A draft has no clock: not open in the statistics.
    application_in_status(
        S.DRAFT, organization=ours.organization, exporter=ours.exporter, line__item=history.terbium
    )

    body = report(ours.api, group_by="item")

    older.refresh_from_db()
    zone = ZoneInfo("Asia/Shanghai")
    clock = application_clock(older)
    assert clock.paused_days > 0  # the information request paused it
    assert groups(body)["1C905"]["open"] == {
        "count": 2,
        "oldest": {
            "application": str(older.pk),
            "clock_started_at": older.clock_started_at.isoformat().replace("+00:00", "Z"),
            "age_working_days": clock.elapsed,
            "age_calendar_days": (
                timezone.now().astimezone(zone).date()
                - older.clock_started_at.astimezone(zone).date()
            ).days,
        },
    }
    assert groups(body)["1C904"]["open"] == NO_OPEN
    # The open ones have no decision: the decision window leaves them counted.
    windowed = report(ours.api, **{"from": "2025-03-01", "to": "2025-03-31"})
    assert groups(windowed)["CN-MOFCOM"]["open"]["count"] == 2
    # By clock start, only those whose clock started in the window.
    recent = (now - dt.timedelta(days=30)).date().isoformat()
    windowed = report(ours.api, window="clock_start", **{"from": recent})
    assert groups(windowed)["CN-MOFCOM"]["open"]["count"] == 1
    assert groups(windowed)["CN-MOFCOM"]["decided"]["count"] == 0


def test_the_query_count_does_not_grow_with_the_applications(history):
    ours = history.world.ours

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            report(ours.api, group_by="item")
        return len(captured)

    def open_one(item) -> LicenseApplication:
        return application_in_status(
            S.UNDER_REVIEW,
            organization=ours.organization,
            exporter=ours.exporter,
            authority=history.world.authority,
            line__item=item,
        )

    open_one(history.dysprosium)
    report(ours.api, group_by="item")  # warm: the calendar
    few = queries()
    for item in (history.dysprosium, history.terbium, history.gallium) * 4:
        open_one(item)
    assert queries() == few


def test_the_open_age_counts_in_the_unit_of_the_authoritys_clock(history):
    """US-BIS counts calendar days from submission: its `working_days` are those days."""
    ours = history.world.ours
    bis = LicenseApplication.objects.filter(authority__code="US-BIS").first().authority
    waiting = application_in_status(
        S.SUBMITTED,
        first_step_at=timezone.now() - dt.timedelta(days=30),
        organization=ours.organization,
        exporter=ours.exporter,
        authority=bis,
        line__item=history.gallium,
    )

    oldest = groups(report(ours.api))["US-BIS"]["open"]["oldest"]

    waiting.refresh_from_db()
    clock = application_clock(waiting)
    assert clock.unit == "calendar_days"
    assert oldest["application"] == str(waiting.pk)
    assert oldest["age_working_days"] == clock.elapsed == oldest["age_calendar_days"]
