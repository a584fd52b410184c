"""The dashboard in a real browser (Debian's Chromium driven by Playwright)."""

import os
import shutil
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from deliveries.models import Delivery
from deliveries.services import event_emit
from tests.factories import make_endpoint

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)"),
]


@pytest.fixture
def browser_page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()
    # The live server's request threads can leave idle connections behind, which would
    # stop the test database from being dropped at the end of the run.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def test_an_operator_finds_a_failed_delivery_and_retries_it(
    live_server, browser_page, django_user_model, account
):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "s3cret-pass")
    make_endpoint(account, "https://hooks.example.com/billing", ["invoice.created"])
    for n in range(3):
        event_emit(account=account, event_type="invoice.created", data={"id": f"inv_{n}"})
    Delivery.objects.update(status="succeeded", attempt_count=1, last_status_code=200)
    failed = Delivery.objects.order_by("id").first()
    Delivery.objects.filter(pk=failed.pk).update(
        status="failed", attempt_count=8, last_status_code=503, last_error="HTTP 503"
    )
    page = browser_page

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.click("text=Deliveries")
    page.click("#changelist-filter >> text=failed")
    page.wait_for_url("**status__exact=failed**")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("th a").click()

    page.click("#retry-now")
    page.wait_for_selector(".messagelist")
    assert "Queued 1 delivery for retry." in page.locator(".messagelist").inner_text()
    assert page.locator(".fh-badge").first.inner_text().lower() == "pending"
    failed.refresh_from_db()
    assert failed.status == "pending" and failed.next_trigger == "manual"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "delivery-detail.png", full_page=True)
    page.goto(f"{live_server.url}/admin/deliveries/delivery/overview/")
    assert page.locator("svg rect").count() >= 1
    page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)
    assert os.path.getsize(SCREENSHOTS / "overview.png") > 10_000
