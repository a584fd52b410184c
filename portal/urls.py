from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("enter/<str:token>", views.enter, name="enter"),
    path("leave", views.leave, name="leave"),
    path("", views.endpoints, name="endpoints"),
    path("endpoints/new", views.endpoint_new, name="endpoint-new"),
    path("endpoints", views.endpoint_create_view, name="endpoint-create"),
    path("endpoints/<int:endpoint_id>", views.endpoint, name="endpoint"),
    path("endpoints/<int:endpoint_id>/save", views.endpoint_update_view, name="endpoint-save"),
    path("endpoints/<int:endpoint_id>/enable", views.endpoint_enable_view, name="endpoint-enable"),
    path(
        "endpoints/<int:endpoint_id>/disable", views.endpoint_disable_view, name="endpoint-disable"
    ),
    path("endpoints/<int:endpoint_id>/delete", views.endpoint_delete_view, name="endpoint-delete"),
    path("endpoints/<int:endpoint_id>/secret", views.endpoint_secret_view, name="endpoint-secret"),
    path("endpoints/<int:endpoint_id>/rotate", views.endpoint_rotate_view, name="endpoint-rotate"),
    path("endpoints/<int:endpoint_id>/test", views.endpoint_test_view, name="endpoint-test"),
    path(
        "endpoints/<int:endpoint_id>/recover", views.endpoint_recover_view, name="endpoint-recover"
    ),
    path("endpoints/<int:endpoint_id>/verify", views.endpoint_verify, name="endpoint-verify"),
    path("event-types", views.catalogue, name="catalogue"),
    path("deliveries", views.deliveries, name="deliveries"),
    path("deliveries/<int:delivery_id>", views.delivery, name="delivery"),
    path("deliveries/<int:delivery_id>/retry", views.delivery_retry_view, name="delivery-retry"),
]
