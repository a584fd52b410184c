"""Admin registrations: accounts and keys, endpoints and the catalogue, events and deliveries."""

from dashboard.admin import accounts, deliveries, endpoints

__all__ = ["accounts", "deliveries", "endpoints"]
