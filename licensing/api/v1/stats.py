"""/api/v1/stats/lead-times/: how long the authorities took to decide, per group.

A read-only report over the caller's organization (licensing.selectors.lead_times does the
work). Parameters are validated by `LeadTimeQuerySerializer`: a bad one answers 400
problem+json with its pointer (e.g. `/group_by`, `/to`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.api.tenancy import ActsForOrganization, HasModelPermission, request_organization
from licensing.api.v1.fields import CountryCodeField, DateField, EnumField
from licensing.models import (
    ApplicationStatus,
    ControlledItem,
    LicenseApplication,
    LicenseType,
    LicensingAuthority,
    MaterialFamily,
)
from licensing.selectors.lead_times import (
    POOL_MIN_ORGANIZATIONS,
    POOL_MIN_SAMPLES,
    ApplicationFilters,
    GroupBy,
    LeadTimeReport,
    WindowBy,
    lead_times_by_group,
)


@extend_schema_field({"type": "string"})
class CountryCodeParameter(CountryCodeField):
    """A country code in the query, documented as the list filters document it."""


class _RenamedFields:
    """Serializer fields named after Python keywords: `date_from` is `from`, `date_to` `to`."""

    renamed = {"date_from": "from", "date_to": "to"}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()  # type: ignore[misc]
        return {self.renamed.get(name, name): field for name, field in fields.items()}


class LeadTimeQuerySerializer(_RenamedFields, serializers.Serializer):
    """The query parameters of the lead-time statistics."""

    group_by = EnumField(
        choices=GroupBy.choices,
        default=GroupBy.AUTHORITY,
        help_text="What a group is: `authority`, `item` and `material_family` (an application "
        "counts once per distinct item or family on its lines), `destination_country`, "
        "`exporter`, or `month` (of the clock start, UTC).",
    )
    window = EnumField(
        choices=WindowBy.choices,
        default=WindowBy.DECISION,
        help_text="What `from` and `to` bound: `decision` (the decision date; open applications "
        "are all counted, having none) or `clock_start` (the day the authority's clock started, "
        "for decided and open applications alike).",
    )
    date_from = DateField(
        required=False,
        help_text="First day of the window (UTC), e.g. 2025-01-01. Unbounded when absent.",
    )
    date_to = DateField(
        required=False,
        help_text="Last day of the window (UTC), inclusive. Unbounded when absent.",
    )
    authority = serializers.CharField(
        required=False,
        max_length=LicensingAuthority._meta.get_field("code").max_length,
        help_text="Authority code, e.g. CN-MOFCOM.",
    )
    exporter = serializers.UUIDField(required=False, help_text="Exporter id.")
    destination_country = CountryCodeParameter(
        required=False, help_text="ISO 3166-1 alpha-2 code, e.g. DE."
    )
    license_type = EnumField(choices=LicenseType.choices, required=False)
    status = serializers.ListField(
        child=EnumField(choices=ApplicationStatus.choices),
        required=False,
        max_length=len(ApplicationStatus.choices),
        help_text="Repeat for several: ?status=approved&status=denied.",
    )
    item = serializers.CharField(
        required=False,
        max_length=ControlledItem._meta.get_field("control_code").max_length,
        help_text="Has a line of this controlled item (control code, e.g. 1C905).",
    )
    material_family = EnumField(
        choices=MaterialFamily.choices,
        required=False,
        help_text="Has a line of an item of this material family.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            raise serializers.ValidationError({"to": ["`to` cannot precede `from`."]})
        return data


# The report's parts are named LeadTime*: a generated client puts every model in one
# namespace, where `Open` or `Window` alone would not say what it is.
@extend_schema_serializer(component_name="LeadTimeDurations")
class DurationsSerializer(serializers.Serializer):
    sample_size = serializers.IntegerField(
        min_value=0,
        help_text="Approvals and denials with a recorded duration behind the percentiles.",
    )
    median = serializers.FloatField(allow_null=True)
    p75 = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)


@extend_schema_serializer(component_name="LeadTimeDecisionTime")
class DecisionTimeSerializer(serializers.Serializer):
    working_days = DurationsSerializer(
        help_text="Counting days on the authority's clock, clock start to decision, pauses "
        "excluded: working days for CN-MOFCOM; calendar days for an authority whose period "
        "runs in calendar days (US-BIS)."
    )
    calendar_days = DurationsSerializer(help_text="Calendar days, clock start to decision.")


@extend_schema_serializer(component_name="LeadTimeDecided")
class DecidedSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        min_value=0,
        help_text="Decided: approved (or since expired, revoked, exhausted), "
        "denied or withdrawn. The sample size of the shares.",
    )
    approved = serializers.IntegerField(min_value=0)
    denied = serializers.IntegerField(min_value=0)
    withdrawn = serializers.IntegerField(min_value=0)
    approved_share = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    denied_share = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    withdrawn_share = serializers.FloatField(allow_null=True, min_value=0, max_value=1)


@extend_schema_serializer(component_name="LeadTimeOldestOpen")
class OldestOpenSerializer(serializers.Serializer):
    application = serializers.UUIDField(source="application_id")
    clock_started_at = serializers.DateTimeField()
    age_working_days = serializers.IntegerField(
        min_value=0,
        help_text="Counting days on its authority's clock so far, pauses excluded (the unit "
        "of `working_days` above).",
    )
    age_calendar_days = serializers.IntegerField(
        min_value=0, help_text="Calendar days since its clock started."
    )


@extend_schema_serializer(component_name="LeadTimeOpen")
class OpenSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        min_value=0, help_text="Pending with the clock started; the sample size of `oldest`."
    )
    oldest = OldestOpenSerializer(
        allow_null=True, help_text="The open application whose clock started first."
    )


@extend_schema_serializer(component_name="LeadTimePooled")
class PooledSerializer(serializers.Serializer):
    decided_count = serializers.IntegerField(min_value=0)
    working_days = DurationsSerializer()
    calendar_days = DurationsSerializer()


class LeadTimeGroupSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="Authority code, control code, family, country code, exporter id or YYYY-MM."
    )
    label = serializers.CharField(help_text="A human-readable name of the group.")
    decided = DecidedSerializer()
    decision_time = DecisionTimeSerializer(source="decided")
    open = OpenSerializer()
    pooled = PooledSerializer(
        allow_null=True,
        help_text="Every organization's durations, anonymised; null unless pooling is enabled "
        "and enough organizations and decisions stand behind them.",
    )


@extend_schema_serializer(component_name="LeadTimeWindow")
class WindowSerializer(_RenamedFields, serializers.Serializer):
    by = EnumField(choices=WindowBy.choices, source="window")
    date_from = serializers.DateField(source="date_from", allow_null=True)
    date_to = serializers.DateField(source="date_to", allow_null=True)


@extend_schema_serializer(component_name="LeadTimePooling")
class PoolingSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(
        source="pooling",
        help_text="Whether `pooled` figures may appear: SHARE_ANONYMOUS_STATS is on, and the "
        "query neither groups nor filters by exporter.",
    )
    min_samples = serializers.IntegerField(source="pool_min_samples")
    min_organizations = serializers.IntegerField(source="pool_min_organizations")


class LeadTimeReportSerializer(serializers.Serializer):
    group_by = EnumField(choices=GroupBy.choices)
    window = WindowSerializer(source="*")
    pooling = PoolingSerializer(source="*")
    groups = LeadTimeGroupSerializer(many=True)


_EXAMPLE = {
    "group_by": "authority",
    "window": {"by": "decision", "from": "2025-01-01", "to": "2025-12-31"},
    "pooling": {"enabled": False, "min_samples": 5, "min_organizations": 3},
    "groups": [
        {
            "key": "CN-MOFCOM",
            "label": "Ministry of Commerce of the People's Republic of China",
            "decided": {
                "count": 40,
                "approved": 31,
                "denied": 5,
                "withdrawn": 4,
                "approved_share": 0.775,
                "denied_share": 0.125,
                "withdrawn_share": 0.1,
            },
            "decision_time": {
                "working_days": {"sample_size": 36, "median": 41.5, "p75": 52.25, "p90": 63.0},
                "calendar_days": {"sample_size": 36, "median": 58.0, "p75": 74.5, "p90": 90.5},
            },
            "open": {
                "count": 7,
                "oldest": {
                    "application": "7c2e4b1a-9d3f-4e8a-b6c5-1f0a2d3e4b5c",
                    "clock_started_at": "2025-09-12T01:30:00Z",
                    "age_working_days": 54,
                    "age_calendar_days": 78,
                },
            },
            "pooled": None,
        }
    ],
}


_DESCRIPTION = """Lead-time statistics of the caller's organization's license applications.

Per group: the number decided and the shares approved, denied and withdrawn; the median,
p75 and p90 decision time in working days (the authority's clock, pauses excluded) and in
calendar days, over approvals and denials (a withdrawal is not the authority's decision);
the number still open and the age of the oldest (the first clock start). Every figure
comes with the sample size behind it. Percentiles interpolate linearly between ranks
(PostgreSQL's `percentile_cont`). Only applications whose clock started are counted.

Filters select applications before they are grouped. With SHARE_ANONYMOUS_STATS on,
each group may add `pooled`: every organization's durations, only as counts and
percentiles, and only with at least `min_samples` durations from at least
`min_organizations` organizations; never by exporter.
"""


class LeadTimeStatsView(APIView):
    """GET only: the lead-time report of licensing.selectors.lead_times (see _DESCRIPTION)."""

    permission_classes = [ActsForOrganization, HasModelPermission]
    # The report reads applications: staff who may view them may read it.
    permission_model = LicenseApplication

    @extend_schema(
        summary="Lead-time statistics",
        description=_DESCRIPTION,
        parameters=[LeadTimeQuerySerializer],
        responses={
            200: OpenApiResponse(
                LeadTimeReportSerializer,
                description="One entry per group with a decided or open application.",
                examples=[
                    OpenApiExample("By authority", value=_EXAMPLE, response_only=True),
                ],
            )
        },
    )
    def get(self, request: Request) -> Response:
        query = LeadTimeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        organization = request_organization(request)
        assert organization is not None  # ActsForOrganization guarantees it
        report = lead_times_by_group(
            organization_id=organization.pk,
            group_by=data["group_by"],
            window=data["window"],
            date_from=data.get("from"),
            date_to=data.get("to"),
            filters=ApplicationFilters(
                authority=data.get("authority", ""),
                exporter=data.get("exporter"),
                destination_country=data.get("destination_country", ""),
                license_type=data.get("license_type", ""),
                statuses=tuple(data.get("status", ())),
                item=data.get("item", ""),
                material_family=data.get("material_family", ""),
            ),
            pooled=settings.SHARE_ANONYMOUS_STATS,
        )
        return Response(LeadTimeReportSerializer(_Report(report)).data)


class _Report:
    """A LeadTimeReport with the pooling thresholds, as the serializer reads it."""

    pool_min_samples = POOL_MIN_SAMPLES
    pool_min_organizations = POOL_MIN_ORGANIZATIONS

    def __init__(self, report: LeadTimeReport) -> None:
        self._report = report

    def __getattr__(self, name: str) -> Any:
        return getattr(self._report, name)
