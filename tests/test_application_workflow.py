"""The application workflow: which status changes are allowed, what they record, and when."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.errors import FieldErrors, InvalidTransition
from core.request_id import request_id_scope
from licensing.models import ApplicationStatus, LicenseApplication, StatusChange
from licensing.models.applications import APPLICATION_TRANSITIONS
from licensing.services.applications import application_transition
from tests.factories import (
    LicenseApplicationFactory,
    application_in_status,
    status_path,
    transition_fields,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATUSES = list(ApplicationStatus.values)
MATRIX = [(current, requested) for current in STATUSES for requested in STATUSES]
ALLOWED = [pair for pair in MATRIX if pair[1] in APPLICATION_TRANSITIONS[pair[0]]]
FORBIDDEN = [pair for pair in MATRIX if pair[1] not in APPLICATION_TRANSITIONS[pair[0]]]


def _pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}->{pair[1]}"


def _persisted_state(application: LicenseApplication) -> dict:
    """Everything a refused transition must leave untouched, read back from the database."""
    fresh = LicenseApplication.objects.get(pk=application.pk)
    return {
        field: getattr(fresh, field)
        for field in (
            "status",
            "version",
            "updated_at",
            "authority_reference",
            "license_number",
            "valid_from",
            "valid_until",
            "submitted_at",
            "accepted_at",
            "clock_started_at",
            "decided_at",
            "decision_note",
        )
    } | {
        "changes": list(
            StatusChange.objects.filter(application=application)
            .order_by("occurred_at")
            .values_list("pk", "from_status", "to_status")
        )
    }


def test_the_workflow_table_covers_every_status_and_every_status_is_reachable():
    assert set(APPLICATION_TRANSITIONS) == set(STATUSES)
    for status in STATUSES:
        assert set(APPLICATION_TRANSITIONS[status]) <= set(STATUSES)
        if status != ApplicationStatus.DRAFT:
            assert status_path(status)[-1] == status
    assert len(MATRIX) == len(ALLOWED) + len(FORBIDDEN) == len(STATUSES) ** 2


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=map(_pair_id, ALLOWED))
def test_allowed_transition_moves_the_status_and_records_who_when_and_which_request(
    from_status, to_status, staff_actor
):
    application = application_in_status(
        from_status, first_step_at=timezone.now() - dt.timedelta(days=30)
    )
    version_before = LicenseApplication.objects.get(pk=application.pk).version
    changes_before = StatusChange.objects.filter(application=application).count()
    occurred_at = timezone.now() - dt.timedelta(days=2)

    with request_id_scope("req-workflow-1") as request_id:
        change = application_transition(
            application=application,
            to_status=to_status,
            actor=staff_actor,
            occurred_at=occurred_at,
            note="Per the authority's notice.",
            **transition_fields(to_status),
        )

    stored = LicenseApplication.objects.get(pk=application.pk)
    assert stored.status == to_status
    assert stored.version == version_before + 1
    assert application.status == to_status  # the caller's instance follows
    assert StatusChange.objects.filter(application=application).count() == changes_before + 1
    row = StatusChange.objects.get(pk=change.pk)
    assert (row.from_status, row.to_status) == (from_status, to_status)
    assert row.occurred_at == occurred_at
    assert row.actor_label == "user:officer"
    assert row.actor == staff_actor.user
    assert row.request_id == request_id == "req-workflow-1"
    assert row.note == "Per the authority's notice."


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN, ids=map(_pair_id, FORBIDDEN))
def test_forbidden_transition_names_the_current_and_allowed_statuses_and_writes_nothing(
    from_status, to_status, actor
):
    application = application_in_status(from_status)
    before = _persisted_state(application)
    allowed = list(APPLICATION_TRANSITIONS[from_status])

    with pytest.raises(InvalidTransition) as caught:
        application_transition(
            application=application,
            to_status=to_status,
            actor=actor,
            occurred_at=timezone.now() - dt.timedelta(minutes=1),
            **transition_fields(to_status),
        )

    error = caught.value
    assert error.status == 409
    assert f"Cannot move from '{from_status}' to '{to_status}'." in error.detail
    named = error.detail.split(f"Allowed from '{from_status}': ", 1)[1].removesuffix(".")
    if allowed:
        assert named.split(", ") == allowed
    else:
        assert named == "none (the status is final)"
    assert error.extra == {"current_status": from_status, "allowed_transitions": allowed}
    assert _persisted_state(application) == before


@pytest.mark.django_db
def test_unknown_status_is_refused_with_the_list_of_statuses(actor):
    application = LicenseApplicationFactory()
    with pytest.raises(FieldErrors) as caught:
        application_transition(application=application, to_status="approve", actor=actor)
    assert list(caught.value.errors) == ["/to"]
    assert "under_review" in caught.value.errors["/to"][0]
    assert LicenseApplication.objects.get(pk=application.pk).status == ApplicationStatus.DRAFT


# --- What each target status needs -------------------------------------------------------


@pytest.mark.django_db
def test_submission_needs_at_least_one_line(actor):
    application = LicenseApplicationFactory(line=None)
    with pytest.raises(FieldErrors) as caught:
        application_transition(application=application, to_status="submitted", actor=actor)
    assert list(caught.value.errors) == ["/lines"]
    assert LicenseApplication.objects.get(pk=application.pk).status == "draft"
    assert not StatusChange.objects.filter(application=application).exists()


@pytest.mark.django_db
def test_acceptance_needs_the_authority_reference(actor):
    application = application_in_status("submitted")
    with pytest.raises(FieldErrors) as caught:
        application_transition(application=application, to_status="accepted", actor=actor)
    assert list(caught.value.errors) == ["/authority_reference"]
    assert LicenseApplication.objects.get(pk=application.pk).status == "submitted"

    application_transition(
        application=application,
        to_status="accepted",
        actor=actor,
        authority_reference="MOFCOM-2025-0815",
    )
    stored = LicenseApplication.objects.get(pk=application.pk)
    assert (stored.status, stored.authority_reference) == ("accepted", "MOFCOM-2025-0815")


@pytest.mark.django_db
def test_approval_needs_license_number_and_validity(actor):
    application = application_in_status("under_review")
    with pytest.raises(FieldErrors) as caught:
        application_transition(application=application, to_status="approved", actor=actor)
    assert set(caught.value.errors) == {"/license_number", "/valid_from", "/valid_until"}

    with pytest.raises(FieldErrors) as caught:
        application_transition(
            application=application,
            to_status="approved",
            actor=actor,
            license_number="LIC-1",
            valid_from=dt.date(2025, 6, 1),
            valid_until=dt.date(2025, 5, 31),
        )
    assert list(caught.value.errors) == ["/valid_until"]
    stored = LicenseApplication.objects.get(pk=application.pk)
    assert (stored.status, stored.license_number, stored.valid_from) == ("under_review", "", None)

    application_transition(
        application=application,
        to_status="approved",
        actor=actor,
        license_number="LIC-1",
        valid_from=dt.date(2025, 6, 1),
        valid_until=dt.date(2026, 5, 31),
    )
    stored = LicenseApplication.objects.get(pk=application.pk)
    assert (stored.status, stored.license_number) == ("approved", "LIC-1")
    assert (stored.valid_from, stored.valid_until) == (dt.date(2025, 6, 1), dt.date(2026, 5, 31))
    assert stored.decided_at is not None


@pytest.mark.django_db
def test_mofcom_clock_starts_on_acceptance_not_on_submission(actor, mofcom):
    application = LicenseApplicationFactory(authority=mofcom)
    submitted = dt.datetime(2025, 9, 20, 9, 0, tzinfo=SHANGHAI)
    accepted = dt.datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI)
    application_transition(
        application=application, to_status="submitted", actor=actor, occurred_at=submitted
    )
    stored = LicenseApplication.objects.get(pk=application.pk)
    assert (stored.submitted_at, stored.clock_started_at) == (submitted, None)

    application_transition(
        application=application,
        to_status="accepted",
        actor=actor,
        occurred_at=accepted,
        authority_reference="MOFCOM-1",
    )
    stored = LicenseApplication.objects.get(pk=application.pk)
    assert (stored.accepted_at, stored.clock_started_at) == (accepted, accepted)


@pytest.mark.django_db
def test_bis_clock_starts_on_submission(actor, us_bis):
    application = LicenseApplicationFactory(authority=us_bis)
    submitted = dt.datetime(2025, 1, 10, 15, 0, tzinfo=dt.UTC)
    application_transition(
        application=application, to_status="submitted", actor=actor, occurred_at=submitted
    )
    assert LicenseApplication.objects.get(pk=application.pk).clock_started_at == submitted


# --- occurred_at: the date on the authority's notice ----------------------------------------


@pytest.mark.django_db
def test_backdated_occurred_at_is_stored_as_given_and_recorded_at_is_now(actor):
    application = LicenseApplicationFactory()
    occurred_at = dt.datetime(2025, 9, 20, 9, 30, tzinfo=SHANGHAI)
    before = timezone.now()
    change = application_transition(
        application=application, to_status="submitted", actor=actor, occurred_at=occurred_at
    )
    after = timezone.now()

    row = StatusChange.objects.get(pk=change.pk)
    assert row.occurred_at == occurred_at
    assert before <= row.recorded_at <= after
    assert LicenseApplication.objects.get(pk=application.pk).submitted_at == occurred_at


@pytest.mark.django_db
def test_occurred_at_defaults_to_now(actor):
    application = LicenseApplicationFactory()
    before = timezone.now()
    change = application_transition(application=application, to_status="submitted", actor=actor)
    after = timezone.now()
    row = StatusChange.objects.get(pk=change.pk)
    assert before <= row.occurred_at <= after
    assert before <= row.recorded_at <= after


@pytest.mark.django_db
def test_occurred_at_in_the_future_is_refused(actor):
    application = LicenseApplicationFactory()
    with pytest.raises(FieldErrors) as caught:
        application_transition(
            application=application,
            to_status="submitted",
            actor=actor,
            occurred_at=timezone.now() + dt.timedelta(minutes=5),
        )
    assert list(caught.value.errors) == ["/occurred_at"]
    assert "future" in caught.value.errors["/occurred_at"][0]
    assert LicenseApplication.objects.get(pk=application.pk).status == "draft"
    assert not StatusChange.objects.filter(application=application).exists()


@pytest.mark.django_db
def test_occurred_at_before_the_previous_change_is_refused(actor):
    application = LicenseApplicationFactory()
    submitted = dt.datetime(2025, 9, 20, 9, 0, tzinfo=SHANGHAI)
    application_transition(
        application=application, to_status="submitted", actor=actor, occurred_at=submitted
    )
    with pytest.raises(FieldErrors) as caught:
        application_transition(
            application=application,
            to_status="accepted",
            actor=actor,
            occurred_at=submitted - dt.timedelta(seconds=1),
            authority_reference="MOFCOM-1",
        )
    assert list(caught.value.errors) == ["/occurred_at"]
    assert "previous status change" in caught.value.errors["/occurred_at"][0]
    assert LicenseApplication.objects.get(pk=application.pk).status == "submitted"
    assert StatusChange.objects.filter(application=application).count() == 1

    # The same instant as the previous change is not "earlier".
    application_transition(
        application=application,
        to_status="accepted",
        actor=actor,
        occurred_at=submitted,
        authority_reference="MOFCOM-1",
    )
    assert LicenseApplication.objects.get(pk=application.pk).status == "accepted"


@pytest.mark.django_db
def test_naive_occurred_at_is_refused(actor):
    application = LicenseApplicationFactory()
    with pytest.raises(FieldErrors) as caught:
        application_transition(
            application=application,
            to_status="submitted",
            actor=actor,
            occurred_at=dt.datetime(2025, 9, 20, 9, 0),
        )
    assert list(caught.value.errors) == ["/occurred_at"]
    assert "time zone" in caught.value.errors["/occurred_at"][0]
    assert not StatusChange.objects.filter(application=application).exists()


# --- row locks ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
def test_transitions_of_two_applications_of_one_authority_do_not_wait_for_each_other(mofcom, actor):
    first = LicenseApplicationFactory(authority=mofcom)
    second = LicenseApplicationFactory(authority=mofcom, exporter=first.exporter)
    first_holds_its_lock = threading.Event()
    second_done = threading.Event()
    outcome: dict[str, object] = {}

    def transition_first_and_hold() -> None:
        try:
            with transaction.atomic():
                application_transition(application=first, to_status="submitted", actor=actor)
                first_holds_its_lock.set()
                # Still inside the transaction: the second must not need our locks.
                outcome["second_finished_meanwhile"] = second_done.wait(timeout=5)
        finally:
            first_holds_its_lock.set()
            connection.close()

    def transition_second() -> None:
        try:
            first_holds_its_lock.wait(timeout=10)
            application_transition(application=second, to_status="submitted", actor=actor)
            outcome["second"] = "submitted"
        except Exception as error:  # the outcome is what the test checks
            outcome["second"] = error
        finally:
            second_done.set()
            connection.close()

    threads = [
        threading.Thread(target=transition_first_and_hold),
        threading.Thread(target=transition_second),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcome == {"second_finished_meanwhile": True, "second": "submitted"}
    assert set(
        LicenseApplication.objects.filter(pk__in=[first.pk, second.pk]).values_list(
            "status", flat=True
        )
    ) == {"submitted"}
