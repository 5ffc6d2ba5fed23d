"""`python manage.py create_api_key --organization "<name>" [--name <label>] [--read-only]`."""

from django.core.management.base import BaseCommand, CommandError

from licensing.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an organization (created if new). The key is printed alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, help="Organization name.")
        parser.add_argument(
            "--name", default="default", help="A label for the key (50 characters at most)."
        )
        parser.add_argument("--read-only", action="store_true", help="The key may only read.")

    def handle(self, *args, **options):
        organization, name = options["organization"].strip(), options["name"].strip()
        if not organization or "\x00" in organization or len(organization) > 200:
            raise CommandError("--organization must be 1 to 200 characters.")
        if not name or len(name) > 50:
            raise CommandError("--name must be 1 to 50 characters.")
        api_key, key = api_key_create(
            organization_name=organization, name=name, read_only=options["read_only"]
        )
        mode = "read-only" if api_key.is_read_only else "read-write"
        self.stdout.write(
            f"Created {mode} API key {api_key.name!r} ({api_key.prefix}) for {api_key.organization}."
        )
        self.stdout.write("Store it now: it is shown only once.")
        self.stdout.write(key)
