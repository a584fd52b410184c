"""The customer portal: links, sessions, isolation between accounts, read-only sessions,
and the headers that let it be framed (or not)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import account_create
from deliveries.models import Delivery
from deliveries.services import event_emit
from endpoints.models import Endpoint, EndpointSecret
from portal.guard import COOKIE
from portal.models import PortalLink, PortalSession, hash_token
from portal.services import portal_link_create
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


def _portal(client, account, **options):
    """A client with an open portal session of `account`."""
    _, raw = portal_link_create(account=account, **options)
    response = client.get(f"/portal/enter/{raw}")
    assert response.status_code == 302 and response["Location"] == "/portal/"
    return client


def _form_token(client) -> str:
    return PortalSession.objects.get(token_hash=hash_token(client.cookies[COOKIE].value)).form_token


@pytest.fixture
def tenants(event_types):
    a, _ = account_create(name="alpha")
    b, _ = account_create(name="beta")
    objects = {}
    for account in (a, b):
        endpoint, _ = make_endpoint(account, f"https://{account.name}.example.com/hooks")
        event_emit(account=account, event_type="invoice.created", data={"n": 1})
        delivery = Delivery.objects.get(account=account)
        Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempt_count=8)
        objects[account.name] = {"account": account, "endpoint": endpoint, "delivery": delivery}
    return objects


def _state(account) -> list:
    """Everything a portal action could change of an account."""
    return [
        list(Endpoint.objects.filter(account=account).values().order_by("pk")),
        list(Delivery.objects.filter(account=account).values().order_by("pk")),
        list(EndpointSecret.objects.filter(endpoint__account=account).values().order_by("pk")),
    ]


def _pages(objects) -> list[str]:
    endpoint, delivery = objects["endpoint"].pk, objects["delivery"].pk
    return [
        f"/portal/endpoints/{endpoint}",
        f"/portal/endpoints/{endpoint}/verify",
        f"/portal/deliveries/{delivery}",
    ]


def _actions(objects) -> list[tuple[str, dict]]:
    endpoint, delivery = objects["endpoint"].pk, objects["delivery"].pk
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    return [
        (f"/portal/endpoints/{endpoint}/save", {"url": "https://evil.example.com/"}),
        (f"/portal/endpoints/{endpoint}/enable", {}),
        (f"/portal/endpoints/{endpoint}/disable", {}),
        (f"/portal/endpoints/{endpoint}/delete", {}),
        (f"/portal/endpoints/{endpoint}/secret", {}),
        (f"/portal/endpoints/{endpoint}/rotate", {}),
        (f"/portal/endpoints/{endpoint}/test", {"event_type": "invoice.created"}),
        (f"/portal/endpoints/{endpoint}/recover", {"since": since}),
        (f"/portal/deliveries/{delivery}/retry", {}),
    ]


# --- links and sessions ---------------------------------------------------------------------


def test_a_link_works_once_and_only_its_hash_is_stored(client, tenants):
    link, raw = portal_link_create(account=tenants["alpha"]["account"])
    assert link.token_hash == hash_token(raw) and raw not in str(PortalLink.objects.values())
    first = client.get(f"/portal/enter/{raw}")
    assert first.status_code == 302
    cookie = first.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/portal/"
    assert not cookie["secure"]  # FLEXHOOKS_TLS off
    page = client.get("/portal/").content.decode()
    assert "alpha.example.com" in page and "beta.example.com" not in page

    again = APIClient().get(f"/portal/enter/{raw}")  # a second browser, the same link
    assert again.status_code == 404
    assert "expired" in again.content.decode() and "alpha" not in again.content.decode()
    assert COOKIE not in again.cookies


@pytest.mark.parametrize("token", ["expired", "unknown"])
def test_an_expired_or_unknown_link_shows_the_expired_page(client, tenants, token):
    link, raw = portal_link_create(account=tenants["alpha"]["account"])
    if token == "expired":
        PortalLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    else:
        raw = "x" * 43
    response = client.get(f"/portal/enter/{raw}")
    body = response.content.decode()
    assert response.status_code == 404 and "ask for a new one" in body.lower()
    assert "alpha" not in body and COOKIE not in response.cookies


def test_an_ended_session_shows_no_data(client, tenants):
    _portal(client, tenants["alpha"]["account"])
    PortalSession.objects.update(expires_at=timezone.now())
    response = client.get("/portal/")
    assert response.status_code == 401 and "alpha.example.com" not in response.content.decode()


def test_without_a_session_every_page_and_action_shows_nothing(client, tenants, admin_user):
    alpha = tenants["alpha"]
    before = _state(alpha["account"])
    # Neither an API key nor a dashboard login is a portal session.
    client.force_login(admin_user)
    _, raw_key = account_create(name="gamma")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    for path in ["/portal/", "/portal/deliveries", "/portal/event-types", *_pages(alpha)]:
        response = client.get(path, **headers)
        assert response.status_code == 401, path
        assert "alpha.example.com" not in response.content.decode(), path
    for path, data in _actions(alpha):
        assert client.post(path, data, **headers).status_code == 401, path
    assert _state(alpha["account"]) == before


def test_another_accounts_ids_are_404_for_every_page_and_action(client, tenants):
    alpha, beta = tenants["alpha"], tenants["beta"]
    _portal(client, alpha["account"])
    token = _form_token(client)
    before = _state(beta["account"])
    for path in _pages(beta):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Cache-Control"] == "no-store", path  # the portal's own 404 page
    for path, data in _actions(beta):
        response = client.post(path, {**data, "form_token": token})
        assert response.status_code == 404, path
    assert _state(beta["account"]) == before
    listing = client.get(f"/portal/deliveries?endpoint={beta['endpoint'].pk}").content.decode()
    assert "beta.example.com" not in listing


def test_a_read_only_session_changes_nothing_and_shows_no_form(client, tenants):
    alpha = tenants["alpha"]
    _portal(client, alpha["account"], read_only=True)
    token = _form_token(client)
    before = _state(alpha["account"])
    for path, data in [*_actions(alpha), ("/portal/endpoints", {"url": "https://x.example.com"})]:
        response = client.post(path, {**data, "form_token": token})
        assert response.status_code == 403, path
    assert _state(alpha["account"]) == before
    for path in ["/portal/", "/portal/deliveries", *_pages(alpha)]:
        page = client.get(path).content.decode()
        actions = re.findall(r'<form method="post" action="([^"]+)"', page)
        assert actions == ["/portal/leave"], (path, actions)  # signing out only
    assert client.get("/portal/endpoints/new").status_code == 403
    assert client.post("/portal/endpoints", {"form_token": token}).status_code == 403
    assert client.post("/portal/leave", {"form_token": token}).status_code == 200
    assert not PortalSession.objects.exists()


def test_a_change_needs_the_sessions_form_token_and_a_post(client, tenants):
    alpha = tenants["alpha"]
    _portal(client, alpha["account"])
    path = f"/portal/deliveries/{alpha['delivery'].pk}/retry"
    assert client.post(path).status_code == 403
    assert client.post(path, {"form_token": "forged"}).status_code == 403
    assert client.get(path).status_code == 405
    assert Delivery.objects.get(pk=alpha["delivery"].pk).status == "failed"
    response = client.post(path, {"form_token": _form_token(client)})
    assert response.status_code == 302
    assert Delivery.objects.get(pk=alpha["delivery"].pk).status == "pending"


# --- pages and actions ------------------------------------------------------------------------


def test_every_page_renders_for_the_account(client, tenants):
    alpha = tenants["alpha"]
    _portal(client, alpha["account"])
    for path in [
        "/portal/",
        "/portal/endpoints/new",
        "/portal/event-types",
        "/portal/deliveries",
        "/portal/deliveries?status=failed&event_type=invoice.created",
        *_pages(alpha),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
    catalogue = client.get("/portal/event-types").content.decode()
    assert "wallet.depleted_ongoing_balance" in catalogue and "webhook_type" in catalogue


def test_add_an_endpoint_reveal_its_secret_and_see_bad_input_explained(client, tenants, caplog):
    alpha = tenants["alpha"]
    _portal(client, alpha["account"])
    token = _form_token(client)
    form = client.get("/portal/endpoints/new").content.decode()
    assert re.search(r"<label[^>]*>URL</label>", form)
    bad = client.post("/portal/endpoints", {"url": "ftp://x", "headers": "{", "form_token": token})
    assert bad.status_code == 400
    assert Endpoint.objects.filter(account=alpha["account"]).count() == 1
    created = client.post(
        "/portal/endpoints",
        {
            "url": "https://ledger.example.com/in",
            "event_types": ["invoice.created", "invoice.voided"],
            "headers": '{"X-Team": "billing"}',
            "form_token": token,
        },
    )
    endpoint = Endpoint.objects.get(url="https://ledger.example.com/in")
    assert created.status_code == 302 and endpoint.account == alpha["account"]
    assert sorted(endpoint.event_types.values_list("name", flat=True)) == [
        "invoice.created",
        "invoice.voided",
    ]
    settings_page = client.get(f"/portal/endpoints/{endpoint.pk}").content.decode()
    invoice_group = re.search(r"<details( open)?><summary>invoice</summary>", settings_page)
    assert invoice_group.group(1) == " open"  # a ticked type is never hidden in a closed group
    page = client.post(f"/portal/endpoints/{endpoint.pk}/secret", {"form_token": token})
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", page.content.decode()).group(0)
    assert secret not in caplog.text and "secret revealed" in caplog.text


def test_framing_allowed_origins_sets_csp_and_a_partitioned_cookie(client, tenants, settings):
    settings.FLEXHOOKS_PORTAL_FRAME_ANCESTORS = "https://billing.example.com"
    _, raw = portal_link_create(account=tenants["alpha"]["account"])
    response = client.get(f"/portal/enter/{raw}")
    header = (
        next(value for name, value in response.items() if name == "Set-Cookie")
        if False
        else response.cookies[COOKIE].output()
    )
    assert "SameSite=None" in header and "Secure" in header and "Partitioned" in header
    page = client.get("/portal/")
    assert "frame-ancestors https://billing.example.com" in page["Content-Security-Policy"]
    assert "X-Frame-Options" not in page


# --- the API ------------------------------------------------------------------------------------


def test_the_api_mints_links_and_refuses_bad_branding(tenants):
    _, raw_key = account_create(name="delta")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    response = api.post(
        "/api/v1/portal-sessions",
        {
            "expires_in": 60,
            "read_only": True,
            "brand": {"name": "Hooli", "accent_color": "#1a73e8"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["url"].startswith("http://testserver/portal/enter/") and body["read_only"]
    link = PortalLink.objects.get()
    assert link.brand == {"name": "Hooli", "accent_color": "#1a73e8"} and link.read_only
    for brand in (
        {"accent_color": "red"},
        {"logo_url": "http://logo.example.com/x.png"},
        {"font": "x"},
    ):
        bad = api.post("/api/v1/portal-sessions", {"brand": brand}, format="json")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid", brand
    assert api.post("/api/v1/portal-sessions", {"expires_in": 0}, format="json").status_code == 400
    assert PortalLink.objects.count() == 1


def test_ended_sessions_and_old_links_are_purged(client, tenants):
    from portal.services import portal_sessions_purge
    from portal.tasks import purge_sessions

    _portal(client, tenants["alpha"]["account"])
    unused, _ = portal_link_create(account=tenants["alpha"]["account"])
    assert portal_sessions_purge() == 0
    PortalSession.objects.update(expires_at=timezone.now())
    PortalLink.objects.filter(pk=unused.pk).update(expires_at=timezone.now() - timedelta(days=2))
    purge_sessions()
    assert not PortalSession.objects.exists()
    assert list(PortalLink.objects.values_list("used_at", flat=True)) != []  # the used one
    assert not PortalLink.objects.filter(pk=unused.pk).exists()
    assert client.get("/portal/").status_code == 401


def test_a_filter_that_does_not_apply_shows_nothing(client, tenants):
    _portal(client, tenants["alpha"]["account"])
    for query in ("status=x", f"endpoint={tenants['beta']['endpoint'].pk}", "before=%C2%B2"):
        response = client.get(f"/portal/deliveries?{query}")
        if query.startswith("before"):
            assert response.status_code == 200  # ignored: not one of our positions
            continue
        assert response.status_code == 400, query
        assert '<table class="list">' not in response.content.decode(), query  # no rows


def test_custom_headers_in_the_portal_are_checked_like_the_apis(client, tenants):
    _portal(client, tenants["alpha"]["account"])
    token = _form_token(client)
    for headers in ('{"X-A": "\\ud800"}', "[" * 50_000 + "]" * 50_000, '{"Connection": "x"}'):
        response = client.post(
            "/portal/endpoints",
            {"url": "https://h.example.com/", "headers": headers, "form_token": token},
        )
        assert response.status_code == 400, headers[:20]
    assert not Endpoint.objects.filter(url="https://h.example.com/").exists()
