"""The API's views: each reads through the key's account and calls a service."""

import logging

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api import serializers as s
from api.common import AccountScopedMixin, CataloguePagination, NewestFirstPagination
from api.errors import error_response
from deliveries.models import Delivery, Event
from deliveries.services import (
    PayloadTooLargeError,
    deliveries_retry,
    endpoint_delete,
    endpoint_disable,
    endpoint_recover,
    endpoint_send_test,
    event_emit,
)
from endpoints.models import Endpoint, EventType
from endpoints.services import (
    endpoint_create,
    endpoint_current_secret,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_secret_expiries,
    endpoint_update,
)
from portal.services import portal_link_create

# Who read which endpoint's secret, when (never the secret itself).
audit = logging.getLogger("flexhooks.audit")


class EventTypeViewSet(viewsets.ReadOnlyModelViewSet):
    """The event catalogue: every type that can be emitted and subscribed to."""

    queryset = EventType.objects.order_by("name")
    serializer_class = s.EventTypeSerializer
    lookup_field = "name"
    lookup_value_regex = r"[^/\x00]{1,100}"  # no NUL: PostgreSQL text cannot hold one
    pagination_class = CataloguePagination


class EndpointViewSet(
    AccountScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Webhook endpoints of the API key's account."""

    serializer_class = s.EndpointSerializer
    pagination_class = NewestFirstPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return (
            Endpoint.objects.visible().filter(account=self.account).prefetch_related("event_types")
        )

    def _input(self, serializer_class, **kwargs):
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        request=s.EndpointInputSerializer,
        responses={201: s.EndpointCreatedSerializer},
        examples=[
            OpenApiExample(
                "invoices",
                request_only=True,
                value={
                    "url": "https://billing.example.com/webhooks",
                    "description": "Invoices to the ledger",
                    "event_types": ["invoice.created", "invoice.finalized"],
                },
            )
        ],
    )
    def create(self, request):
        data = self._input(s.EndpointInputSerializer)
        endpoint, secret = endpoint_create(account=self.account, **data)
        endpoint.secret = secret
        return Response(s.EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.EndpointInputSerializer, responses=s.EndpointSerializer)
    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        data = self._input(s.EndpointInputSerializer, partial=True)
        enabled = data.pop("enabled", None)
        endpoint_update(endpoint=endpoint, **data)
        if enabled is True and not endpoint.enabled:
            endpoint_enable(endpoint=endpoint)
        elif enabled is False and endpoint.enabled:
            endpoint_disable(endpoint=endpoint, reason="disabled by the account")
        return Response(s.EndpointSerializer(self.get_object()).data)

    def destroy(self, request, pk=None):
        """Delete the endpoint: disabled and hidden at once, its pending deliveries
        cancelled; its history stays readable until retention purges it."""
        endpoint_delete(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.SecretSerializer, operation_id="endpoints_secret")
    @action(detail=True, methods=["get"])
    def secret(self, request, pk=None):
        """The current signing secret."""
        endpoint = self.get_object()
        audit.info(
            "secret revealed endpoint=%s account=%s by api key=%s",
            endpoint.pk,
            endpoint.account_id,
            request.auth.prefix,
        )
        return Response(
            {
                "secret": endpoint_current_secret(endpoint=endpoint),
                "previous_secret_expires_at": endpoint_secret_expiries(endpoint=endpoint),
            }
        )

    @extend_schema(
        request=s.RotateSecretInputSerializer,
        responses=s.SecretSerializer,
        operation_id="endpoints_rotate_secret",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """Sign with a new secret from now on; the old one keeps signing for the grace."""
        endpoint = self.get_object()
        data = self._input(s.RotateSecretInputSerializer)
        secret = endpoint_rotate_secret(endpoint=endpoint, grace_seconds=data.get("grace_seconds"))
        return Response(
            {
                "secret": secret,
                "previous_secret_expires_at": endpoint_secret_expiries(endpoint=endpoint),
            }
        )

    @extend_schema(
        request=s.SendTestInputSerializer,
        responses={202: s.EmitResultSerializer},
        operation_id="endpoints_test",
        examples=[
            OpenApiExample("invoice", request_only=True, value={"event_type": "invoice.created"})
        ],
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send the catalogue's example object of a type to this endpoint only."""
        endpoint = self.get_object()
        data = self._input(s.SendTestInputSerializer)
        result = endpoint_send_test(endpoint=endpoint, event_type=data["event_type"])
        return Response(s.EmitResultSerializer(result).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=s.RecoverInputSerializer,
        responses={202: s.CountSerializer},
        operation_id="endpoints_recover",
        examples=[
            OpenApiExample(
                "since an outage", request_only=True, value={"since": "2026-12-01T00:00:00Z"}
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def recover(self, request, pk=None):
        """Queue again every failed delivery of this endpoint created in [since, until)."""
        endpoint = self.get_object()
        data = self._input(s.RecoverInputSerializer)
        result = endpoint_recover(endpoint=endpoint, since=data["since"], until=data.get("until"))
        return Response(
            {"queued": result.queued, "skipped": dict(result.skipped)},
            status=status.HTTP_202_ACCEPTED,
        )


class EventViewSet(
    AccountScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Events of the API key's account, each with its deliveries' statuses."""

    serializer_class = s.EventSerializer
    pagination_class = NewestFirstPagination
    lookup_value_regex = r"evt_[0-9A-Z]+"

    def get_queryset(self):
        queryset = (
            Event.objects.filter(account=self.account)
            .select_related("event_type")
            .prefetch_related("deliveries")
        )
        if self.action != "list":
            return queryset
        return queryset.filter(**s.EventFilterSerializer.lookups(self.request.query_params))

    @extend_schema(parameters=[s.EventFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=s.EmitInputSerializer,
        responses={202: s.EmitResultSerializer, 200: s.EmitResultSerializer},
        examples=[
            OpenApiExample(
                "invoice created",
                request_only=True,
                value={
                    "event_type": "invoice.created",
                    "object": {"id": "inv_123", "customer_id": "cus_42", "total": 4200},
                    "idempotency_key": "invoice-inv_123-created",
                },
            )
        ],
    )
    def create(self, request):
        """Emit an event: one delivery per subscribed endpoint, sent in the background.

        202 with the new event; 200 with the earlier one when the idempotency key was used.
        """
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.FLEXHOOKS_MAX_PAYLOAD_BYTES:
            raise PayloadTooLargeError(
                f"the body is larger than {settings.FLEXHOOKS_MAX_PAYLOAD_BYTES} bytes"
            )
        serializer = s.EmitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = event_emit(
            account=self.account,
            event_type=data["event_type"],
            data=data["object"],
            idempotency_key=data.get("idempotency_key"),
        )
        code = status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK
        return Response(s.EmitResultSerializer(result).data, status=code)


class DeliveryViewSet(
    AccountScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Deliveries of the API key's account: one event to one endpoint, with its attempts."""

    pagination_class = NewestFirstPagination

    def get_serializer_class(self):
        return s.DeliveryDetailSerializer if self.action == "retrieve" else s.DeliverySerializer

    def get_queryset(self):
        queryset = Delivery.objects.filter(account=self.account).select_related("event__event_type")
        if self.action == "retrieve":
            return queryset.prefetch_related("attempts")
        if self.action != "list":
            return queryset
        return queryset.filter(**s.DeliveryFilterSerializer.lookups(self.request.query_params))

    @extend_schema(parameters=[s.DeliveryFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None, responses={202: s.CountSerializer}, operation_id="deliveries_retry"
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue an attempt now: a failed or succeeded delivery is sent again with the same
        webhook-id; a pending one is brought forward. 409 `conflict` when it cannot be
        queued (an attempt in flight, the endpoint disabled), the reason in `skipped`."""
        delivery = self.get_object()
        result = deliveries_retry(delivery_ids=[delivery.pk])
        if not result.queued:
            reasons = ", ".join(result.skipped) or "unknown"
            return error_response(
                "conflict",
                f"The delivery cannot be queued now: {reasons}.",
                skipped=dict(result.skipped),
            )
        return Response(
            {"queued": result.queued, "skipped": dict(result.skipped)},
            status=status.HTTP_202_ACCEPTED,
        )


class PortalSessionViewSet(AccountScopedMixin, viewsets.ViewSet):
    """Links to the customer portal of the API key's account."""

    @extend_schema(
        request=s.PortalSessionInputSerializer,
        responses={201: s.PortalSessionSerializer},
        operation_id="portal_sessions_create",
        examples=[
            OpenApiExample(
                "branded",
                request_only=True,
                value={
                    "expires_in": 600,
                    "brand": {"name": "Hooli Billing", "accent_color": "#1a73e8"},
                },
            )
        ],
    )
    def create(self, request):
        """Mint a single-use link to the account's portal (endpoints, delivery history,
        retries). Open it within `expires_in` seconds; it starts a session of
        FLEXHOOKS_PORTAL_SESSION_SECONDS (default one hour). Hand it to the account's
        people: open it in a new tab, or in an iframe (FLEXHOOKS_PORTAL_FRAME_ANCESTORS)."""
        serializer = s.PortalSessionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        link, raw = portal_link_create(
            account=self.account,
            expires_in=data.get("expires_in"),
            read_only=data["read_only"],
            brand=data.get("brand"),
        )
        url = request.build_absolute_uri(reverse("portal:enter", args=[raw]))
        body = {"url": url, "expires_at": link.expires_at, "read_only": link.read_only}
        return Response(s.PortalSessionSerializer(body).data, status=status.HTTP_201_CREATED)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema: YAML by default, JSON with `?format=json`; a browser (which
    asks for HTML) gets the YAML as plain text to read instead of a file download."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        browser = "text/html" in request.headers.get("Accept", "")
        if browser and "format" not in request.query_params and response.status_code == 200:
            response.content_type = "text/plain; charset=utf-8"
        return response
