"""Threshold rules and exporters saved in the admin go through the API's services: the
version is checked, the tenant scope is enforced, and a refused save is a message or a form
error, never a server error."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import ObjectChange
from licensing import tasks
from licensing.models import Exporter
from licensing.models.delays import ThresholdRule
from licensing.services.exporters import exporter_update
from licensing.services.threshold_rules import (
    LevelInput,
    threshold_rule_create,
    threshold_rule_update,
)
from tests.admin.conftest import change_form_data, change_url, changelist_url, messages_of
from tests.factories import ExporterFactory, valid_uscc

pytestmark = pytest.mark.django_db

RULE_ADD_URL = reverse("admin:licensing_thresholdrule_add")
EXPORTER_ADD_URL = reverse("admin:licensing_exporter_add")


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """The recompute_delays messages sent to the broker (recorded instead of sent)."""
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.recompute_delays, "delay", lambda *args: sent.append(args))
    return sent


@pytest.fixture
def rule(organization, actor):
    return threshold_rule_create(
        organization=organization,
        name="Early warning",
        levels=[LevelInput("warning", after=2), LevelInput("overdue", at_statutory_deadline=True)],
        actor=actor,
    )


def _with_levels(data: dict, *levels: tuple[str, int]) -> dict:
    start = int(data.get("levels-INITIAL_FORMS", 0))
    data["levels-TOTAL_FORMS"] = str(start + len(levels))
    for offset, (level, after) in enumerate(levels):
        data[f"levels-{start + offset}-level"] = level
        data[f"levels-{start + offset}-unit"] = "working_days"
        data[f"levels-{start + offset}-after"] = str(after)
    return data


# --- threshold rules ----------------------------------------------------------------------------


def test_rule_created_in_the_admin_is_audited_once_and_recomputes_once(
    officer_client, organization, enqueued, django_capture_on_commit_callbacks
):
    data = change_form_data(officer_client.get(RULE_ADD_URL))
    data.update({"name": "Early warning", "organization": str(organization.pk), "_save": "Save"})
    _with_levels(data, ("warning", 2))

    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(RULE_ADD_URL, data)

    assert response.status_code == 302
    rule = ThresholdRule.objects.get(name="Early warning")
    assert list(rule.levels.values_list("level", "after")) == [("warning", 2)]
    created = ObjectChange.objects.filter(object_id=str(rule.pk), action="create")
    assert created.count() == 1
    assert created.get().changes["levels"] == [None, ["warning after 2 working_days"]]
    assert len(enqueued) == 1


def test_rule_changed_by_the_api_since_the_form_opened_is_not_overwritten(
    officer_client, rule, actor
):
    data = change_form_data(officer_client.get(change_url(rule)))
    threshold_rule_update(rule=rule, actor=actor, name="Renamed through the API")
    data.update({"name": "Renamed in the admin", "_save": "Save"})

    response = officer_client.post(change_url(rule), data, follow=True)

    assert response.status_code == 200
    assert any(
        text.startswith("Not saved:") and "changed by someone else" in text
        for text in messages_of(response)
    )
    rule.refresh_from_db()
    assert rule.name == "Renamed through the API"


def test_rule_edit_from_a_fresh_form_is_saved_with_its_levels(officer_client, rule):
    data = change_form_data(officer_client.get(change_url(rule)))
    data["name"] = "Earlier warning"
    data["levels-0-after"] = "3"  # the warning, after 2 days until now
    _with_levels(data, ("critical", 10))

    response = officer_client.post(change_url(rule), data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Earlier warning"
    assert sorted(rule.levels.values_list("level", "after")) == [
        ("critical", 10),
        ("overdue", None),
        ("warning", 3),
    ]
    assert rule.version == 2


def test_officer_removes_a_level_in_the_inline(officer_client, rule):
    data = change_form_data(officer_client.get(change_url(rule)))
    warning_row = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith("levels-") and key.endswith("-level") and value == "warning"
    )
    data[f"levels-{warning_row}-DELETE"] = "on"

    response = officer_client.post(change_url(rule), data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert list(rule.levels.values_list("level", flat=True)) == ["overdue"]
    assert rule.version == 2


def test_rule_of_one_organization_cannot_take_another_organizations_exporter(
    officer, officer_client, organization, other_organization
):
    other_organization.members.add(officer)  # sees both organizations' exporters
    foreign_exporter = ExporterFactory(organization=other_organization)
    data = change_form_data(officer_client.get(RULE_ADD_URL))
    data.update(
        {
            "name": "Mixed up",
            "organization": str(organization.pk),
            "exporter": str(foreign_exporter.pk),
            "_save": "Save",
        }
    )
    _with_levels(data, ("warning", 2))

    response = officer_client.post(RULE_ADD_URL, data, follow=True)

    assert response.status_code == 200
    assert "Not saved: /exporter: No such exporter." in messages_of(response)
    assert not ThresholdRule.objects.filter(name="Mixed up").exists()


def test_rule_without_levels_is_not_saved(officer_client, organization):
    data = change_form_data(officer_client.get(RULE_ADD_URL))
    data.update({"name": "No levels", "organization": str(organization.pk), "_save": "Save"})

    response = officer_client.post(RULE_ADD_URL, data, follow=True)

    assert response.status_code == 200
    assert "Not saved: /levels: A rule needs at least one level." in messages_of(response)
    assert not ThresholdRule.objects.filter(name="No levels").exists()


def test_rule_keeps_its_organization(officer, officer_client, rule, other_organization):
    other_organization.members.add(officer)
    data = change_form_data(officer_client.get(change_url(rule)))
    assert "organization" not in data
    data.update({"organization": str(other_organization.pk), "name": "Moved?", "_save": "Save"})

    officer_client.post(change_url(rule), data)

    rule.refresh_from_db()
    assert (rule.name, rule.organization_id) == ("Moved?", rule.organization_id)
    assert ThresholdRule.objects.get(pk=rule.pk).organization.name == "Rheinland Motoren GmbH"


def test_rule_changelist_filter_names_only_the_officers_organizations(
    officer_client, rule, other_organization, actor
):
    threshold_rule_create(
        organization=other_organization,
        name="Their rule",
        levels=[LevelInput("warning", after=5)],
        actor=actor,
    )

    html = officer_client.get(changelist_url(ThresholdRule)).content.decode()

    assert "Rheinland Motoren GmbH" in html
    assert "Kansai Precision Tools K.K." not in html


# --- exporters ----------------------------------------------------------------------------------


def test_exporter_created_in_the_admin_is_audited_by_the_service(officer_client, organization):
    data = change_form_data(officer_client.get(EXPORTER_ADD_URL))
    data.update(
        {
            "organization": str(organization.pk),
            "name": "Baotou Magnets Co., Ltd.",
            "country": "CN",
            "registration_number": valid_uscc("91150200MA0N0R2R4"),
            "_save": "Save",
        }
    )

    response = officer_client.post(EXPORTER_ADD_URL, data)

    assert response.status_code == 302
    exporter = Exporter.objects.get(name="Baotou Magnets Co., Ltd.")
    assert exporter.organization == organization
    assert ObjectChange.objects.filter(object_id=str(exporter.pk), action="create").count() == 1


def test_exporter_keeps_its_organization(officer, officer_client, exporter, other_organization):
    other_organization.members.add(officer)
    data = change_form_data(officer_client.get(change_url(exporter)))
    assert "organization" not in data
    data.update({"organization": str(other_organization.pk), "contact_name": "Li Wei"})

    response = officer_client.post(change_url(exporter), data)

    assert response.status_code == 302
    exporter.refresh_from_db()
    assert exporter.contact_name == "Li Wei"
    assert exporter.organization.name == "Rheinland Motoren GmbH"
    assert exporter.version == 2


def test_exporter_duplicate_registration_number_is_a_form_error(
    officer_client, exporter, organization
):
    second = ExporterFactory(organization=organization)
    data = change_form_data(officer_client.get(change_url(second)))
    data["registration_number"] = exporter.registration_number.lower()  # normalised on save

    response = officer_client.post(change_url(second), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["registration_number"] == [
        "An exporter with this country and registration number exists."
    ]
    second.refresh_from_db()
    assert second.registration_number != exporter.registration_number


def test_exporter_changed_by_the_api_since_the_form_opened_is_not_overwritten(
    officer_client, exporter, actor
):
    data = change_form_data(officer_client.get(change_url(exporter)))
    exporter_update(exporter=exporter, actor=actor, contact_name="From the API")
    data["contact_name"] = "From the admin"

    response = officer_client.post(change_url(exporter), data, follow=True)

    assert any("changed by someone else" in text for text in messages_of(response))
    exporter.refresh_from_db()
    assert exporter.contact_name == "From the API"


@pytest.mark.parametrize(
    ("registration_number", "error"),
    [
        pytest.param(
            "hrb\u00a012345\u200b",
            "An exporter with this country and registration number exists.",
            id="another-spelling-of-an-existing-number",
        ),
        pytest.param(
            "\u041dRB 54321",  # a Cyrillic EN where the Latin H belongs
            "Mixes Cyrillic and Latin letters, which look alike but differ; type the "
            "identifier in one script.",
            id="mixed-scripts",
        ),
    ],
)
def test_exporter_added_in_the_admin_with_a_look_alike_number_is_a_form_error(
    officer_client, organization, registration_number, error
):
    ExporterFactory(organization=organization, country="DE", registration_number="HRB 12345")
    data = change_form_data(officer_client.get(EXPORTER_ADD_URL))
    data.update(
        {
            "organization": str(organization.pk),
            "name": "Hamburg Metals GmbH",
            "country": "DE",
            "registration_number": registration_number,
            "_save": "Save",
        }
    )

    response = officer_client.post(EXPORTER_ADD_URL, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["registration_number"] == [error]
    assert Exporter.objects.count() == 1
