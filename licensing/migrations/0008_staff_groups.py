from django.db import migrations

from licensing.staff_groups import staff_groups_sync


class Migration(migrations.Migration):
    """Creates the "Compliance officer" and "Auditor" groups (licensing/staff_groups.py)."""

    dependencies = [
        ("licensing", "0007_threshold_level_order"),
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(staff_groups_sync, migrations.RunPython.noop)]
