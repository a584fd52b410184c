"""The customer portal in a real browser (Debian's Chromium driven by Playwright), on a
laptop (1366×768) and a phone (390×844): a link minted through the API, a failed delivery
retried and received by the endpoint (real worker, local receiver), an endpoint added
through the form. Leaves screenshots of every portal page in var/screenshots/."""

import time

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from accounts.services import account_create
from deliveries.models import Delivery
from deliveries.services import event_emit
from tests.conftest import CHROMIUM, SCREENSHOTS
from tests.factories import make_endpoint

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)"),
]
SIZES = [(1366, 768), (390, 844)]


def _shot(page, name: str, size) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"portal-{name}-{size[0]}x{size[1]}.png", full_page=True)


def _fits(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_a_customer_opens_the_portal_retries_and_adds_an_endpoint(
    size, live_server, browser, event_types, receiver, start_worker
):
    account, raw_key = account_create(name="Hooli")
    endpoint, _ = make_endpoint(account, receiver.url + "/billing/webhooks")
    for n in range(4):
        event_emit(account=account, event_type="invoice.created", data={"id": f"inv_{n}"})
    Delivery.objects.update(status="succeeded", attempt_count=1, last_status_code=200)
    failed = Delivery.objects.order_by("-id").first()
    Delivery.objects.filter(pk=failed.pk).update(
        status="failed", attempt_count=8, last_status_code=503, last_error="HTTP 503"
    )
    start_worker(concurrency=2)

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    minted = api.post(
        "/api/v1/portal-sessions",
        {"brand": {"name": "Hooli Billing", "accent_color": "#6b46c1"}},
        format="json",
        HTTP_HOST=live_server.url.removeprefix("http://"),
    )
    assert minted.status_code == 201, minted.json()
    link = minted.json()["url"]
    assert link.startswith(live_server.url + "/portal/enter/")

    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Endpoints")
    expect(page.locator("table.list")).to_contain_text("/billing/webhooks")
    _shot(page, "endpoints", size)
    _fits(page)

    # A second browser opening the same link gets no data.
    other = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    other.goto(link)
    expect(other.locator("h1")).to_have_text("This link has expired")
    assert "billing/webhooks" not in other.content()
    _shot(other, "expired", size)
    other.context.close()

    page.click("nav >> text=Deliveries")
    page.select_option("select[name=status]", "failed")
    page.click("form.filters button")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    _fits(page)
    _shot(page, "deliveries", size)
    rows.first.locator("button.retry").click()
    expect(page.locator(".messages")).to_contain_text("Queued 1 delivery")
    deadline = time.monotonic() + 20
    while not receiver.received("/billing/webhooks"):
        assert time.monotonic() < deadline, "the endpoint did not receive the retried delivery"
        time.sleep(0.2)
    assert receiver.received("/billing/webhooks")[-1].headers["webhook-id"] == failed.event_id

    page.goto(f"{live_server.url}/portal/deliveries/{failed.pk}")
    expect(page.locator(".timeline li")).to_have_count(1)
    _fits(page)
    _shot(page, "delivery", size)

    page.goto(f"{live_server.url}/portal/endpoints/{endpoint.pk}")
    expect(page.locator("svg.fh-chart")).to_have_count(2)
    page.click("text=Reveal secret")
    expect(page.locator("code.secret")).to_contain_text("whsec_")
    _fits(page)
    _shot(page, "endpoint", size)

    page.click("nav >> text=Endpoints")
    page.click("text=Add endpoint")
    page.get_by_label("URL", exact=True).fill("https://ledger.example.com/in")
    page.get_by_label("Description").fill("Ledger")
    _shot(page, "add-endpoint", size)
    page.click("form.form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Endpoint added")
    assert account.endpoints.filter(url="https://ledger.example.com/in").exists()

    for name, path in [
        ("catalogue", "/portal/event-types"),
        ("verify", f"/portal/endpoints/{endpoint.pk}/verify"),
    ]:
        page.goto(live_server.url + path)
        _fits(page)
        _shot(page, name, size)
    page.close()
