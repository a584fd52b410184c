"""One JSON error shape for the whole API:

{"error": {"code": "invalid", "message": "…", "fields": {"url": ["…"]}}}
"""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from deliveries.services import PayloadTooLargeError


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "message_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, PayloadTooLargeError | RequestDataTooBig):
        return _error(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "payload_too_large", str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first = next(iter(fields.items()), ("", [""]))
        message = f"{first[0]}: {_first_text(first[1])}" if first[0] else "invalid input"
        response.data = {"error": {"code": "invalid", "message": message, "fields": fields}}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error")
        response.data = {"error": {"code": code, "message": str(detail)}}
    return response


def _first_text(value) -> str:
    while isinstance(value, list | dict):
        value = next(iter(value.values() if isinstance(value, dict) else value), "")
    return str(value)


def _error(status_code: int, code: str, message: str) -> Response:
    return Response({"error": {"code": code, "message": message}}, status=status_code)
