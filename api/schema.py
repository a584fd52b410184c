"""What drf-spectacular cannot infer: the API key scheme, strict inputs, integer path ids,
and the errors every operation can answer (api/errors.py's vocabulary), with links
between operations for clients and stateful fuzzers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from api.common import IriField, JsonObjectField, StrictSerializer
from api.errors import CODES


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer fh_…`",
        }


class AutoSchema(SpectacularAutoSchema):
    """Inputs that refuse unknown fields say so (`additionalProperties: false`); URLs that
    may be IRIs and event objects say what they are."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, IriField):
            schema["format"] = "iri"
        elif isinstance(field, JsonObjectField):
            schema.update(type="object", additionalProperties={})
        return schema

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema


ERROR_DETAIL = {
    "type": "object",
    "properties": {
        "code": {
            "type": "string",
            "enum": list(CODES),
            "description": "What went wrong, for programs (see the API description).",
        },
        "message": {"type": "string", "description": "What went wrong, for people."},
        "fields": {
            "type": "object",
            "additionalProperties": {},
            "description": "`invalid` only: each input field in error and its messages.",
        },
        "skipped": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "`conflict` on retry only: deliveries not queued, by reason.",
        },
    },
    "required": ["code", "message"],
}
ERROR = {
    "type": "object",
    "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
    "required": ["error"],
    "description": "Every error of the API has this shape.",
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before the next request with this key.",
    }
}
# Responses an operation links to, for generated clients and Schemathesis' stateful phase.
LINKS = {
    ("endpoints_create", "201"): {
        name: "$response.body#/id"
        for name in (
            "endpoints_retrieve",
            "endpoints_partial_update",
            "endpoints_secret",
            "endpoints_rotate_secret",
            "endpoints_test",
            "endpoints_recover",
            "endpoints_destroy",
        )
    },
    ("events_create", "202"): {"events_retrieve": "$response.body#/id"},
    ("deliveries_list", "200"): {
        name: "$response.body#/results/0/id" for name in ("deliveries_retrieve", "deliveries_retry")
    },
}


def _codes(status: int) -> list[str]:
    return [code for code, (code_status, _) in CODES.items() if code_status == status]


def _error_response(status: int, **extra) -> dict:
    lines = "; ".join(f"`{code}`: {CODES[code][1]}" for code in _codes(status))
    return {
        "description": lines,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        **extra,
    }


def _statuses(path: str, method: str, operation: dict) -> list[int]:
    """The error statuses this operation can answer."""
    statuses = [401, 406, 429, 500]
    has_body = "requestBody" in operation
    has_query = any(p["in"] == "query" for p in operation.get("parameters", []))
    if has_body or has_query:
        statuses.append(400)
    if "{" in path:
        statuses.append(404)
    if has_body:
        statuses += [411, 413, 415]
    if operation["operationId"] == "deliveries_retry":
        statuses.append(409)
    return sorted(statuses)


def postprocess(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS)."""
    result["info"]["description"] += vocabulary()
    schemas = result["components"]["schemas"]
    schemas["ErrorDetail"] = ERROR_DETAIL
    schemas["Error"] = ERROR
    for path, operations in result["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if (
                    parameter["in"] == "path"
                    and parameter["name"] == "id"
                    and "evt_" not in str(parameter["schema"])
                ):
                    parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
            responses = operation["responses"]
            for status in _statuses(path, method, operation):
                extra = {"headers": RETRY_AFTER} if status == 429 else {}
                responses.setdefault(str(status), _error_response(status, **extra))
            for status, response in responses.items():
                targets = LINKS.get((operation["operationId"], status), {})
                if targets:
                    response["links"] = {
                        target: {"operationId": target, "parameters": {"id": value}}
                        for target, value in targets.items()
                    }
    return result


def vocabulary() -> str:
    """The error codes as a Markdown table, for the schema's description."""
    rows = "\n".join(f"| `{code}` | {status} | {text} |" for code, (status, text) in CODES.items())
    return (
        '\n\nEvery error answers `{"error": {"code", "message", "fields"?}}`; `code` is'
        " one of:\n\n| code | status | when |\n| --- | --- | --- |\n" + rows
    )
