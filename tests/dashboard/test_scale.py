"""The dashboard at a thousand endpoints: filters are search inputs, not a link per
object, and a page runs a bounded number of queries."""

import re

import pytest
from django.urls import reverse

from deliveries.models import Delivery
from deliveries.services import event_emit
from endpoints.models import Endpoint
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def thousand(account):
    """1,000 endpoints of one account (997 subscribed to everything), 20 events: 20,000
    deliveries."""
    for n in range(3):
        make_endpoint(account, f"https://busy-{n}.example.com/in", ["invoice.voided"])
    # Past the per-account cap of the services: written directly, as an old install may.
    Endpoint.objects.bulk_create(
        Endpoint(account=account, url=f"https://tenant-{n}.example.com/hooks/{n}")
        for n in range(997)
    )
    for n in range(20):
        event_emit(account=account, event_type="invoice.voided", data={"n": n})
    return account


def _urls(html: str) -> set[str]:
    return set(re.findall(r"https://[a-z0-9.-]+\.example\.com/[a-z0-9/]*", html))


def test_the_deliveries_page_lists_only_the_endpoints_of_its_rows(
    admin_client, thousand, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:deliveries_delivery_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    shown = _urls(html)
    page = Delivery.objects.select_related("endpoint").order_by("-id")[:50]
    rows = {delivery.endpoint.url for delivery in page}
    assert shown == rows, sorted(shown ^ rows)[:5]  # each row's endpoint, and no other
    # The endpoint and account filters are search inputs backed by the admin's
    # autocomplete view, not lists of links.
    assert 'data-field-name="endpoint"' in html and 'data-field-name="account"' in html
    assert "?endpoint__id__exact=" not in html


def test_the_endpoint_filter_searches_and_filters(admin_client, thousand):
    busy = Endpoint.objects.get(url="https://busy-1.example.com/in")
    found = admin_client.get(
        "/admin/autocomplete/",
        {
            "app_label": "deliveries",
            "model_name": "delivery",
            "field_name": "endpoint",
            "term": "busy-1",
        },
    ).json()
    assert [row["id"] for row in found["results"]] == [str(busy.pk)]
    page = admin_client.get(
        reverse("admin:deliveries_delivery_changelist"), {"endpoint__id__exact": busy.pk}
    ).content.decode()
    assert _urls(page) == {busy.url}
    assert f'<option value="{busy.pk}" selected>' in page  # the filter shows its choice


def test_the_endpoint_list_with_a_thousand_endpoints_runs_bounded_queries(
    admin_client, thousand, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:endpoints_endpoint_changelist"))
    assert response.status_code == 200
    assert 'data-field-name="account"' in response.content.decode()
