"""The dashboard, through the admin client: each button changes exactly what it should."""

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey
from deliveries.models import Delivery, Event
from deliveries.services import event_emit
from endpoints.models import Endpoint, EndpointSecret
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(account):
    return make_endpoint(account, "https://hooks.example.com/in")[0]


@pytest.fixture
def failed(account, endpoint):
    event_emit(account=account, event_type="invoice.created", data={"id": "inv_1"})
    Delivery.objects.update(status="failed", attempt_count=8, last_status_code=500)
    return Delivery.objects.get()


PAGES = [
    "admin:index",
    "admin:deliveries_delivery_changelist",
    "admin:deliveries_event_changelist",
    "admin:endpoints_endpoint_changelist",
    "admin:endpoints_eventtype_changelist",
    "admin:accounts_account_changelist",
    "admin:accounts_apikey_changelist",
    "admin:deliveries_delivery_overview",
]


@pytest.mark.parametrize("name", PAGES)
def test_pages_load_for_staff(admin_client, failed, name):
    assert admin_client.get(reverse(name)).status_code == 200


def test_detail_pages_load_for_staff(admin_client, failed):
    for url in (
        reverse("admin:deliveries_delivery_change", args=[failed.pk]),
        reverse("admin:deliveries_event_change", args=[failed.event_id]),
        reverse("admin:endpoints_endpoint_change", args=[failed.endpoint_id]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    page = admin_client.get(reverse("admin:deliveries_delivery_change", args=[failed.pk]))
    assert (
        b"Retry now" in page.content
        and b"&quot;webhook_type&quot;: &quot;invoice.created&quot;" in page.content
    )


@pytest.mark.parametrize("name", PAGES)
def test_non_staff_are_refused(client, django_user_model, name):
    user = django_user_model.objects.create_user("mallory", password="pw")
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_row_retry_button_queues_one_delivery(admin_client, failed):
    url = reverse("admin:deliveries_delivery_retry", args=[failed.pk])
    response = admin_client.post(url, follow=True)
    failed.refresh_from_db()
    assert failed.status == "pending" and failed.next_trigger == "manual"
    assert b"Queued 1 delivery for retry" in response.content


def test_a_get_on_an_action_url_changes_nothing(admin_client, failed, endpoint):
    urls = [
        reverse("admin:deliveries_delivery_retry", args=[failed.pk]),
        reverse("admin:deliveries_event_retry-failed", args=[failed.event_id]),
    ] + [
        reverse(f"admin:endpoints_endpoint_{name}", args=[endpoint.pk])
        for name in ("rotate-secret", "send-test", "enable", "disable", "recover")
    ]
    for url in urls:
        assert admin_client.get(url).status_code == 405, url
    failed.refresh_from_db()
    endpoint.refresh_from_db()
    assert failed.status == "failed" and endpoint.enabled
    assert EndpointSecret.objects.count() == 1 and Event.objects.count() == 1


def test_the_bulk_action_reports_queued_and_skipped(admin_client, account, endpoint, failed):
    event_emit(account=account, event_type="invoice.created", data={"id": "inv_2"})
    in_flight = Delivery.objects.exclude(pk=failed.pk).get()
    Delivery.objects.filter(pk=in_flight.pk).update(status="sending")
    response = admin_client.post(
        reverse("admin:deliveries_delivery_changelist"),
        {"action": "retry_selected", "_selected_action": [failed.pk, in_flight.pk]},
        follow=True,
    )
    assert b"Queued 1 delivery for retry. Skipped 1: 1 because an attempt is in flight" in (
        response.content
    )
    assert Delivery.objects.get(pk=in_flight.pk).status == "sending"
    assert Delivery.objects.get(pk=failed.pk).status == "pending"


def test_rotate_secret_keeps_the_old_one_for_the_grace(admin_client, endpoint):
    old = EndpointSecret.objects.get()
    url = reverse("admin:endpoints_endpoint_rotate-secret", args=[endpoint.pk])
    response = admin_client.post(url, {"grace_hours": "2"}, follow=True)
    assert b"keeps signing until" in response.content
    old.refresh_from_db()
    assert timedelta(hours=1.9) < old.expires_at - timezone.now() < timedelta(hours=2.1)
    assert EndpointSecret.objects.filter(expires_at__isnull=True).count() == 1


def test_send_test_event_creates_one_real_delivery_to_this_endpoint(admin_client, account):
    target, _ = make_endpoint(account, "https://a.example.com/", ["wallet.created"])
    make_endpoint(account, "https://b.example.com/")  # subscribed to all: must not get it
    url = reverse("admin:endpoints_endpoint_send-test", args=[target.pk])
    response = admin_client.post(url, {"event_type": "invoice.created"}, follow=True)
    assert b"Test event sent" in response.content
    (delivery,) = Delivery.objects.all()
    assert delivery.endpoint == target
    assert delivery.event.data_object["number"] == "HOO-2026-0042"


def test_enable_and_disable(admin_client, endpoint):
    admin_client.post(
        reverse("admin:endpoints_endpoint_disable", args=[endpoint.pk]), {"reason": "maintenance"}
    )
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "maintenance"
    admin_client.post(reverse("admin:endpoints_endpoint_enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_at is None


def test_recover_since_queues_only_failed_deliveries_after_the_date(
    admin_client, account, endpoint, failed
):
    event_emit(account=account, event_type="invoice.created", data={"id": "old"})
    old = Delivery.objects.exclude(pk=failed.pk).get()
    Delivery.objects.filter(pk=old.pk).update(
        status="failed", created_at=timezone.now() - timedelta(days=3)
    )
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    response = admin_client.post(
        reverse("admin:endpoints_endpoint_recover", args=[endpoint.pk]),
        {"since": since},
        follow=True,
    )
    assert b"Queued 1 delivery" in response.content
    assert Delivery.objects.get(pk=failed.pk).status == "pending"
    assert Delivery.objects.get(pk=old.pk).status == "failed"


def test_retry_all_failed_of_an_event(admin_client, account, failed):
    url = reverse("admin:deliveries_event_retry-failed", args=[failed.event_id])
    admin_client.post(url)
    assert Delivery.objects.get().status == "pending"


def test_creating_an_endpoint_in_the_admin_generates_an_encrypted_secret(admin_client, account):
    response = admin_client.post(
        reverse("admin:endpoints_endpoint_add"),
        {
            "account": account.pk,
            "url": "https://new.example.com/h",
            "description": "",
            "headers": "{}",
        },
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.get(url="https://new.example.com/h")
    assert endpoint.secrets.get().secret.startswith("whsec_")


def test_the_secret_is_revealed_only_on_its_own_page_and_the_reveal_is_logged(
    admin_client, endpoint, caplog
):
    secret = endpoint.secrets.get().secret
    detail = admin_client.get(reverse("admin:endpoints_endpoint_change", args=[endpoint.pk]))
    assert secret.encode() not in detail.content
    page = admin_client.get(reverse("admin:endpoints_endpoint_secret", args=[endpoint.pk]))
    assert secret.encode() in page.content
    (line,) = [r.getMessage() for r in caplog.records if r.name == "flexhooks.audit"]
    assert f"secret revealed endpoint={endpoint.pk}" in line and "(admin)" in line
    assert secret not in caplog.text


def test_creating_an_api_key_in_the_admin_shows_it_once(admin_client, account):
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"), {"account": account.pk, "name": "ci"}
    )
    assert response.status_code == 200
    raw = response.context["raw_key"]
    assert raw.encode() in response.content
    key = ApiKey.objects.get(name="ci")
    assert key.key_hash != raw and raw not in key.prefix
    listing = admin_client.get(reverse("admin:accounts_apikey_changelist"))
    assert raw.encode() not in listing.content


def test_the_changelist_query_count_does_not_grow_with_rows(
    admin_client, account, endpoint, django_assert_max_num_queries
):
    url = reverse("admin:deliveries_delivery_changelist")
    event_emit(account=account, event_type="invoice.created", data={})
    with django_assert_max_num_queries(20) as few:
        admin_client.get(url)
    for n in range(40):
        event_emit(account=account, event_type="invoice.created", data={"n": n})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)
    assert len(response.context["cl"].result_list) == 41


def test_the_endpoint_changelist_query_count_does_not_grow(
    admin_client, account, django_assert_max_num_queries
):
    url = reverse("admin:endpoints_endpoint_changelist")
    make_endpoint(account, "https://0.example.com/", ["invoice.created"])
    with django_assert_max_num_queries(20) as few:
        admin_client.get(url)
    for n in range(1, 30):
        make_endpoint(account, f"https://{n}.example.com/", ["invoice.created"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(url)


def test_delivery_filters_and_search(admin_client, failed):
    url = reverse("admin:deliveries_delivery_changelist")
    for query in (
        "status__exact=failed",
        "outcome=5xx",
        "created=24h",
        f"q={failed.event_id}",
        "q=hooks.example.com",
    ):
        response = admin_client.get(f"{url}?{query}")
        assert [d.pk for d in response.context["cl"].result_list] == [failed.pk], query
    response = admin_client.get(f"{url}?outcome=timeout")
    assert list(response.context["cl"].result_list) == []


def test_enabling_offers_to_recover_what_failed_meanwhile(admin_client, endpoint, failed):
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_at=timezone.now() - timedelta(hours=2), disabled_reason="x"
    )
    response = admin_client.post(
        reverse("admin:endpoints_endpoint_enable", args=[endpoint.pk]), follow=True
    )
    assert b"1 deliveries failed or were not sent while it was disabled" in response.content
    assert b'id="recover"' in response.content
    assert response.context["recover_since"] < timezone.now().strftime("%Y-%m-%d %H:%M:%S")


def test_the_overview_shows_notices_and_retention(admin_client, account, endpoint):
    from deliveries.notifications import notify

    notify(kind="endpoint_disabled", endpoint=endpoint, message="disabled: 410 Gone")
    page = admin_client.get(reverse("admin:deliveries_delivery_overview")).content
    assert b"disabled: 410 Gone" in page and b"kept 30 days" in page


def test_repeated_failed_sign_ins_lock_the_address_and_the_user_name_out(client, django_user_model):
    password = "correct-horse-battery-staple-9"
    django_user_model.objects.create_superuser("ops", "ops@example.com", password)
    django_user_model.objects.create_superuser("other", "other@example.com", password)
    url = reverse("admin:login")
    for _ in range(4):
        response = client.post(url, {"username": "ops", "password": "wrong"})
        assert response.status_code == 200 and b"correct username and password" in response.content
    fifth = client.post(url, {"username": "ops", "password": "wrong"})
    assert fifth.status_code == 429  # locked from the fifth failure on
    locked = client.post(url, {"username": "ops", "password": password})
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert "_auth_user_id" not in client.session
    # The address is locked for every name, and the name from every address.
    assert client.post(url, {"username": "other", "password": password}).status_code == 429
    elsewhere = client.post(url, {"username": "ops", "password": password}, REMOTE_ADDR="10.9.8.7")
    assert elsewhere.status_code == 429
    fresh = client.post(url, {"username": "other", "password": password}, REMOTE_ADDR="10.9.8.7")
    assert fresh.status_code == 302  # another name from another address signs in


@pytest.mark.parametrize("password", ["12345678901", "password123", "ops-admin"])
def test_weak_staff_passwords_are_refused(password, django_user_model):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    user = django_user_model(username="ops-admin", email="ops@example.com")
    with pytest.raises(ValidationError):
        validate_password(password, user)


@pytest.mark.parametrize("depth", [900, 5000])
def test_an_event_too_deep_to_indent_still_renders(admin_client, account, endpoint, depth):
    deep = '{"a": ' * depth + "1" + "}" * depth  # stored before the nesting limit existed
    event = event_emit(account=account, event_type="invoice.created", data={}).event
    Event.objects.filter(pk=event.pk).update(body=f'{{"data": {{"object": {deep}}}}}')
    for url in (
        reverse("admin:deliveries_event_change", args=[event.pk]),
        reverse("admin:deliveries_delivery_change", args=[Delivery.objects.get().pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert html.escape('"a": ').encode() in response.content
