from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from deliveries.serializers import EmitResultSerializer
from deliveries.services import endpoint_recover, endpoint_send_test
from endpoints import serializers as s
from endpoints.models import Endpoint, EventType
from endpoints.services import (
    endpoint_create,
    endpoint_current_secret,
    endpoint_rotate_secret,
    endpoint_secret_expiries,
    endpoint_update,
)
from flexhooks.api_fields import AccountScopedMixin, NewestFirstPagination


class EventTypeViewSet(viewsets.ReadOnlyModelViewSet):
    """The event catalogue: every type that can be emitted and subscribed to."""

    queryset = EventType.objects.order_by("name")
    serializer_class = s.EventTypeSerializer
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    pagination_class = None


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
        return Endpoint.objects.filter(account=self.account).prefetch_related("event_types")

    def _input(self, serializer_class, **kwargs):
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=s.EndpointInputSerializer, responses={201: s.EndpointCreatedSerializer})
    def create(self, request):
        data = self._input(s.EndpointInputSerializer)
        endpoint, secret = endpoint_create(account=self.account, **data)
        endpoint.secret = secret
        return Response(s.EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.EndpointInputSerializer, responses=s.EndpointSerializer)
    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        data = self._input(s.EndpointInputSerializer, partial=True)
        endpoint_update(endpoint=endpoint, **data)
        return Response(s.EndpointSerializer(self.get_object()).data)

    def destroy(self, request, pk=None):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.SecretSerializer)
    @action(detail=True, methods=["get"])
    def secret(self, request, pk=None):
        """The current signing secret."""
        endpoint = self.get_object()
        return Response(
            {
                "secret": endpoint_current_secret(endpoint=endpoint),
                "previous_secret_expires_at": endpoint_secret_expiries(endpoint=endpoint),
            }
        )

    @extend_schema(request=s.RotateSecretInputSerializer, responses=s.SecretSerializer)
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

    @extend_schema(request=s.SendTestInputSerializer, responses={202: EmitResultSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send the catalogue's example object of a type to this endpoint only."""
        endpoint = self.get_object()
        data = self._input(s.SendTestInputSerializer)
        result = endpoint_send_test(endpoint=endpoint, event_type=data["event_type"])
        return Response(EmitResultSerializer(result).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.RecoverInputSerializer, responses={202: s.CountSerializer})
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
