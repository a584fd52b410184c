"""Shared API pieces: strict input serializers, cursor pagination, the account scope."""

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import CursorPagination


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error, not a silent no-op."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return attrs


class NewestFirstPagination(CursorPagination):
    """Keyset pagination on the primary key: as fast on page 10,000 as on page 1."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        # History older than this is deleted (FLEXHOOKS_RETENTION_DAYS).
        response["Flexhooks-Retention-Days"] = str(settings.FLEXHOOKS_RETENTION_DAYS)
        return response


class AccountScopedMixin:
    """Every query of an API view starts from the key's account: another account's
    objects are simply not found (404, never 403)."""

    lookup_value_regex = r"\d+"

    @property
    def account(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return None
        return self.request.user.account
