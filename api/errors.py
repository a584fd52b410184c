"""One JSON error shape for the whole API, and its code vocabulary:

{"error": {"code": "invalid", "message": "…", "fields": {"url": ["…"]}}}

Every error the API answers — DRF's, Django's 404 and 500 under /api/, retry's 409 — is
made here; the schema (api/schema.py) documents the same table.
"""

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from deliveries.services import PayloadTooLargeError

# code → (HTTP status, when it is answered). The one vocabulary: the schema's Error
# component enumerates it and the README lists it.
CODES = {
    "invalid": (400, "The input is not valid: `fields` says which and why."),
    "parse_error": (400, "The body is not JSON the API can read (syntax, nesting, encoding)."),
    "authentication_failed": (401, "The API key is malformed, unknown or revoked."),
    "not_authenticated": (401, "No `Authorization: Bearer <api key>` header."),
    "not_found": (404, "No such object in this account, or no such path."),
    "method_not_allowed": (405, "The path exists but not with this method."),
    "not_acceptable": (406, "The `Accept` header asks for something other than JSON."),
    "conflict": (409, "The object is not in a state that allows this (retry: `skipped`)."),
    "length_required": (411, "A body sent without Content-Length (chunked): send its length."),
    "payload_too_large": (413, "The body is over the size limit."),
    "unsupported_media_type": (415, "The body is not `application/json`."),
    "throttled": (429, "Too many requests for this API key: wait `Retry-After` seconds."),
    "server_error": (500, "A bug on our side (it is logged)."),
}


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(code: str, message: str, **extra) -> Response:
    return Response(error_body(code, message, **extra), status=CODES[code][0])


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "message_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, PayloadTooLargeError | RequestDataTooBig):
        return error_response("payload_too_large", str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first = next(iter(fields.items()), ("", [""]))
        message = f"{first[0]}: {_first_text(first[1])}" if first[0] else "invalid input"
        response.data = error_body("invalid", message, fields=fields)
    else:
        code = exc.default_code if exc.default_code in CODES else "server_error"
        response.data = error_body(code, str(exc.detail))
    return response


def _first_text(value) -> str:
    while isinstance(value, list | dict):
        value = next(iter(value.values() if isinstance(value, dict) else value), "")
    return str(value)


def not_found(request, exception=None):
    """Django's 404 under /api/: the API's error shape, not an HTML page."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return JsonResponse(error_body("not_found", f"No such resource: {request.path}"), status=404)


def bad_request(request, exception=None):
    """Django's 400 (a disallowed Host header, …) under /api/: the API's error shape."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    return JsonResponse(error_body("invalid", "Bad request."), status=400)


def server_error(request):
    """Django's 500 under /api/: the API's error shape even when a bug got through."""
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
