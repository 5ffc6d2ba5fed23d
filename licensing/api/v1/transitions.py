"""What the status workflows of applications and shipments share over HTTP.

A POST to `{id}/transitions/` reports a status change; a GET answers the history whole (it
is a handful of rows), in the `{"next", "previous", "results"}` envelope of the paginated
lists. If-Match is optional on a transition: sent, it must match.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.conditional import expected_version
from core.api.strict_bodies import StrictBodyMixin
from licensing.api.v1.fields import MAX_TEXT, AwareDateTimeField


class TransitionRequestSerializer(StrictBodyMixin, serializers.Serializer):
    """A status change as the client reports it."""

    occurred_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it happened, e.g. the date on the authority's notice (ISO 8601 with "
        "a time zone); not in the future. Defaults to now.",
    )
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


def history_response(serializer: serializers.BaseSerializer, **headers: str) -> Response:
    return Response({"next": None, "previous": None, "results": serializer.data}, headers=headers)


def history_schema(serializer: type[serializers.Serializer], name: str) -> serializers.Serializer:
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )


IF_MATCH_OPTIONAL = OpenApiParameter(
    name="If-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Optional: the ETag of your last GET; if sent and stale, 412.",
)


def optional_expected_version(request: Request) -> int | None:
    """The version from If-Match when the client sent one; None when it sent none (or blank)."""
    if_match = request.headers.get("If-Match", "")
    return expected_version(if_match) if if_match.strip() else None
