"""One JSON error shape for the whole API:

{"error": {"code": "invalid", "message": "…", "fields": {"url": ["…"]}}}
"""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from deliveries.services import PayloadTooLargeError


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
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


def not_found(request, exception=None):
    """Django's 404 under /api/: the API's error shape, not an HTML page."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return JsonResponse(
        {"error": {"code": "not_found", "message": f"No such resource: {request.path}"}},
        status=404,
    )


def server_error(request):
    """Django's 500 under /api/: the API's error shape even when a bug got through."""
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    return JsonResponse(
        {"error": {"code": "server_error", "message": "Something went wrong on our side."}},
        status=500,
    )
