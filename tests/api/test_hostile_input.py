"""Hostile input gets a 4xx in the API's one error shape, changes nothing, never a 500."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.services import account_create
from deliveries.models import Delivery, Event
from endpoints.models import Endpoint
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(event_types):
    account, raw_key = account_create(name="alpha")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    client.account = account
    return client


def _raw_post(api, path: str, body: str):
    return api.generic("POST", path, body.encode("utf-8", "surrogatepass"), "application/json")


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] and error["message"]
    return error


def _nothing_written():
    assert not Event.objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_too_deep_is_refused_before_it_is_parsed(api, depth):
    body = (
        '{"event_type": "invoice.created", "object": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    )
    error = _error(_raw_post(api, "/api/v1/events", body), 400)
    assert "nested deeper than 32" in error["message"]
    nested = "[" * depth + "]" * depth
    _error(
        _raw_post(
            api, "/api/v1/endpoints", f'{{"url": "https://a.example/", "headers": {nested}}}'
        ),
        400,
    )
    _nothing_written()
    assert not Endpoint.objects.exists()


def test_32_levels_are_accepted(api):
    make_endpoint(api.account)
    obj = "1"
    for _ in range(31):  # the object itself is level 1
        obj = '{"a": ' + obj + "}"
    response = _raw_post(
        api, "/api/v1/events", f'{{"event_type": "invoice.created", "object": {obj}}}'
    )
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("text", ['"\\ud800"', '"a\\udfffb"', '{"\\ud800": 1}'])
def test_a_lone_surrogate_is_refused(api, text):
    body = f'{{"event_type": "invoice.created", "object": {{"s": {text}}}}}'
    error = _error(_raw_post(api, "/api/v1/events", body), 400)
    assert "surrogate" in error["message"]
    _nothing_written()


def test_a_surrogate_pair_is_fine(api):
    body = '{"event_type": "invoice.created", "object": {"s": "\\ud83d\\ude00"}}'
    assert _raw_post(api, "/api/v1/events", body).status_code == 202
    assert json.loads(Event.objects.get().body)["data"]["object"]["s"] == "😀"


@pytest.mark.parametrize("key", [5, True, 1.5, ["k"], {"k": 1}, "", "x" * 256])
def test_an_idempotency_key_must_be_a_bounded_string(api, key):
    response = api.post(
        "/api/v1/events",
        {"event_type": "invoice.created", "object": {}, "idempotency_key": key},
        format="json",
    )
    error = _error(response, 400)
    assert "idempotency_key" in error["fields"]
    _nothing_written()


@pytest.mark.parametrize(
    "limit", ["-1", "0", "abc", "1.5", "201", "100000", "", "%C2%B2", "%D9%A3"]
)
def test_a_bad_limit_is_a_400_not_the_default(api, limit):
    error = _error(api.get(f"/api/v1/deliveries?limit={limit}"), 400)
    assert "limit" in error["fields"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "bz1hYmM%3D",
        "%00",
        "cj0xJnA9",
        "cD1h",
        "cD0xZTQwMA%3D%3D",
        "cD0yMDI2LTAxLTAx",
        "cD0xJTAw",
    ],
)
@pytest.mark.parametrize("path", ["events", "endpoints", "event-types"])
def test_a_malformed_or_forged_cursor_is_a_400(api, cursor, path):
    forged_text = cursor in ("cD1h", "cD0xZTQwMA%3D%3D", "cD0yMDI2LTAxLTAx")
    if path == "event-types" and forged_text:
        # the catalogue is ordered by name: any text is a position it can compare with
        assert api.get(f"/api/v1/{path}?cursor={cursor}").status_code == 200
        return
    error = _error(api.get(f"/api/v1/{path}?cursor={cursor}"), 400)
    assert "cursor" in error["fields"]


def test_a_chunked_body_without_a_length_is_a_411_and_changes_nothing(api):
    response = api.generic(
        "POST",
        "/api/v1/portal-sessions",
        b"",
        "application/json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert _error(response, 411)["code"] == "length_required"
    from portal.models import PortalLink

    assert not PortalLink.objects.exists()


@pytest.mark.parametrize("charset", ["utf-16", "rot13", "base64", "zlib", "nope", "latin-1"])
def test_json_in_another_charset_is_a_400(api, charset):
    response = api.generic(
        "POST",
        "/api/v1/events",
        b'{"event_type": "invoice.created", "object": {}}',
        f"application/json; charset={charset}",
    )
    assert _error(response, 400)["code"] == "parse_error"
    _nothing_written()


def test_an_unknown_format_is_a_406_and_a_nul_in_a_path_a_404(api):
    assert _error(api.get("/api/v1/endpoints?format=xml"), 406)["code"] == "not_acceptable"
    assert _error(api.get("/api/v1/event-types/a%00b"), 404)["code"] == "not_found"


def test_a_disallowed_host_under_the_api_is_a_json_400(api):
    error = _error(api.get("/api/v1/endpoints", HTTP_HOST="evil.example"), 400)
    assert error["code"] == "invalid"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/portal-sessions", {"read_only": "yes"}, "read_only"),
        ("/api/v1/portal-sessions", {"read_only": 1}, "read_only"),
        ("/api/v1/portal-sessions", {"expires_in": "600"}, "expires_in"),
        ("/api/v1/portal-sessions", {"expires_in": 600.0}, "expires_in"),
        ("/api/v1/portal-sessions", {"expires_in": True}, "expires_in"),
        ("/api/v1/portal-sessions", {"zzz": 1}, "zzz"),
    ],
)
def test_booleans_and_integers_are_json_booleans_and_integers(api, path, body, field):
    error = _error(api.post(path, body, format="json"), 400)
    assert isinstance(error["fields"][field], list), error


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({f"X-H{n}": "v" for n in range(51)}, "at most 50"),
        ({"X-Big": "v" * 4000, "X-Big2": "v" * 4000, "X-Big3": "v" * 400}, "8192 bytes"),
        ({"Bad Name": "v"}, "not a header name"),
        ({"X-Ok": "a\r\nInjected: 1"}, "line break"),
        ({"X-Ok": "a\x00b"}, "Null characters"),
        ({"X-Ok": "a\x07b"}, "control character"),
        ({"X-Ok": 5}, "valid string"),
        *[
            ({name: "v"}, "may not be set")
            for name in ("Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "Expect",
                         "Transfer-Encoding", "Content-Length", "Content-Encoding", "Host",
                         "webhook-id", "Webhook-Signature", "User-Agent", "Content-Type")
        ],
    ],
)  # fmt: skip
def test_custom_headers_are_checked_with_a_message_that_says_what_is_wrong(api, headers, says):
    response = api.post(
        "/api/v1/endpoints", {"url": "https://a.example/h", "headers": headers}, format="json"
    )
    error = _error(response, 400)
    assert says in json.dumps(error), error
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com:99999/",
        "https://example.com:0/",
        "ftp://example.com/",
        "https://",
        "not a url",
    ],
)
def test_a_url_that_cannot_be_sent_is_a_400_at_save(api, url):
    error = _error(api.post("/api/v1/endpoints", {"url": url}, format="json"), 400)
    assert "url" in error["fields"]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/endpoints/abc",
        "/api/v1/endpoints/999999",
        "/api/v1/events/evt_nope",
        "/api/v1/events/evt_01NOPE",
        "/api/v1/deliveries/1.5",
        "/api/v1/nothing-here",
        "/api/v1/endpoints/1/nothing",
    ],
)
def test_unknown_ids_and_paths_under_the_api_answer_json_404(api, path):
    error = _error(api.get(path), 404)
    assert error["code"] == "not_found"


def test_a_bug_under_the_api_answers_json_500(api, monkeypatch):
    from api import views

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "event_emit", boom)
    api.raise_request_exception = False
    response = api.post(
        "/api/v1/events", {"event_type": "invoice.created", "object": {}}, format="json"
    )
    assert _error(response, 500)["code"] == "server_error"
