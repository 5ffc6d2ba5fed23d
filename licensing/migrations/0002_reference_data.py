"""Installs the licensing authorities and controlled items every deployment needs."""

from django.db import migrations

from licensing.reference_data import install_reference_data


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_initial")]

    operations = [migrations.RunPython(install_reference_data, migrations.RunPython.noop)]
