"""Threshold rules in the admin: "Preview" counts the open applications that would change
level under the edited rule and writes nothing; "Save" saves and re-evaluates."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from licensing.models import ApplicationStatus, DelayLevel, LicenseApplication
from licensing.models.delays import ThresholdLevel, ThresholdRule
from tests.admin.conftest import change_form_data, change_url
from tests.factories import ExporterFactory, application_in_status

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:licensing_thresholdrule_add")


@pytest.fixture
def queue(organization, other_organization, exporter, dysprosium):
    """Two long-overdue and two recent applications of `organization`, one recent elsewhere."""

    def under_review(days_ago: int, owner, owner_exporter):
        return application_in_status(
            ApplicationStatus.UNDER_REVIEW,
            first_step_at=timezone.now() - dt.timedelta(days=days_ago),
            step=dt.timedelta(hours=1),
            organization=owner,
            exporter=owner_exporter,
            line__item=dysprosium,
        )

    return {
        "overdue": [under_review(100, organization, exporter) for _ in range(2)],
        "recent": [under_review(10, organization, exporter) for _ in range(2)],
        "elsewhere": under_review(
            10, other_organization, ExporterFactory(organization=other_organization)
        ),
    }


def _levels(data: dict, *levels: tuple[str, int | None]) -> dict:
    data["levels-TOTAL_FORMS"] = str(len(levels) + int(data.get("levels-INITIAL_FORMS", 0)))
    start = int(data.get("levels-INITIAL_FORMS", 0))
    for offset, (level, after) in enumerate(levels):
        index = start + offset
        data[f"levels-{index}-level"] = level
        data[f"levels-{index}-unit"] = "working_days"
        if after is None:
            data[f"levels-{index}-at_statutory_deadline"] = "on"
        else:
            data[f"levels-{index}-after"] = str(after)
    return data


def _stored_levels() -> dict:
    return dict(LicenseApplication.objects.values_list("pk", "delay_level"))


def test_preview_counts_the_applications_that_would_change_and_saves_nothing(
    officer_client, organization, queue
):
    assert {a.delay_level for a in LicenseApplication.objects.all()} >= {DelayLevel.OVERDUE}
    levels_before = _stored_levels()
    rules_before = list(ThresholdRule.objects.values_list("pk", "version"))
    level_rows_before = ThresholdLevel.objects.count()
    data = change_form_data(officer_client.get(ADD_URL))
    data.update({"name": "Early warning", "organization": str(organization.pk)})
    _levels(data, ("warning", 2), ("overdue", None))
    data["_preview"] = "Preview the effect"

    response = officer_client.post(ADD_URL, data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Preview — nothing has been saved" in html
    # The two recent applications of this organization reach "warning" after 2 working days;
    # the overdue ones stay overdue; the other organization's are outside the rule.
    assert "Of 4 open applications" in html
    assert "2 would change delay level" in html
    assert (
        '<tr class="lic-preview-move" data-from="none" data-to="warning">'
        "<td>none</td><td>warning</td><td>2</td></tr>"
    ) in html
    assert "Please correct" not in html
    assert list(ThresholdRule.objects.values_list("pk", "version")) == rules_before
    assert ThresholdLevel.objects.count() == level_rows_before
    assert _stored_levels() == levels_before
    # The form comes back filled in, ready to save.
    assert 'value="Early warning"' in html


def test_save_after_preview_saves_the_rule(officer_client, organization, queue):
    data = change_form_data(officer_client.get(ADD_URL))
    data.update({"name": "Early warning", "organization": str(organization.pk), "_save": "Save"})
    _levels(data, ("warning", 2), ("overdue", None))

    response = officer_client.post(ADD_URL, data)

    assert response.status_code == 302
    rule = ThresholdRule.objects.get(name="Early warning")
    assert sorted(rule.levels.values_list("level", flat=True)) == ["overdue", "warning"]


def test_preview_of_deactivating_a_rule(officer_client, organization, queue):
    rule = ThresholdRule.objects.create(name="Early warning", organization=organization)
    ThresholdLevel.objects.create(rule=rule, level="warning", after=2)
    ThresholdLevel.objects.create(rule=rule, level="overdue", at_statutory_deadline=True)
    data = change_form_data(officer_client.get(change_url(rule)))
    data.pop("is_active", None)  # unticked
    data["_preview"] = "Preview the effect"

    response = officer_client.post(change_url(rule), data)

    html = response.content.decode()
    assert "2 would change delay level" in html
    assert 'data-from="warning" data-to="none"' in html
    rule.refresh_from_db()
    assert rule.is_active


def test_preview_shows_form_errors_instead_of_a_preview(officer_client, organization):
    data = change_form_data(officer_client.get(ADD_URL))
    data.update({"name": "", "organization": str(organization.pk), "_preview": "Preview"})
    _levels(data, ("warning", 2))

    response = officer_client.post(ADD_URL, data)

    html = response.content.decode()
    assert "This field is required." in html
    assert "Preview — nothing has been saved" not in html
    assert "Preview only" not in html
