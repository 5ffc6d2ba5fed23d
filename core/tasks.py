"""Housekeeping tasks of core."""

from celery import shared_task

from core.api.idempotency import idempotency_purge_expired
from core.audit import audit_purge_expired
from core.request_id import request_id_scope


@shared_task
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Key records past their time to live."""
    with request_id_scope():
        return idempotency_purge_expired()


@shared_task
def purge_audit_trail() -> int:
    """Delete audit rows older than AUDIT_RETENTION_DAYS (Celery beat, daily)."""
    with request_id_scope():
        return audit_purge_expired()
