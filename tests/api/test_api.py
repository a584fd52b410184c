"""The REST API through DRF's client with real API keys."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import ApiKeyRateThrottle
from accounts.models import ApiKey
from accounts.services import account_create
from deliveries.models import Delivery, Event
from deliveries.services import event_emit
from endpoints.models import Endpoint, EndpointSecret
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


def _client(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def tenant_a(event_types):
    return account_create(name="alpha")


@pytest.fixture
def tenant_b(event_types):
    return account_create(name="beta")


@pytest.fixture
def api(tenant_a):
    return _client(tenant_a[1])


@pytest.fixture
def b_objects(tenant_b):
    account = tenant_b[0]
    endpoint, _ = make_endpoint(account, "https://beta.example.com/h")
    result = event_emit(account=account, event_type="invoice.created", data={"id": "b"})
    return {"endpoint": endpoint, "event": result.event, "delivery": Delivery.objects.get()}


def _counts():
    return (
        Endpoint.objects.count(),
        Event.objects.count(),
        Delivery.objects.count(),
        EndpointSecret.objects.count(),
    )


# --- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Basic abc", "Bearer fh_unknown", "Bearer a b", "Token x"]
)
def test_missing_malformed_or_unknown_keys_get_401_with_a_message(tenant_a, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/endpoints")
    assert response.status_code == 401
    assert response.json()["error"]["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_gets_401_and_a_used_key_is_touched(tenant_a, api):
    assert api.get("/api/v1/endpoints").status_code == 200
    key = ApiKey.objects.get(account=tenant_a[0])
    assert key.last_used_at is not None
    key.revoked_at = timezone.now()
    key.save()
    assert api.get("/api/v1/endpoints").status_code == 401


# --- happy paths --------------------------------------------------------------------------


def test_the_catalogue(api):
    response = api.get("/api/v1/event-types")
    assert response.status_code == 200
    page = response.json()
    assert page["next"] is None  # paginated like every list; the 31 types fit one page
    names = [row["name"] for row in page["results"]]
    assert (
        names == sorted(names) and len(names) == 31 and "wallet.depleted_ongoing_balance" in names
    )
    one = api.get("/api/v1/event-types/invoice.created").json()
    assert one["object_type"] == "invoice" and one["example"]["number"]


def test_endpoint_lifecycle(api):
    created = api.post(
        "/api/v1/endpoints",
        {
            "url": "https://hooks.example.com/in",
            "event_types": ["invoice.created"],
            "headers": {"X-Team": "billing"},
            "description": "prod",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["invoice.created"]
    endpoint_id = body["id"]

    listing = api.get("/api/v1/endpoints").json()
    assert [e["id"] for e in listing["results"]] == [endpoint_id]
    assert "secret" not in listing["results"][0]

    patched = api.patch(
        f"/api/v1/endpoints/{endpoint_id}", {"event_types": [], "enabled": False}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["event_types"] == [] and patched.json()["enabled"] is False
    assert patched.json()["description"] == "prod"

    secret = api.get(f"/api/v1/endpoints/{endpoint_id}/secret").json()["secret"]
    assert secret == body["secret"]
    rotated = api.post(
        f"/api/v1/endpoints/{endpoint_id}/rotate-secret", {"grace_seconds": 60}, format="json"
    ).json()
    assert rotated["secret"] != secret and len(rotated["previous_secret_expires_at"]) == 1

    assert api.delete(f"/api/v1/endpoints/{endpoint_id}").status_code == 204
    assert api.get(f"/api/v1/endpoints/{endpoint_id}").status_code == 404
    assert api.get("/api/v1/endpoints").json()["results"] == []
    assert Endpoint.objects.get().deleted_at is not None  # kept for its history


def test_emit_list_and_read_events_and_deliveries(api, tenant_a):
    make_endpoint(tenant_a[0], "https://a.example.com/h")
    response = api.post(
        "/api/v1/events",
        {"event_type": "invoice.created", "object": {"id": "inv_1"}},
        format="json",
    )
    assert response.status_code == 202
    event_id = response.json()["id"]
    assert response.json()["deliveries"] == 1

    events = api.get("/api/v1/events").json()["results"]
    assert events[0]["id"] == event_id and events[0]["object"] == {"id": "inv_1"}
    assert events[0]["deliveries"][0]["status"] == "pending"
    assert api.get(f"/api/v1/events/{event_id}").json()["event_type"] == "invoice.created"

    deliveries = api.get("/api/v1/deliveries", {"status": "pending"}).json()["results"]
    assert len(deliveries) == 1 and deliveries[0]["event_id"] == event_id
    detail = api.get(f"/api/v1/deliveries/{deliveries[0]['id']}").json()
    assert detail["attempts"] == []


def test_the_same_idempotency_key_returns_the_first_event(api, tenant_a):
    make_endpoint(tenant_a[0])
    body = {"event_type": "invoice.created", "object": {}, "idempotency_key": "order-7"}
    first = api.post("/api/v1/events", body, format="json")
    again = api.post("/api/v1/events", body, format="json")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "deliveries": 1, "created": False}
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1


def test_delivery_filters(api, tenant_a):
    endpoint, _ = make_endpoint(tenant_a[0])
    old = event_emit(account=tenant_a[0], event_type="invoice.created", data={}).event
    Delivery.objects.update(status="failed", created_at=timezone.now() - timedelta(days=2))
    new = event_emit(account=tenant_a[0], event_type="wallet.created", data={}).event

    def ids(**params):
        return [d["event_id"] for d in api.get("/api/v1/deliveries", params).json()["results"]]

    assert ids() == [new.id, old.id]
    assert ids(status="failed") == [old.id]
    assert ids(event_type="wallet.created") == [new.id]
    assert ids(event_id=old.id) == [old.id]
    assert ids(endpoint=endpoint.pk) == [new.id, old.id]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(created_since=since) == [new.id]
    assert ids(created_until=since) == [old.id]
    assert api.get("/api/v1/deliveries", {"status": "weird"}).status_code == 400


def test_cursor_pagination_walks_every_row_once(api, tenant_a):
    make_endpoint(tenant_a[0])
    for n in range(7):
        event_emit(account=tenant_a[0], event_type="invoice.created", data={"n": n})
    seen, url = [], "/api/v1/deliveries?limit=3"
    while url:
        page = api.get(url).json()
        seen += [d["id"] for d in page["results"]]
        url = page["next"]
    assert seen == sorted(Delivery.objects.values_list("id", flat=True), reverse=True)
    assert "count" not in page  # keyset pagination never counts
    assert api.get("/api/v1/deliveries")["Flexhooks-Retention-Days"] == "30"


def test_retry_and_recover_queue_deliveries(api, tenant_a):
    endpoint, _ = make_endpoint(tenant_a[0])
    event_emit(account=tenant_a[0], event_type="invoice.created", data={})
    delivery = Delivery.objects.get()
    Delivery.objects.update(status="failed")
    response = api.post(f"/api/v1/deliveries/{delivery.pk}/retry")
    assert response.status_code == 202 and response.json()["queued"] == 1
    assert Delivery.objects.get().next_trigger == "manual"

    Delivery.objects.update(status="sending")
    conflict = api.post(f"/api/v1/deliveries/{delivery.pk}/retry")
    assert conflict.status_code == 409
    assert conflict.json() == {
        "error": {
            "code": "conflict",
            "message": "The delivery cannot be queued now: an attempt is in flight.",
            "skipped": {"an attempt is in flight": 1},
        }
    }

    Delivery.objects.update(status="failed")
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    recovered = api.post(
        f"/api/v1/endpoints/{endpoint.pk}/recover", {"since": since}, format="json"
    )
    assert recovered.status_code == 202 and recovered.json()["queued"] == 1


def test_send_a_test_event(api, tenant_a):
    endpoint, _ = make_endpoint(tenant_a[0], event_types=["wallet.created"])
    response = api.post(
        f"/api/v1/endpoints/{endpoint.pk}/test",
        {"event_type": "credit_note.created"},
        format="json",
    )
    assert response.status_code == 202
    event = Event.objects.get(pk=response.json()["id"])
    assert event.data_object["number"] == "HOO-2026-0042-CN1"
    assert event.deliveries.get().endpoint == endpoint


# --- tenant isolation -----------------------------------------------------------------------


def test_another_accounts_objects_are_404_and_never_listed(api, b_objects):
    endpoint, event, delivery = b_objects["endpoint"], b_objects["event"], b_objects["delivery"]
    before = _counts()
    for method, url, body in [
        ("get", f"/api/v1/endpoints/{endpoint.pk}", None),
        ("patch", f"/api/v1/endpoints/{endpoint.pk}", {"description": "mine now"}),
        ("delete", f"/api/v1/endpoints/{endpoint.pk}", None),
        ("get", f"/api/v1/endpoints/{endpoint.pk}/secret", None),
        ("post", f"/api/v1/endpoints/{endpoint.pk}/rotate-secret", {}),
        ("post", f"/api/v1/endpoints/{endpoint.pk}/test", {"event_type": "invoice.created"}),
        ("post", f"/api/v1/endpoints/{endpoint.pk}/recover", {"since": "2020-01-01T00:00:00Z"}),
        ("get", f"/api/v1/events/{event.pk}", None),
        ("get", f"/api/v1/deliveries/{delivery.pk}", None),
        ("post", f"/api/v1/deliveries/{delivery.pk}/retry", None),
    ]:
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    for url in ("/api/v1/endpoints", "/api/v1/events", "/api/v1/deliveries"):
        assert api.get(url).json()["results"] == [], url
    assert _counts() == before
    endpoint.refresh_from_db()
    assert endpoint.description == ""


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/events", {"event_type": "invoice.nope", "object": {}}, "event_type"),
        ("/api/v1/events", {"event_type": "invoice.created", "object": [1]}, "object"),
        ("/api/v1/events", {"event_type": "invoice.created"}, "object"),
        ("/api/v1/events", {"event_type": "invoice.created", "object": {}, "extra": 1}, "extra"),
        ("/api/v1/endpoints", {"url": "ftp://example.com/x"}, "url"),
        ("/api/v1/endpoints", {"url": "not a url"}, "url"),
        (
            "/api/v1/endpoints",
            {"url": "https://x.example.com", "event_types": ["nope.x"]},
            "event_types",
        ),
        (
            "/api/v1/endpoints",
            {"url": "https://x.example.com", "headers": {"webhook-id": "1"}},
            "headers",
        ),
        ("/api/v1/endpoints", {"url": "https://x.example.com", "headers": "x"}, "headers"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, tenant_a, url, body, field):
    make_endpoint(tenant_a[0])
    before = _counts()
    response = api.post(url, body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    assert _counts() == before


def test_an_archived_type_is_refused(api):
    from endpoints.models import EventType

    EventType.objects.filter(name="fee.created").update(archived=True)
    response = api.post("/api/v1/events", {"event_type": "fee.created", "object": {}}, "json")
    assert response.status_code == 400 and "archived" in response.json()["error"]["message"]


def test_malformed_json_is_a_400(api):
    response = api.generic(
        "POST", "/api/v1/events", b'{"event_type": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not Event.objects.exists()


def test_a_body_over_the_cap_is_a_413(api, settings):
    settings.FLEXHOOKS_MAX_PAYLOAD_BYTES = 2000
    body = json.dumps({"event_type": "invoice.created", "object": {"x": "y" * 5000}})
    response = api.generic("POST", "/api/v1/events", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Event.objects.exists()


def test_a_method_that_does_not_exist_is_a_405(api, tenant_a):
    endpoint, _ = make_endpoint(tenant_a[0])
    assert api.put(f"/api/v1/endpoints/{endpoint.pk}", {}, format="json").status_code == 405
    assert api.delete("/api/v1/events").status_code == 405
    assert api.get(f"/api/v1/endpoints/{endpoint.pk}/rotate-secret").status_code == 405


def test_throttling_answers_429_with_retry_after(api, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "2/minute", raising=False)
    monkeypatch.setattr(ApiKeyRateThrottle, "num_requests", 2, raising=False)
    monkeypatch.setattr(ApiKeyRateThrottle, "duration", 60, raising=False)
    from django.core.cache import cache

    cache.clear()
    codes = [api.get("/api/v1/event-types").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    response = api.get("/api/v1/event-types")
    assert int(response["Retry-After"]) > 0
    cache.clear()


def test_the_openapi_schema_is_valid_and_describes_every_route(client):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/endpoints",
        "/api/v1/endpoints/{id}/rotate-secret",
        "/api/v1/endpoints/{id}/recover",
        "/api/v1/events",
        "/api/v1/deliveries/{id}/retry",
        "/api/v1/event-types",
    ):
        assert any(p.rstrip("/") == expected for p in paths), (expected, paths)
    assert client.get("/api/v1/docs/").status_code == 200
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), (method, path)
    for name, component in schema["components"]["schemas"].items():
        if name.startswith("Paginated"):  # drf-spectacular's own page wrapper
            continue
        for field, spec in component.get("properties", {}).items():
            assert "description" in spec or "$ref" in spec or "allOf" in spec, (name, field)
