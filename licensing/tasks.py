"""Celery tasks: thin adapters over licensing.services; each is safe to run twice."""

import logging

from celery import shared_task

from core.request_id import request_id_scope
from licensing.services.delays import delays_mark_due, delays_scan
from licensing.services.forecasts import forecast_refresh_all
from licensing.services.webhooks import webhook_deliveries_sweep, webhook_delivery_attempt

logger = logging.getLogger(__name__)


@shared_task
def scan_delays() -> dict:
    """The periodic scan (Celery beat, every DELAY_SCAN_INTERVAL_SECONDS)."""
    with request_id_scope():
        report = delays_scan()
        logger.info(
            "delay scan: %s applications, %s shipments evaluated, %s alerts raised",
            report.applications,
            report.shipments,
            len(report.raised),
        )
        return {
            "applications": report.applications,
            "shipments": report.shipments,
            "raised": len(report.raised),
        }


@shared_task
def recompute_delays(calendar_country: str | None = None) -> int:
    """After a rule or calendar change: mark what may have moved as due, then scan it."""
    with request_id_scope():
        marked = delays_mark_due(calendar_country=calendar_country)
        delays_scan()
        return marked


@shared_task
def deliver_webhook(delivery_id: str) -> str:
    """Attempt one webhook delivery (queue `webhooks`); a no-op unless it is due and unclaimed."""
    with request_id_scope():
        delivery = webhook_delivery_attempt(delivery_id)
        return delivery.status if delivery is not None else "gone"


@shared_task
def sweep_webhook_deliveries() -> int:
    """Queue overdue deliveries that no task is carrying (Celery beat, every WEBHOOK_SWEEP_INTERVAL_SECONDS)."""
    with request_id_scope():
        return webhook_deliveries_sweep()


# Longer limits than the default: at 1,000,000 decided and 100,000 open applications the
# refit reads everything once (see tests/benchmarks/bench_forecast.py for its time).
@shared_task(soft_time_limit=30 * 60, time_limit=35 * 60)
def refresh_forecasts() -> dict:
    """The nightly refit of the decision-time curves and every open window (Celery beat)."""
    with request_id_scope():
        report = forecast_refresh_all()
        return {
            "curves": report.curves,
            "applications": report.applications,
            "written": report.written,
            "statutory_fallbacks": report.statutory_fallbacks,
            "moved": len(report.moved),
        }
