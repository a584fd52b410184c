"""API calls whose effects a real worker carries out over real HTTP."""

import pytest
import standardwebhooks
from rest_framework.test import APIClient

from accounts.services import account_create
from deliveries.models import Delivery
from tests.conftest import wait_until
from tests.receiver import Reply

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_rotation_retry_and_recover_through_the_api_reach_the_receiver(
    event_types, receiver, start_worker
):
    _, raw_key = account_create(name="alpha")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    created = api.post("/api/v1/endpoints", {"url": receiver.url + "/api"}, format="json").json()
    old_secret, endpoint_id = created["secret"], created["id"]
    receiver.default = Reply(500)
    start_worker()

    event_id = api.post(
        "/api/v1/events", {"event_type": "invoice.created", "object": {"id": "i"}}, format="json"
    ).json()["id"]
    wait_until(lambda: Delivery.objects.filter(status="failed").exists(), message="failed")

    new_secret = api.post(
        f"/api/v1/endpoints/{endpoint_id}/rotate-secret", {"grace_seconds": 3600}, format="json"
    ).json()["secret"]
    receiver.default = Reply(200)
    delivery_id = Delivery.objects.get().pk
    assert api.post(f"/api/v1/deliveries/{delivery_id}/retry").status_code == 202
    wait_until(lambda: Delivery.objects.filter(status="succeeded").exists(), message="resent")

    last = receiver.received()[-1]
    assert last.headers["webhook-id"] == event_id
    for secret in (old_secret, new_secret):  # both sign during the grace period
        standardwebhooks.Webhook(secret).verify(last.body, last.headers)
    detail = api.get(f"/api/v1/deliveries/{delivery_id}").json()
    assert detail["attempts"][-1]["trigger"] == "manual"
    assert detail["attempts"][-1]["response_status"] == 200

    Delivery.objects.update(status="failed")
    recovered = api.post(
        f"/api/v1/endpoints/{endpoint_id}/recover",
        {"since": "2020-01-01T00:00:00Z"},
        format="json",
    )
    assert recovered.json()["queued"] == 1
    sent = len(receiver.received())
    wait_until(lambda: len(receiver.received()) == sent + 1, message="recovered and resent")
