"""Admin registrations: accounts and keys, endpoints and the catalogue, events and deliveries."""

from django.contrib import admin

from dashboard.admin import accounts, deliveries, endpoints

# The lists need the width of a laptop screen; the home page and the breadcrumbs lead
# everywhere the navigation sidebar did.
admin.site.enable_nav_sidebar = False
admin.site.index_title = "Dashboard"

__all__ = ["accounts", "deliveries", "endpoints"]
