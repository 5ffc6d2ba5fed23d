"""The "Delays" dashboard inside the admin, at /admin/delays/ (URL name admin:delay-dashboard).

A read-only page: the figures come from licensing.selectors.dashboard, the charts from
core.charts (inline SVG, drawn on the server). Staff who are not superusers see only their
organizations' applications; the page needs the view permission on applications, which
both staff groups have.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.charts import Bar, Series, bar_chart, grouped_bar_chart, histogram
from licensing.models import DelayLevel
from licensing.models.applications import PENDING_STATUSES
from licensing.selectors.dashboard import (
    OLDEST_LIMIT,
    RECENT_ALERT_DAYS,
    Breakdown,
    delay_dashboard,
)
from licensing.selectors.lead_times import lead_time_chart_rows
from licensing.selectors.memberships import member_organization_ids

LEAD_TIME_MONTHS = 12

LEVEL_LABELS = {
    DelayLevel.NONE: "No delay",
    DelayLevel.WARNING: "Warning",
    DelayLevel.CRITICAL: "Critical",
    DelayLevel.OVERDUE: "Overdue",
}


def open_applications_url(**lookups: str) -> str:
    """The applications changelist, filtered to open applications and `lookups`."""
    query = {"status__in": ",".join(PENDING_STATUSES), **lookups}
    return f"{reverse('admin:licensing_licenseapplication_changelist')}?{urlencode(query)}"


def _breakdown_chart(breakdown: Breakdown, *, title: str, lookup: str = "") -> str:
    bars = [
        Bar(row.label, row.open, href=open_applications_url(**{lookup: row.key}) if lookup else "")
        for row in breakdown.rows
    ]
    return bar_chart(bars, title=title, width=460)


def delay_dashboard_view(request: HttpRequest) -> TemplateResponse:
    """Open applications by delay level, group and age; the oldest; this week's alerts; and
    the median and p90 decision time by authority and material family over 12 months."""
    if not request.user.has_perm("licensing.view_licenseapplication"):
        raise PermissionDenied
    dashboard = delay_dashboard(user=request.user)
    levels = [
        {
            "value": level,
            "label": LEVEL_LABELS[level],
            "count": dashboard.by_level[level],
            "url": open_applications_url(delay_level__exact=level),
        }
        for level in DelayLevel.values
    ]
    breakdowns = [
        {
            "id": "by-authority",
            "title": "By authority",
            "breakdown": dashboard.by_authority,
            "chart": _breakdown_chart(
                dashboard.by_authority, title="Open applications by authority", lookup="authority"
            ),
        },
        {
            "id": "by-material-family",
            "title": "By material family",
            "breakdown": dashboard.by_material_family,
            "chart": _breakdown_chart(
                dashboard.by_material_family, title="Open applications by material family"
            ),
        },
        {
            "id": "by-destination",
            "title": "By destination",
            "breakdown": dashboard.by_destination,
            "chart": _breakdown_chart(
                dashboard.by_destination,
                title="Open applications by destination",
                lookup="destination_country",
            ),
        },
        {
            "id": "by-exporter",
            "title": "By exporter",
            "breakdown": dashboard.by_exporter,
            "chart": _breakdown_chart(
                dashboard.by_exporter, title="Open applications by exporter", lookup="exporter"
            ),
        },
    ]
    lead_times = lead_time_chart_rows(
        organization_ids=member_organization_ids(request.user),
        months=LEAD_TIME_MONTHS,
    )
    context = {
        **admin.site.each_context(request),
        "title": "Delays",
        "dashboard": dashboard,
        "levels": levels,
        "level_chart": bar_chart(
            [
                Bar(
                    level["label"],
                    level["count"],
                    href=level["url"],
                    css_class=f"level-{level['value']}",
                )
                for level in levels
            ],
            title="Open applications by delay level",
            width=460,
        ),
        "ageing_chart": histogram(
            dashboard.waits,
            buckets=dashboard.ageing_buckets,
            title="Open applications by working days waited",
            width=460,
        ),
        "ageing_rows": list(zip(dashboard.ageing_buckets, dashboard.ageing_counts, strict=True)),
        "breakdowns": breakdowns,
        "lead_times": lead_times,
        "lead_time_months": LEAD_TIME_MONTHS,
        "lead_time_chart": grouped_bar_chart(
            [row.label for row in lead_times],
            [
                Series("median", [row.median for row in lead_times], css_class="median"),
                Series("p90", [row.p90 for row in lead_times], css_class="p90"),
            ],
            title=f"Decision time in working days, last {LEAD_TIME_MONTHS} months",
            width=560,
            value_suffix=" d",
        )
        if lead_times
        else "",
        "open_url": open_applications_url(),
        "oldest_limit": OLDEST_LIMIT,
        "recent_alert_days": RECENT_ALERT_DAYS,
    }
    return TemplateResponse(request, "admin/licensing/dashboard.html", context)


def admin_urls_with_dashboard(site: admin.AdminSite = admin.site) -> tuple[list, str, str]:
    """`site.urls` with the dashboard in front, for `path("admin/", ...)` in config/urls.py.

    Its URL name lives in the admin namespace (admin:delay-dashboard), next to the
    changelists it links to, and `admin_view` applies the admin's login and staff checks.
    """
    urls, app_name, instance_name = site.urls
    dashboard = path("delays/", site.admin_view(delay_dashboard_view), name="delay-dashboard")
    return [dashboard, *urls], app_name, instance_name
