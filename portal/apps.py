from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The customer portal: an account's own pages, opened from a one-time link."""

    name = "portal"
    verbose_name = "Customer portal"
