"""`python manage.py load_demo`: demo exporters, applications and shipments, and a demo admin."""

from django.core.management.base import BaseCommand

from licensing.demo import DemoLoader, ensure_demo_admin


class Command(BaseCommand):
    help = "Load demo data (idempotent) and create the demo admin user."

    def add_arguments(self, parser):
        parser.add_argument("--no-admin", action="store_true", help="Do not create the demo admin.")

    def handle(self, *args, **options):
        DemoLoader(stdout=self.stdout).load()
        if not options["no_admin"]:
            ensure_demo_admin(stdout=self.stdout)
