from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from api import schema  # noqa: F401 - registers the API key scheme with drf-spectacular
from api.views import (
    DeliveryViewSet,
    EndpointViewSet,
    EventTypeViewSet,
    EventViewSet,
    PortalSessionViewSet,
    SchemaView,
)

router = SimpleRouter()
router.trailing_slash = "/?"  # both /endpoints and /endpoints/ answer, without a redirect
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("endpoints", EndpointViewSet, basename="endpoint")
router.register("events", EventViewSet, basename="event")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("portal-sessions", PortalSessionViewSet, basename="portal-session")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
]
