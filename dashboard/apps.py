from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The operators' dashboard: the Django admin for endpoints, events and deliveries."""

    name = "dashboard"
    verbose_name = "Dashboard"
