from django.contrib import admin
from django.urls import include, path

from flexhooks import ops_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("portal/", include("portal.urls")),
    path("metrics", ops_views.metrics, name="metrics"),
    path("healthz", ops_views.healthz, name="healthz"),
]

handler400 = "api.errors.bad_request"
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
