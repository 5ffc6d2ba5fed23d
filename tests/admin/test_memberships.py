"""Who acts for which organization, defined once (licensing.selectors.memberships) and used
by the admin's changelists, the delays dashboard and the audit trail alike."""

from __future__ import annotations

import pytest

from licensing.models import ApplicationStatus
from licensing.selectors.dashboard import applications_visible_to, delay_dashboard
from licensing.selectors.memberships import member_organization_ids
from tests.factories import ExporterFactory, application_in_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_applications(organization, other_organization):
    return [
        application_in_status(
            ApplicationStatus.UNDER_REVIEW,
            organization=owner,
            exporter=ExporterFactory(organization=owner),
        )
        for owner in (organization, other_organization)
    ]


@pytest.fixture
def inactive_superuser(django_user_model, organization):
    """A superuser whose account was switched off, still a member of `organization`."""
    user = django_user_model.objects.create_superuser(username="former-admin", password="unused")
    user.is_active = False
    user.save()
    organization.members.add(user)
    return user


def test_member_organization_ids(django_user_model, officer, organization, inactive_superuser):
    superuser = django_user_model.objects.create_superuser(username="root", password="unused")

    assert member_organization_ids(superuser) is None  # every organization
    assert member_organization_ids(officer) == [organization.pk]
    assert member_organization_ids(inactive_superuser) == [organization.pk]


def test_an_inactive_superuser_sees_only_their_organizations_on_the_dashboard(
    inactive_superuser, organization, two_applications
):
    assert list(applications_visible_to(inactive_superuser)) == [two_applications[0]]
    assert delay_dashboard(user=inactive_superuser).open_total == 1


def test_a_superuser_sees_every_organization_on_the_dashboard(django_user_model, two_applications):
    superuser = django_user_model.objects.create_superuser(username="root", password="unused")

    assert delay_dashboard(user=superuser).open_total == 2
