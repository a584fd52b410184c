"""The dashboard in a real browser (Debian's Chromium driven by Playwright), at a laptop's
1366×768 and at 1920×1080, with a real worker delivering the retried delivery. Leaves a
screenshot of every main page at both sizes in var/screenshots/."""

import time

import pytest
from playwright.sync_api import expect

from deliveries.models import Attempt, Delivery
from deliveries.services import event_emit
from tests.conftest import CHROMIUM, SCREENSHOTS
from tests.factories import make_endpoint

SIZES = [(1366, 768), (1920, 1080)]

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)"),
]


def _no_sideways_scroll(page) -> None:
    """Neither the page nor the results table (inside its own scrolling box) is wider
    than what shows."""
    overflow = page.evaluate(
        """() => {
          const box = document.querySelector('#changelist .results') || document.body;
          return [document.documentElement.scrollWidth, window.innerWidth,
                  box.scrollWidth, box.clientWidth];
        }"""
    )
    page_width, viewport, table_width, table_box = overflow
    assert page_width <= viewport and table_width <= table_box, overflow


def _inside_viewport(page, locator) -> None:
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (box, size)
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)


def _shot(page, name: str, size) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-{size[0]}x{size[1]}.png", full_page=True)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_an_operator_finds_a_failed_delivery_retries_it_and_reads_the_endpoint(
    size, live_server, browser, django_user_model, account, receiver, start_worker
):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "s3cret-pass-77")
    long_path = "/billing/webhooks/flexhooks/tenant/acme-corporation-international/v2"
    endpoint, _ = make_endpoint(account, receiver.url + long_path)
    make_endpoint(account, receiver.url + "/ledger/in")
    for n in range(12):
        event_emit(account=account, event_type="invoice.created", data={"id": f"inv_{n}"})
    # A history to look at: most succeeded, a few given up after a 503.
    Delivery.objects.update(status="succeeded", attempt_count=1, last_status_code=200)
    failed_ids = list(
        Delivery.objects.filter(endpoint=endpoint).order_by("-id").values_list("pk", flat=True)[:3]
    )
    Delivery.objects.filter(pk__in=failed_ids).update(
        status="failed",
        attempt_count=8,
        last_status_code=503,
        last_error_class="http",
        last_error="HTTP 503 Service Unavailable",
    )
    start_worker(concurrency=2)
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "s3cret-pass-77")
    page.click("input[type=submit]")
    _shot(page, "home", size)

    page.goto(f"{live_server.url}/admin/deliveries/delivery/")
    _shot(page, "deliveries", size)
    _no_sideways_scroll(page)
    page.click("#changelist-filter >> text=failed")
    page.wait_for_url("**status__exact=failed**")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    _no_sideways_scroll(page)
    first = rows.first
    _inside_viewport(page, first.locator(".fh-badge"))
    _inside_viewport(page, first.locator(".fh-row-retry"))
    assert "HTTP 503" in first.inner_text()
    _shot(page, "deliveries-failed", size)

    retried = failed_ids[0]
    first.locator(".fh-row-retry").click()
    page.wait_for_selector(".messagelist")
    assert "Queued 1 delivery for retry." in page.locator(".messagelist").inner_text()

    # The worker sends it to the receiver; the delivery page shows the new attempt.
    deadline = time.monotonic() + 20
    while not Attempt.objects.filter(delivery_id=retried).exists():
        assert time.monotonic() < deadline, "the worker did not attempt the retried delivery"
        time.sleep(0.2)
    page.goto(f"{live_server.url}/admin/deliveries/delivery/{retried}/change/")
    expect(page.locator("h1")).to_have_text("Delivery")
    expect(page.locator(".fh-timeline tbody tr")).to_have_count(1)
    expect(page.locator(".fh-record .fh-badge")).to_have_text("succeeded")
    _inside_viewport(page, page.locator("#retry-now"))
    _shot(page, "delivery", size)

    page.goto(f"{live_server.url}/admin/endpoints/endpoint/")
    _shot(page, "endpoints", size)
    _no_sideways_scroll(page)
    page.goto(f"{live_server.url}/admin/endpoints/endpoint/{endpoint.pk}/change/")
    charts = page.locator("#health svg.fh-chart")
    expect(charts).to_have_count(2)
    assert charts.first.locator("rect").count() >= 1
    _shot(page, "endpoint", size)

    for name, path in [
        ("events", "/admin/deliveries/event/"),
        ("event-types", "/admin/endpoints/eventtype/"),
        ("overview", "/admin/deliveries/delivery/overview/"),
        ("accounts", "/admin/accounts/account/"),
    ]:
        page.goto(live_server.url + path)
        _no_sideways_scroll(page)
        _shot(page, name, size)

    # The API docs render from our own files: no request leaves the host.
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector("button.authorize")
    page.wait_for_selector(".opblock-tag")
    _shot(page, "api-docs", size)
    assert requested and all(url.startswith(live_server.url) for url in requested), [
        url for url in requested if not url.startswith(live_server.url)
    ]
    page.close()
