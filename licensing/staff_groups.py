"""The two staff groups of the admin, defined once and applied by data migrations.

"Compliance officer" works the queue: views everything, changes the records the workflow
touches and runs every admin action (actions require the change permission). "Auditor"
views everything, history included, and changes nothing, so no action is offered to it.
Neither group deletes a record: the record of an application is evidence. Officers may only
remove parts edited with their record (a draft's lines, a rule's levels).

A migration that adds a model calls `staff_groups_sync` again so both groups see it.
"""

from __future__ import annotations

COMPLIANCE_OFFICER = "Compliance officer"
AUDITOR = "Auditor"

# Apps whose every model both groups may view.
VIEWED_APPS = ("licensing", "core")
# (app_label, model) pairs officers may add and change; adding is how imports create rows.
OFFICER_WRITES = (
    ("licensing", "licenseapplication"),
    ("licensing", "applicationline"),
    ("licensing", "clockstop"),
    ("licensing", "shipment"),
    ("licensing", "shipmentline"),
    ("licensing", "delayalert"),
    ("licensing", "thresholdrule"),
    ("licensing", "thresholdlevel"),
    ("licensing", "exporter"),
)
# Not calendar exceptions: the working calendar is shared by every organization, so only
# superusers change it (as they do the default threshold rules).
# Rows that are parts of a record edited as a whole through its service (a draft's lines, a
# rule's levels): officers may remove one in the inline. Records themselves are never deleted.
OFFICER_PART_DELETES = (
    ("licensing", "applicationline"),
    ("licensing", "shipmentline"),
    ("licensing", "thresholdlevel"),
)


def staff_groups_sync(apps, schema_editor=None) -> None:
    """Create both groups if missing and grant them their permissions (idempotent).

    Permissions are normally created after migrations run; they are created here first so
    that a fresh database gets complete groups from `migrate` alone.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    viewable = Permission.objects.filter(
        content_type__app_label__in=VIEWED_APPS, codename__startswith="view_"
    )
    writable = Permission.objects.none()
    for app_label, model in OFFICER_WRITES:
        writable = writable | Permission.objects.filter(
            content_type__app_label=app_label,
            content_type__model=model,
            codename__in=(f"add_{model}", f"change_{model}"),
        )
    for app_label, model in OFFICER_PART_DELETES:
        writable = writable | Permission.objects.filter(
            content_type__app_label=app_label, codename=f"delete_{model}"
        )

    officer, _ = Group.objects.get_or_create(name=COMPLIANCE_OFFICER)
    officer.permissions.add(*viewable, *writable)
    auditor, _ = Group.objects.get_or_create(name=AUDITOR)
    auditor.permissions.add(*viewable)
