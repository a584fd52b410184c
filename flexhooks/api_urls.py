from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from deliveries.apis import DeliveryViewSet, EventViewSet
from endpoints.apis import EndpointViewSet, EventTypeViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # both /endpoints and /endpoints/ answer, without a redirect
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("endpoints", EndpointViewSet, basename="endpoint")
router.register("events", EventViewSet, basename="event")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
]
