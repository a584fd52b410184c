"""The OpenAPI schema is the whole contract: every error the API answers is documented on
its operation and has the one Error shape; inputs and outputs are as strict as the server."""

import json
import re
from datetime import timedelta

import jsonschema
import pytest
import yaml
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import ApiKeyRateThrottle
from accounts.services import account_create
from api.errors import CODES
from deliveries.models import Delivery, Event
from deliveries.services import event_emit
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    client = APIClient()
    return client.get("/api/v1/schema/", {"format": "json"}).json()


@pytest.fixture
def tenant(event_types):
    account, raw_key = account_create(name="contract")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    client.account = account
    return client


def _operation(schema, method: str, path: str):
    """The schema's operation for a concrete request path (None when no route matches)."""
    for template, operations in schema["paths"].items():
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", template.rstrip("/")) + "/?"
        if re.fullmatch(pattern, path.split("?")[0]) and method.lower() in operations:
            return operations[method.lower()]
    return None


def _assert_error(schema, response, code: str):
    body = response.json()
    resolver = {"components": schema["components"], **schema["components"]["schemas"]["Error"]}
    jsonschema.validate(body, resolver)
    assert body["error"]["code"] == code, body
    assert response.status_code == CODES[code][0], (response.status_code, body)
    assert body["error"]["message"]


# --- the schema documents every error --------------------------------------------------------


def test_every_operation_documents_its_errors_in_the_one_shape(schema):
    assert {"Error", "ErrorDetail"} <= set(schema["components"]["schemas"])
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert detail["properties"]["code"]["enum"] == list(CODES)
    for code in CODES:  # the vocabulary is in the description people read
        assert f"`{code}`" in schema["info"]["description"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"401", "406", "429"}
            if "{" in path:
                expected.add("404")
            if "requestBody" in operation:
                expected |= {"400", "413", "415"}
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                expected.add("400")
            assert expected <= set(responses), (method, path, sorted(responses))
            for status in expected:
                content = responses[status]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (method, path, status)
            assert "Retry-After" in responses["429"]["headers"], (method, path)
    retry = schema["paths"]["/api/v1/deliveries/{id}/retry/"]["post"]["responses"]
    assert "409" in retry


def test_inputs_are_as_strict_as_the_server(schema):
    components = schema["components"]["schemas"]
    for name, component in components.items():
        if name.endswith("Request"):
            assert component.get("additionalProperties") is False, name
    url = components["EndpointInputRequest"]["properties"]["url"]
    assert url["format"] == "iri" and url["maxLength"] == 2048
    assert components["Endpoint"]["properties"]["url"]["format"] == "iri"
    assert components["EmitInputRequest"]["properties"]["object"]["type"] == "object"
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "limit":
                    assert parameter["schema"]["minimum"] == 1
                    assert parameter["schema"]["maximum"] == 200
                if parameter["in"] == "path" and parameter["name"] == "id":
                    expected = "string" if path.startswith("/api/v1/events/") else "integer"
                    assert parameter["schema"]["type"] == expected, path


def test_outputs_list_the_fields_they_always_carry_as_required(schema):
    components = schema["components"]["schemas"]
    for name in ("Endpoint", "Delivery", "DeliveryDetail", "Event", "EventType", "Attempt"):
        component = components[name]
        assert set(component["required"]) == set(component["properties"]), name
    delivery = components["Delivery"]["properties"]
    assert delivery["next_attempt_at"]["nullable"] is True
    assert "nullable" not in delivery["status"] and "nullable" not in delivery["attempt_count"]


def test_create_links_to_the_endpoints_operations(schema):
    links = schema["paths"]["/api/v1/endpoints/"]["post"]["responses"]["201"]["links"]
    operation_ids = {
        operation["operationId"]
        for operations in schema["paths"].values()
        for operation in operations.values()
    }
    assert {"endpoints_retrieve", "endpoints_partial_update", "endpoints_test"} <= set(links)
    assert set(links) <= operation_ids


# --- every error body has the shape, and its status is documented ----------------------------


def _each_error(tenant, event_types):
    """(method, path, response, code) for every kind of error the API answers."""
    endpoint, _ = make_endpoint(tenant.account, "https://hooks.example.com/h")
    other, _ = account_create(name="other")
    foreign, _ = make_endpoint(other, "https://other.example.com/h")
    anonymous = APIClient()
    event_emit(account=tenant.account, event_type="invoice.created", data={})
    in_flight = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=in_flight.pk).update(status="sending")
    yield "POST", "/api/v1/endpoints", tenant.post("/api/v1/endpoints", {}, "json"), "invalid"
    yield (
        "POST",
        "/api/v1/events",
        tenant.generic("POST", "/api/v1/events", b"{", content_type="application/json"),
        "parse_error",
    )
    yield "GET", "/api/v1/endpoints", anonymous.get("/api/v1/endpoints"), "not_authenticated"
    bad_key = APIClient()
    bad_key.credentials(HTTP_AUTHORIZATION="Bearer fh_nope")
    yield "GET", "/api/v1/endpoints", bad_key.get("/api/v1/endpoints"), "authentication_failed"
    for path in (
        f"/api/v1/endpoints/{foreign.pk}",
        "/api/v1/endpoints/999999",
        "/api/v1/endpoints/abc",
        "/api/v1/endpoints/12345678901234567890123",
        "/api/v1/events/evt_nope",
        "/api/v1/events/evt_0000000000000000000000000A",
        "/api/v1/deliveries/0",
        "/api/v1/event-types/no.such",
        "/api/v1/nothing-here",
    ):
        yield "GET", path, tenant.get(path), "not_found"
    path = f"/api/v1/endpoints/{endpoint.pk}"
    yield (
        "PUT",
        path,
        tenant.put(path, {"url": "https://x.example.com"}, "json"),
        ("method_not_allowed"),
    )
    yield (
        "GET",
        "/api/v1/endpoints",
        tenant.get("/api/v1/endpoints", HTTP_ACCEPT="text/html"),
        ("not_acceptable"),
    )
    path = f"/api/v1/deliveries/{in_flight.pk}/retry"
    yield "POST", path, tenant.post(path), "conflict"
    yield (
        "POST",
        "/api/v1/events",
        tenant.generic("POST", "/api/v1/events", "x" * 2_000_000, content_type="application/json"),
        "payload_too_large",
    )
    yield (
        "POST",
        "/api/v1/endpoints",
        tenant.generic("POST", "/api/v1/endpoints", "url=x", content_type="text/plain"),
        "unsupported_media_type",
    )
    yield (
        "POST",
        "/api/v1/events",
        tenant.generic(
            "POST", "/api/v1/events", b"", "application/json", HTTP_TRANSFER_ENCODING="chunked"
        ),
        "length_required",
    )


def test_every_error_has_the_shape_and_a_documented_status(schema, tenant, event_types):
    seen = set()
    for method, path, response, code in _each_error(tenant, event_types):
        assert response["Content-Type"] == "application/json", (path, response["Content-Type"])
        _assert_error(schema, response, code)
        operation = _operation(schema, method, path)
        if operation is not None:  # a path no route matches has no operation to document it
            assert str(response.status_code) in operation["responses"], (method, path)
        seen.add(code)
    assert seen == set(CODES) - {"throttled", "server_error"}


def test_throttled_is_documented_with_retry_after(schema, tenant, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "1/minute", raising=False)
    monkeypatch.setattr(ApiKeyRateThrottle, "num_requests", 1, raising=False)
    monkeypatch.setattr(ApiKeyRateThrottle, "duration", 60, raising=False)
    cache.clear()
    tenant.get("/api/v1/endpoints")
    response = tenant.get("/api/v1/endpoints")
    cache.clear()
    _assert_error(schema, response, "throttled")
    assert int(response["Retry-After"]) > 0


def test_a_bug_under_the_api_answers_500_in_the_shape(schema, tenant, monkeypatch):
    from api.views import EndpointViewSet

    def broken(self, request, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(EndpointViewSet, "list", broken)
    tenant.raise_request_exception = False
    response = tenant.get("/api/v1/endpoints")
    _assert_error(schema, response, "server_error")
    assert "a bug" not in response.content.decode()


# --- strict parameters and the new filters ----------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=abc",
        "limit=",
        "cursor=garbage",
        "status=",
        "status=nope",
        "endpoint=",
        "endpoint=x",
        "created_since=",
        "created_since=yesterday",
    ],
)
def test_bad_list_parameters_are_a_400_naming_the_parameter(schema, tenant, query):
    response = tenant.get(f"/api/v1/deliveries?{query}")
    _assert_error(schema, response, "invalid")
    assert query.split("=")[0] in response.json()["error"]["fields"]


def test_events_are_filtered_by_type_key_and_time(tenant):
    make_endpoint(tenant.account, "https://hooks.example.com/h")
    first = event_emit(
        account=tenant.account, event_type="invoice.created", data={}, idempotency_key="k-1"
    ).event
    second = event_emit(
        account=tenant.account, event_type="wallet.depleted_ongoing_balance", data={}
    )
    Event.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=2))

    def ids(query):
        response = tenant.get(f"/api/v1/events?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("event_type=invoice.created") == [first.pk]
    assert ids("idempotency_key=k-1") == [first.pk]
    assert ids("idempotency_key=k-2") == []
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(f"created_since={since.replace('+', '%2B')}") == [second.event.pk]
    assert ids(f"created_until={since.replace('+', '%2B')}") == [first.pk]
    assert tenant.get("/api/v1/events?event_type=").status_code == 400


# --- the schema and the docs for people -------------------------------------------------------


def test_a_browser_reads_the_schema_as_text_and_tools_get_json():
    client = APIClient()
    page = client.get("/api/v1/schema/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert page.status_code == 200
    assert page["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" not in page.get("Content-Disposition", "")
    assert yaml.safe_load(page.content)["openapi"].startswith("3.")
    tools = client.get("/api/v1/schema/", {"format": "json"})
    assert tools["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert json.loads(tools.content)["paths"]


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files():
    from django.contrib.staticfiles import finders

    page = APIClient().get("/api/v1/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in asset for asset in assets), assets
    for asset in assets:
        assert asset.startswith("/static/"), asset  # nothing from a CDN
        assert finders.find(asset.removeprefix("/static/").split("?")[0]), asset
    assert "persistAuthorization" in page  # the Authorize flow keeps the key
