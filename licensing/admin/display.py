"""How the admin shows levels, statuses and flags: coloured badges that always carry their text.

The colour is a help, never the only signal: every badge says its level in words, so the
changelist reads the same in greyscale, to a screen reader and in an export.
CSS: licensing/static/licensing/admin.css, loaded through `BADGE_MEDIA`.
"""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from licensing.models import ApplicationStatus, DelayLevel, ShipmentStatus

BADGE_MEDIA = forms.Media(css={"all": ("licensing/admin.css",)})

# Status -> badge tone: how much attention the status asks of an officer.
APPLICATION_STATUS_TONE = {
    ApplicationStatus.DRAFT: "muted",
    ApplicationStatus.SUBMITTED: "info",
    ApplicationStatus.ACCEPTED: "info",
    ApplicationStatus.UNDER_REVIEW: "info",
    ApplicationStatus.INFO_REQUESTED: "warning",
    ApplicationStatus.APPROVED: "ok",
    ApplicationStatus.DENIED: "critical",
    ApplicationStatus.WITHDRAWN: "muted",
    ApplicationStatus.EXPIRED: "muted",
    ApplicationStatus.REVOKED: "critical",
    ApplicationStatus.EXHAUSTED: "muted",
}
SHIPMENT_STATUS_TONE = {
    ShipmentStatus.AWAITING_LICENSE: "info",
    ShipmentStatus.LICENSED: "ok",
    ShipmentStatus.ON_HOLD: "warning",
    ShipmentStatus.SHIPPED: "ok",
    ShipmentStatus.DELIVERED: "muted",
    ShipmentStatus.CANCELLED: "muted",
}
ALERT_STATE_TONE = {"open": "critical", "acknowledged": "warning", "resolved": "muted"}


def badge(text: str, tone: str, *, title: str = "") -> SafeString:
    return format_html(
        '<span class="lic-badge lic-badge--{}"{}>{}</span>',
        tone,
        format_html(' title="{}"', title) if title else "",
        text,
    )


def delay_badge(level: str) -> SafeString:
    """The delay level as a badge: none, warning, critical, overdue (in words and colour)."""
    level = level or DelayLevel.NONE
    tone = "muted" if level == DelayLevel.NONE else level
    return badge(DelayLevel(level).label, tone)


def application_status_badge(status: str) -> SafeString:
    return badge(ApplicationStatus(status).label, APPLICATION_STATUS_TONE.get(status, "muted"))


def shipment_status_badge(status: str) -> SafeString:
    return badge(ShipmentStatus(status).label, SHIPMENT_STATUS_TONE.get(status, "muted"))


def alert_state_badge(state: str) -> SafeString:
    return badge(state, ALERT_STATE_TONE[state])


def admin_link(obj, text: str | None = None) -> SafeString | str:
    """A link to `obj`'s change page, or "-" when there is no object."""
    if obj is None:
        return "-"
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else str(obj))


def html_list(items) -> SafeString:
    """Short texts, one per line, escaped."""
    return format_html_join(mark_safe("<br>"), "{}", ((item,) for item in items))
