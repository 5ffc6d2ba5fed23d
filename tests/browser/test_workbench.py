"""A compliance officer's morning in a real browser: log in, work the overdue queue, approve
one application through the action form, see it leave the queue, open the Delays dashboard.

Headless chromium (Debian's package) against `live_server`, on the demo data plus two
overdue applications of our own. A screenshot of each step goes to var/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.utils import timezone

from licensing.demo import DemoLoader
from licensing.models import ApplicationStatus, ControlledItem, Exporter, LicenseApplication
from licensing.models.organizations import Organization
from licensing.reference_data import install_reference_data
from licensing.services.delays import delays_scan
from licensing.staff_groups import COMPLIANCE_OFFICER, staff_groups_sync
from tests.factories import LicenseApplicationFactory, walk_to_review

# serialized_rollback like the suite's other transactional tests: the flush afterwards
# leaves the migrations' rows (groups, reference data) to be restored for the next test.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "officer-browser-password-1"
DEMO_ORGANIZATION = "Rheinland Motoren GmbH (demo)"
CHANGELIST = "/admin/licensing/licenseapplication/"


def overdue_application(reference: str, *, organization: Organization) -> LicenseApplication:
    """A CN-MOFCOM application accepted 100 days ago and still under review: past its
    45-working-day deadline once the scan has looked at it."""
    accepted_at = timezone.now() - dt.timedelta(days=100)
    application = LicenseApplicationFactory(
        organization=organization,
        exporter=Exporter.objects.filter(organization=organization).first(),
        authority__code="CN-MOFCOM",
        line__item=ControlledItem.objects.get(control_code="1C905"),
    )
    walk_to_review(application, accepted_at, authority_reference=reference)
    return application


@pytest.fixture
def workbench(django_user_model):
    """The demo data, two overdue applications of ours, one scan, and a compliance officer."""
    install_reference_data(apps)  # should an earlier flush have removed the catalogue
    staff_groups_sync(apps)
    DemoLoader(stdout=io.StringIO()).load()
    organization = Organization.objects.get(name=DEMO_ORGANIZATION)
    to_approve = overdue_application("BROWSER-APPROVE", organization=organization)
    to_keep = overdue_application("BROWSER-KEEP", organization=organization)
    delays_scan()
    officer = django_user_model.objects.create_user(
        username="officer", password=PASSWORD, is_staff=True, first_name="Olga"
    )
    officer.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    organization.members.add(officer)
    for application in (to_approve, to_keep):
        application.refresh_from_db()
        assert application.delay_level == "overdue", application.delay_level
    return {"to_approve": to_approve, "to_keep": to_keep}


def test_an_officer_approves_an_overdue_application(
    live_server, browser_page, screenshots, workbench
):
    page = browser_page
    to_approve, to_keep = workbench["to_approve"], workbench["to_keep"]
    # Every page runs under the enforced Content-Security-Policy, and nothing on it is blocked.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    documents: list[tuple[str, dict]] = []
    page.on(
        "response",
        lambda response: (
            documents.append((response.url, response.headers))
            if response.request.resource_type == "document"
            else None
        ),
    )

    # 1. Log in with Django's own login form.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "officer")
    page.fill("#id_password", PASSWORD)
    page.screenshot(path=screenshots / "01-login.png", full_page=True)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert page.get_by_role("link", name="Delays dashboard").is_visible()
    page.screenshot(path=screenshots / "02-admin-index.png", full_page=True)

    # 2. Filter the applications to the overdue ones.
    page.goto(f"{live_server.url}{CHANGELIST}?overdue=yes")
    rows = page.locator("#result_list tbody tr")
    assert rows.filter(has_text="BROWSER-APPROVE").count() == 1
    assert rows.filter(has_text="BROWSER-KEEP").count() == 1
    page.screenshot(path=screenshots / "03-overdue-queue.png", full_page=True)

    # 3. Select one and run "approve": its intermediate form asks for the license.
    page.check(f'input.action-select[value="{to_approve.pk}"]')
    page.select_option('select[name="action"]', "approve")
    page.click('button[name="index"]')
    page.wait_for_selector('input[name="license_number"]')
    page.fill('input[name="license_number"]', "LIC-BROWSER-0001")
    today = timezone.localdate()
    page.fill('input[name="valid_from"]', today.isoformat())
    page.fill('input[name="valid_until"]', (today + dt.timedelta(days=365)).isoformat())
    page.screenshot(path=screenshots / "04-approve-form.png", full_page=True)
    page.click('input[type="submit"][name="apply"]')
    page.wait_for_selector("ul.messagelist")
    messages = page.locator("ul.messagelist").inner_text()
    assert re.search(r"approved, license LIC-BROWSER-0001", messages), messages
    page.screenshot(path=screenshots / "05-approved.png", full_page=True)

    # 4. It has left the overdue queue; the other one is still there.
    page.goto(f"{live_server.url}{CHANGELIST}?overdue=yes")
    rows = page.locator("#result_list tbody tr")
    assert rows.filter(has_text="BROWSER-KEEP").count() == 1
    assert rows.filter(has_text="BROWSER-APPROVE").count() == 0
    assert "BROWSER-APPROVE" not in page.content()
    page.screenshot(path=screenshots / "06-overdue-queue-after.png", full_page=True)
    to_approve.refresh_from_db()
    assert to_approve.status == ApplicationStatus.APPROVED
    assert to_approve.license_number == "LIC-BROWSER-0001"
    to_keep.refresh_from_db()
    assert to_keep.status == ApplicationStatus.UNDER_REVIEW

    # 5. The Delays dashboard, from the link on the admin index.
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Delays dashboard").click()
    page.wait_for_url(f"{live_server.url}/admin/delays/")
    assert page.locator("h1").first.inner_text() == "Delays"
    assert page.locator("svg.chart").count() == 7  # levels, ageing, 4 breakdowns, lead times
    oldest = page.locator("#oldest").inner_text()
    assert "BROWSER-KEEP" in oldest
    assert "BROWSER-APPROVE" not in oldest
    page.screenshot(path=screenshots / "07-delays-dashboard.png", full_page=True)

    # 6. The export form: its "Select all" box works without an inline handler.
    page.goto(f"{live_server.url}{CHANGELIST}export/")
    fields = page.locator('.selectable-field-export-row input[type="checkbox"]')
    assert fields.count() >= 2
    page.locator("input.select-toggle").first.uncheck()
    assert not any(fields.nth(index).is_checked() for index in range(fields.count()))
    page.locator("input.select-toggle").first.check()
    assert all(fields.nth(index).is_checked() for index in range(fields.count()))

    # 7. The API docs: Swagger UI and Redoc render from this origin's scripts alone.
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Export license tracker API" in page.locator(".swagger-ui .info .title").inner_text()
    page.screenshot(path=screenshots / "08-api-docs.png")
    page.goto(f"{live_server.url}/api/v1/redoc/")
    page.wait_for_selector("h1:has-text('Export license tracker API')")
    page.screenshot(path=screenshots / "09-redoc.png")

    # Nothing is refused but what the policy exists to keep out: Redoc's bundle fetches its
    # maker's logo from cdn.redoc.ly (hard-coded; it hides the image when refused).
    refused = [text for text in blocked if "'https://cdn.redoc.ly/" not in text]
    assert refused == [], "\n".join(refused)
    assert len(documents) >= 8
    for url, headers in documents:
        policy = dict(
            directive.strip().partition(" ")[::2]
            for directive in headers.get("content-security-policy", "").split(";")
        )
        assert policy["script-src"].startswith("'self'"), url
        assert "unsafe-inline" not in policy["script-src"], url
        assert "unsafe-eval" not in policy["script-src"], url
        assert "content-security-policy-report-only" not in headers, url
