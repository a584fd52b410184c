"""Requests the API refuses before any view runs."""

from django.http import JsonResponse

from api.errors import error_body

BODY_METHODS = {"POST", "PUT", "PATCH"}


class RefuseUnsizedBodies:
    """A chunked body without Content-Length reads as empty in Django (WSGI gives no
    length): under /api/ it is a 411, never a request quietly run without its body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        if (
            request.path.startswith("/api/")
            and request.method in BODY_METHODS
            and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
            and not meta.get("CONTENT_LENGTH")
        ):
            return JsonResponse(
                error_body("length_required", "Send the body with a Content-Length header."),
                status=411,
            )
        return self.get_response(request)
