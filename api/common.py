"""Shared API pieces: strict input serializers, cursor pagination, the account scope."""

import base64
from urllib.parse import parse_qs

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import NotAcceptable, NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error, not a silent no-op."""

    def to_internal_value(self, data):
        if isinstance(data, dict):  # nested serializers too (their data, not initial_data)
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text only: a number or a boolean is an error, not quietly turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryFilterSerializer(serializers.Serializer):
    """Query-string filters: unknown parameters are ignored (cursor, limit, …), an empty
    value of a known one is a 400 (DRF would silently drop it), and `lookups` maps the
    valid ones to ORM lookups through LOOKUPS."""

    LOOKUPS: dict[str, str] = {}

    def to_internal_value(self, data):
        empty = sorted(name for name in self.fields if data.get(name, None) == "")
        if empty:
            raise serializers.ValidationError({name: ["may not be empty"] for name in empty})
        return super().to_internal_value(data)

    @classmethod
    def lookups(cls, query_params) -> dict:
        filters = cls(data=query_params)
        filters.is_valid(raise_exception=True)
        return {cls.LOOKUPS[name]: value for name, value in filters.validated_data.items()}


class StrictBooleanField(serializers.BooleanField):
    """true or false only: "yes", 1 or "false" are errors, not guesses."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: "600", 600.0 or true are errors."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class IriField(StrictCharField):
    """A URL that may be an IRI (non-ASCII host or path): `format: iri` in the schema."""


class JsonObjectField(serializers.JSONField):
    """Any JSON object (the service checks it is one): `type: object` in the schema."""


class OptionalChoiceField(serializers.ChoiceField):
    """An output choice stored as "" when there is none: answered as null, so the schema's
    enum holds every value a client can see."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(value) if value else None


class KnownFormatNegotiation(DefaultContentNegotiation):
    """`?format=` naming a format this view does not render is a 406 `not_acceptable`
    (DRF answers 404, which no list documents)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if wanted and wanted not in {renderer.format for renderer in renderers}:
            raise NotAcceptable(f"No {wanted[:40]!r} format here; JSON is.")
        return super().select_renderer(request, renderers, format_suffix)


class NewestFirstPagination(CursorPagination):
    """Keyset pagination on the primary key: as fast on page 10,000 as on page 1.

    A `limit` that is not a whole number from 1 to max_page_size, or a cursor that is not
    one of ours, is a 400 naming the parameter (DRF would quietly use the default, or
    answer 404)."""

    ordering = "-pk"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise serializers.ValidationError(
                {"limit": [f"must be a whole number from 1 to {self.max_page_size}"]}
            )
        return int(raw)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and not _looks_like_a_cursor(encoded):
            raise serializers.ValidationError({"cursor": [_NOT_A_CURSOR]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:
            raise serializers.ValidationError({"cursor": [_NOT_A_CURSOR]}) from exc
        if cursor is not None and not self._valid_position(cursor.position):
            raise serializers.ValidationError({"cursor": [_NOT_A_CURSOR]})
        return cursor

    def _valid_position(self, position) -> bool:
        """A position our lists can compare with: an id (18 ASCII digits at most) for the
        lists by id, text without NUL for the catalogue by name."""
        if position is None:
            return True
        ordering = self.ordering[0] if isinstance(self.ordering, list | tuple) else self.ordering
        if ordering.lstrip("-") == "pk":
            return position.isascii() and position.isdigit() and len(position) <= 18
        return "\x00" not in position and len(position) <= 200

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
                parameter["description"] = (
                    f"Rows per page, 1 to {self.max_page_size} (default {self.page_size});"
                    " anything else is a 400."
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = (
                    "The `next` or `previous` link's cursor; anything else is a 400."
                )
        return parameters

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        # History older than this is deleted (FLEXHOOKS_RETENTION_DAYS).
        response["Flexhooks-Retention-Days"] = str(settings.FLEXHOOKS_RETENTION_DAYS)
        return response


class CataloguePagination(NewestFirstPagination):
    """The event catalogue, by name: paginated like every list (31 types fit one page)."""

    ordering = "name"
    page_size = 100


_NOT_A_CURSOR = "is not a cursor of this list (use the next or previous link)"


def _looks_like_a_cursor(encoded: str) -> bool:
    """What CursorPagination.encode_cursor makes: base64 of a query string of o, r and p
    (DRF itself reads anything that does not decode as the first page)."""
    try:
        decoded = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
    except (ValueError, UnicodeError):
        return False
    fields = parse_qs(decoded, keep_blank_values=True)
    return bool(fields) and set(fields) <= {"o", "r", "p"} and all(v[0] for v in fields.values())


class AccountScopedMixin:
    """Every query of an API view starts from the key's account: another account's
    objects are simply not found (404, never 403)."""

    # Ids are bigints: 19 digits or more cannot be one (a JSON 404, not a database error).
    lookup_value_regex = r"[0-9]{1,18}"

    @property
    def account(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no request
            return None
        return self.request.user.account
