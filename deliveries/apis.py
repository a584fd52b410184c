from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from deliveries import serializers as s
from deliveries.models import Delivery, Event
from deliveries.services import PayloadTooLargeError, deliveries_retry, event_emit
from endpoints.serializers import CountSerializer
from flexhooks.api_fields import AccountScopedMixin, NewestFirstPagination


class EventViewSet(
    AccountScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Events of the API key's account, each with its deliveries' statuses."""

    serializer_class = s.EventSerializer
    pagination_class = NewestFirstPagination
    lookup_value_regex = r"evt_[0-9A-Z]+"

    def get_queryset(self):
        return (
            Event.objects.filter(account=self.account)
            .select_related("event_type")
            .prefetch_related("deliveries")
        )

    @extend_schema(
        request=s.EmitInputSerializer,
        responses={202: s.EmitResultSerializer, 200: s.EmitResultSerializer},
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
        filters = s.DeliveryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        lookups = {
            "status": "status",
            "endpoint": "endpoint_id",
            "event_type": "event__event_type__name",
            "event_id": "event_id",
            "created_since": "created_at__gte",
            "created_until": "created_at__lt",
        }
        return queryset.filter(
            **{lookups[name]: value for name, value in filters.validated_data.items()}
        )

    @extend_schema(parameters=[s.DeliveryFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={202: CountSerializer, 409: CountSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Queue an attempt now: a failed or succeeded delivery is sent again with the same
        webhook-id; a pending one is brought forward. 409 when it cannot be queued."""
        delivery = self.get_object()
        result = deliveries_retry(delivery_ids=[delivery.pk])
        body = {"queued": result.queued, "skipped": dict(result.skipped)}
        code = status.HTTP_202_ACCEPTED if result.queued else status.HTTP_409_CONFLICT
        return Response(body, status=code)
