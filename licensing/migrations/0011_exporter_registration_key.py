"""Exporters are unique by their registration number as a reader sees it (core.identifiers).

Adds `registration_key`, backfills it, and moves the unique constraint onto it. Existing rows
that only now turn out to be duplicates stop the migration with their names: merging two
suppliers is a decision for a person, not for a migration.
"""

from django.db import migrations, models

import core.identifiers


def backfill_registration_keys(apps, schema_editor):
    from core.identifiers import identifier_key

    Exporter = apps.get_model("licensing", "Exporter")
    seen: dict[tuple, str] = {}
    clashes = []
    changed = []
    for exporter in Exporter.objects.order_by("created_at", "pk").iterator(chunk_size=2000):
        exporter.registration_key = identifier_key(exporter.registration_number)
        identity = (exporter.organization_id, str(exporter.country), exporter.registration_key)
        if identity in seen:
            clashes.append(
                f"{exporter.registration_number!r} ({exporter.pk}) duplicates {seen[identity]}"
            )
        else:
            seen[identity] = f"{exporter.registration_number!r} ({exporter.pk})"
        changed.append(exporter)
    if clashes:
        raise RuntimeError(
            "These exporters have registration numbers that differ only in case, spacing or "
            "look-alike characters; merge or correct them, then migrate again: "
            + "; ".join(clashes)
        )
    Exporter.objects.bulk_update(changed, ["registration_key"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0010_forecast_curves"),
    ]

    operations = [
        migrations.AddField(
            model_name="exporter",
            name="registration_key",
            field=core.identifiers.IdentifierKeyField(
                default="", max_length=120, source="registration_number"
            ),
            preserve_default=False,
        ),
        migrations.RunPython(backfill_registration_keys, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="exporter",
            name="exporter_unique_registration",
        ),
        migrations.AddConstraint(
            model_name="exporter",
            constraint=models.UniqueConstraint(
                fields=("organization", "country", "registration_key"),
                name="exporter_unique_registration_key",
                violation_error_message="An exporter with this country and registration number exists.",
            ),
        ),
    ]
