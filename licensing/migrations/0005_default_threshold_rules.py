"""Installs the default delay rules (shared/DOMAIN.md, "Suggested defaults"); editable in the admin."""

from django.db import migrations

DEFAULT_RULES = [
    {
        "name": "Default: warning at 30, critical at 40 working days, overdue at the deadline",
        "authority": None,
        "levels": [("warning", 30, "working_days", False), ("critical", 40, "working_days", False), ("overdue", None, "working_days", True)],
        "repeat_every": 10,
        "repeat_unit": "working_days",
    },
    {
        "name": "US-BIS: warning at 60, critical at 80 calendar days, overdue at the 90-day mark",
        "authority": "US-BIS",
        "levels": [("warning", 60, "calendar_days", False), ("critical", 80, "calendar_days", False), ("overdue", None, "calendar_days", True)],
        "repeat_every": 14,
        "repeat_unit": "calendar_days",
    },
]


def install_default_rules(apps, schema_editor):
    rule_model = apps.get_model("licensing", "ThresholdRule")
    level_model = apps.get_model("licensing", "ThresholdLevel")
    authority_model = apps.get_model("licensing", "LicensingAuthority")
    for spec in DEFAULT_RULES:
        authority = authority_model.objects.get(code=spec["authority"]) if spec["authority"] else None
        rule, created = rule_model.objects.get_or_create(
            name=spec["name"],
            organization=None,
            defaults={
                "authority": authority,
                "repeat_every": spec["repeat_every"],
                "repeat_unit": spec["repeat_unit"],
                "lead_buffer_days": 5,
                "expiry_warning_days": 30,
            },
        )
        if created:
            for level, after, unit, at_deadline in spec["levels"]:
                level_model.objects.create(
                    rule=rule, level=level, after=after, unit=unit, at_statutory_deadline=at_deadline
                )


class Migration(migrations.Migration):
    dependencies = [("licensing", "0004_delay_engine")]

    operations = [migrations.RunPython(install_default_rules, migrations.RunPython.noop)]
