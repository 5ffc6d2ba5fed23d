"""/api/v1/webhook-endpoints/: where an organization's events are sent, and the delivery log."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.conditional import etag_for
from core.api.idempotency import idempotent
from core.api.strict_bodies import StrictBodyMixin
from licensing.api.v1.base import UUID_PATTERN, ResourceViewSet
from licensing.api.v1.fields import EnumField
from licensing.api.v1.transitions import IF_MATCH_OPTIONAL, optional_expected_version
from licensing.models import (
    AlertKind,
    ApplicationStatus,
    DelayLevel,
    PeriodUnit,
    ShipmentStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from licensing.services.webhooks import (
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_test,
    webhook_endpoint_update,
)


class WebhookEndpointSerializer(StrictBodyMixin, serializers.ModelSerializer):
    url = serializers.URLField(
        max_length=2000,
        help_text="Where events are POSTed: https (http only for a loopback target that "
        "WEBHOOK_ALLOWED_CIDRS allows). Checked against internal addresses after DNS resolution.",
    )
    event_types = serializers.ListField(
        child=EnumField(choices=WebhookEventType.choices),
        max_length=len(WebhookEventType.values),
        required=False,
        default=list,
        help_text="The event types sent here; empty: all of them.",
    )
    deliveries = serializers.SerializerMethodField(help_text="The delivery log of this endpoint.")

    class Meta:
        model = WebhookEndpoint
        fields = (
            "id",
            "url",
            "description",
            "event_types",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "previous_secret_expires_at",
            "consecutive_failures",
            "failing_since",
            "deliveries",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "disabled_reason",
            "disabled_at",
            "previous_secret_expires_at",
            "consecutive_failures",
            "failing_since",
            "version",
            "created_at",
            "updated_at",
        )
        # Delivery counters that move with every attempt, without a new version: a request
        # may send them back as read earlier (core.api.strict_bodies).
        computed_fields = ("consecutive_failures", "failing_since")

    def get_deliveries(self, endpoint: WebhookEndpoint) -> str:
        from rest_framework.reverse import reverse

        return reverse(
            "v1:webhook-endpoint-deliveries",
            kwargs={"id": endpoint.pk},
            request=self.context.get("request"),
        )


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The signing secret (`whsec_...`). Shown only here: store it now. A replay "
        "of this request (the same Idempotency-Key) answers null here: the secret is never "
        "stored outside the endpoint, so rotate it again if you lost it.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ("started_at", "duration_ms", "status_code", "response_excerpt", "error")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type", read_only=True)
    payload = serializers.SerializerMethodField(help_text="The body sent, parsed.")
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "webhook_id",
            "event_type",
            "sequence",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "payload",
            "attempt_log",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_payload(self, delivery: WebhookDelivery) -> dict[str, Any]:
        return json.loads(delivery.body)


class WebhookEndpointViewSet(ResourceViewSet):
    """Webhook endpoints of the caller's organization: URLs that receive its events.

    Each request is signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
    `webhook-signature`); verify it with the secret shown when the endpoint was created or
    its secret rotated. Failed deliveries are retried; an endpoint that answers 410, or
    keeps failing, is disabled with a `disabled_reason`.
    """

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    # Creating and rotating answer the signing secret: both need the change permission, so
    # that only who may change an endpoint ever sees its secret. Redelivering is the admin's
    # "Redeliver" action on deliveries, with its permission. (`test` needs change: the rule.)
    action_permissions = {
        "create": ("licensing.add_webhookendpoint", "licensing.change_webhookendpoint"),
        "rotate_secret": ("licensing.change_webhookendpoint",),
        "redeliver": ("licensing.change_webhookdelivery",),
    }

    def perform_create_object(self, data: dict[str, Any]) -> WebhookEndpoint:
        return webhook_endpoint_create(organization=self.organization, actor=self.actor, **data)

    def perform_update_object(
        self, instance: WebhookEndpoint, data: dict[str, Any], version: int | None
    ) -> WebhookEndpoint:
        return webhook_endpoint_update(
            endpoint=instance, actor=self.actor, expected_version=version, **data
        )

    def perform_delete_object(self, instance: WebhookEndpoint, version: int | None) -> None:
        webhook_endpoint_delete(endpoint=instance, actor=self.actor, expected_version=version)

    def _with_secret(self, endpoint: WebhookEndpoint, code: int, **headers: str) -> Response:
        fresh = self.get_queryset().get(pk=endpoint.pk)
        fresh.secret = endpoint.secret
        data = WebhookEndpointWithSecretSerializer(fresh, context=self.get_serializer_context())
        return Response(
            data.data, status=code, headers={"ETag": etag_for(fresh.version), **headers}
        )

    @extend_schema(responses={201: WebhookEndpointWithSecretSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_write_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = self.perform_create_object(serializer.validated_data)
        return self._with_secret(
            endpoint, status.HTTP_201_CREATED, Location=self.reverse_detail(endpoint)
        )

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer},
        parameters=[IF_MATCH_OPTIONAL],
        filters=False,
    )
    @idempotent
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, id: str | None = None) -> Response:
        """Replace the signing secret; the new one is shown only in this answer.

        A replay with the same Idempotency-Key answers the same status and body with `secret`
        null: the secret is shown once, and is never kept outside the endpoint. If the answer
        was lost, rotate again with a new key.

        For the grace period (24 hours by default) every request carries two signatures,
        with the new secret and with the old one, so you can switch at any moment in it.
        """
        endpoint = self.get_object()
        endpoint = webhook_endpoint_rotate_secret(
            endpoint=endpoint, actor=self.actor, expected_version=optional_expected_version(request)
        )
        return self._with_secret(endpoint, status.HTTP_200_OK)

    @extend_schema(
        operation_id="webhook_endpoints_test",
        request=None,
        responses={202: WebhookDeliverySerializer},
        filters=False,
    )
    @idempotent
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request: Request, id: str | None = None) -> Response:
        """Send a `webhook.test` event to this endpoint; the answer is its delivery, queued."""
        delivery = webhook_endpoint_test(endpoint=self.get_object(), actor=self.actor)
        return Response(
            WebhookDeliverySerializer(delivery, context=self.get_serializer_context()).data,
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(responses=WebhookDeliverySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], url_path="deliveries")
    def deliveries(self, request: Request, id: str | None = None) -> Response:
        """The delivery log: each delivery with every attempt, newest first."""
        endpoint = self.get_object()
        deliveries = (
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .select_related("event")
            .prefetch_related("attempt_log")
        )
        page = self.paginate_queryset(deliveries)
        data = WebhookDeliverySerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(data.data)

    @extend_schema(
        operation_id="webhook_endpoints_deliveries_redeliver",
        request=None,
        responses={202: WebhookDeliverySerializer},
        filters=False,
    )
    @idempotent
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"deliveries/(?P<delivery_id>{UUID_PATTERN})/redeliver",
    )
    def redeliver(
        self, request: Request, id: str | None = None, delivery_id: str | None = None
    ) -> Response:
        """Send a delivery again, with the same body and `webhook-id`, and a fresh retry schedule."""
        endpoint = self.get_object()
        delivery = WebhookDelivery.objects.filter(
            endpoint=endpoint, pk=uuid.UUID(str(delivery_id))
        ).first()
        if delivery is None:
            raise Http404
        delivery = webhook_delivery_redeliver(delivery=delivery, actor=self.actor)
        fresh = (
            WebhookDelivery.objects.select_related("event")
            .prefetch_related("attempt_log")
            .get(pk=delivery.pk)
        )
        return Response(
            WebhookDeliverySerializer(fresh, context=self.get_serializer_context()).data,
            status=status.HTTP_202_ACCEPTED,
        )


# --- the events, as documented in the schema's `webhooks` section ------------------------------
# SPECTACULAR_SETTINGS["WEBHOOKS"] lists the OpenApiWebhook objects below. The serializers only
# describe the payloads; licensing.services.webhooks builds them.


class WebhookRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField(help_text="The object in this API.")


class WebhookApplicationSerializer(WebhookRefSerializer):
    status = serializers.ChoiceField(choices=ApplicationStatus.choices)
    authority_reference = serializers.CharField()
    license_number = serializers.CharField()
    statutory_deadline = serializers.DateField(allow_null=True)
    valid_until = serializers.DateField(allow_null=True)


class WebhookShipmentSerializer(WebhookRefSerializer):
    external_reference = serializers.CharField()
    status = serializers.ChoiceField(choices=ShipmentStatus.choices)
    required_ship_date = serializers.DateField()


class WebhookWaitSerializer(serializers.Serializer):
    elapsed = serializers.IntegerField()
    unit = serializers.ChoiceField(choices=PeriodUnit.choices)


class WebhookAlertSerializer(WebhookRefSerializer):
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    level = serializers.ChoiceField(choices=DelayLevel.choices)
    repeat_index = serializers.IntegerField(min_value=0)
    state = serializers.CharField(help_text="open, acknowledged or resolved.")
    message = serializers.CharField()
    wait = WebhookWaitSerializer(allow_null=True)
    raised_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()
    escalates = WebhookRefSerializer(allow_null=True, help_text="The lower-level alert escalated.")
    shipments = WebhookRefSerializer(many=True, help_text="The affected shipments (at most 50).")
    shipments_count = serializers.IntegerField(min_value=0)


class WebhookAlertDataSerializer(serializers.Serializer):
    alert = WebhookAlertSerializer()
    application = WebhookApplicationSerializer(allow_null=True)
    shipment = WebhookShipmentSerializer(allow_null=True)


class WebhookStatusChangeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    from_status = serializers.ChoiceField(choices=ApplicationStatus.choices)
    to_status = serializers.ChoiceField(choices=ApplicationStatus.choices)
    occurred_at = serializers.DateTimeField()
    note = serializers.CharField(max_length=2000)


class WebhookStatusChangedDataSerializer(serializers.Serializer):
    application = WebhookApplicationSerializer()
    change = WebhookStatusChangeSerializer()


class WebhookTestDataSerializer(serializers.Serializer):
    endpoint = WebhookRefSerializer()
    message = serializers.CharField()


_SIGNATURE_NOTE = (
    "\n\nEvery request carries the Standard Webhooks headers `webhook-id` (the same on each "
    "retry of one delivery: deduplicate on it), `webhook-timestamp` (Unix seconds) and "
    '`webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, two of '
    "them separated by a space while a rotated secret is in its grace period). Verify the "
    "body bytes as received, e.g. with the `standardwebhooks` library. `sequence` counts the "
    "deliveries to your endpoint, to order them. Answer 2xx within 10 s; 5xx, 429 (with "
    "`Retry-After`) and timeouts are retried for about a day, 410 disables the endpoint and "
    "other answers fail the delivery."
)


def _event_webhook(
    event_type: str, name: str, data: type[serializers.Serializer], summary: str, doc: str
) -> OpenApiWebhook:
    envelope = inline_serializer(
        name=name,
        fields={
            "type": serializers.CharField(help_text=f"`{event_type}`."),
            "timestamp": serializers.DateTimeField(help_text="When the event happened."),
            "sequence": serializers.IntegerField(
                min_value=1, help_text="Per endpoint, increasing by one per delivery."
            ),
            "data": data(),
        },
    )

    def decorate(view_class):
        # The receiver's side: none of the problem answers of this API's own operations.
        view_class.schema = AutoSchema()
        return extend_schema(
            summary=summary,
            description=doc + _SIGNATURE_NOTE,
            request=envelope,
            responses={
                204: OpenApiResponse(description="Received (any 2xx acknowledges it)."),
            },
        )(view_class)

    return OpenApiWebhook(name=event_type, decorator=decorate)


ALERT_RAISED_WEBHOOK = _event_webhook(
    "alert.raised",
    "AlertRaisedEvent",
    WebhookAlertDataSerializer,
    "A delay alert was raised",
    "A delay alert was raised: an application's wait reached a level (warning, critical, "
    "overdue) for the first time, or a repeat of the last level.",
)
ALERT_ESCALATED_WEBHOOK = _event_webhook(
    "alert.escalated",
    "AlertEscalatedEvent",
    WebhookAlertDataSerializer,
    "A delay alert escalated a lower one",
    "A delay alert escalated a lower one of the same application (e.g. critical after "
    "warning); `alert.escalates` names the lower alert. Sent instead of `alert.raised`.",
)
ALERT_RESOLVED_WEBHOOK = _event_webhook(
    "alert.resolved",
    "AlertResolvedEvent",
    WebhookAlertDataSerializer,
    "An alert was resolved",
    "An alert's cause ended (a decision arrived, the shipment left or was cancelled); "
    "`alert.resolution` says why.",
)
APPLICATION_STATUS_CHANGED_WEBHOOK = _event_webhook(
    "license_application.status_changed",
    "LicenseApplicationStatusChangedEvent",
    WebhookStatusChangedDataSerializer,
    "A license application changed status",
    "A license application moved to another status (submitted, accepted, approved, ...).",
)
SHIPMENT_AT_RISK_WEBHOOK = _event_webhook(
    "shipment.at_risk",
    "ShipmentAtRiskEvent",
    WebhookAlertDataSerializer,
    "A shipment is at risk",
    "A shipment is at risk: its license decision is not expected before its required ship "
    "date. `shipment` is the shipment; `alert` the alert raised.",
)
LICENSE_EXPIRING_WEBHOOK = _event_webhook(
    "license.expiring",
    "LicenseExpiringEvent",
    WebhookAlertDataSerializer,
    "A license is expiring",
    "A license expires soon (warning) or before a waiting shipment's ship date (critical).",
)
WEBHOOK_TEST_WEBHOOK = _event_webhook(
    "webhook.test",
    "WebhookTestEvent",
    WebhookTestDataSerializer,
    "A test event",
    "A test event, sent by POST /api/v1/webhook-endpoints/{id}/test/ to that endpoint only.",
)
