"""`python manage.py scan_delays [--now <ISO 8601>]`: the periodic scan, run synchronously."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.request_id import request_id_scope
from licensing.services.delays import delays_scan


class Command(BaseCommand):
    help = "Evaluate the applications and shipments that are due and print the alerts raised."

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Evaluate at this instant (ISO 8601 with a time zone), not the current time.",
        )

    def handle(self, *args, **options):
        now = timezone.now()
        if options["now"]:
            try:
                now = dt.datetime.fromisoformat(options["now"])
            except ValueError:
                raise CommandError(
                    f"--now {options['now']!r} is not an ISO 8601 date-time."
                ) from None
            if timezone.is_naive(now):
                now = timezone.make_aware(now, dt.UTC)
        with request_id_scope():
            report = delays_scan(now=now)
        for alert in report.raised:
            self.stdout.write(f"raised {alert.kind} {alert.level}: {alert.message}")
        self.stdout.write(
            f"Scanned at {now.isoformat()}: {report.applications} applications, {report.shipments} shipments, "
            f"{len(report.raised)} alerts raised."
        )
