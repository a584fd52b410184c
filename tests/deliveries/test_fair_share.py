"""One tenant's hanging endpoints cannot starve the others: its attempts in flight are
held to its share once they hang (a real worker, a real receiver)."""

import time

import pytest

from accounts.services import account_create
from deliveries.models import Delivery
from deliveries.services import event_emit
from tests.conftest import wait_until
from tests.factories import make_endpoint
from tests.receiver import Reply

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_tenant_with_40_hanging_endpoints_leaves_room_for_the_others(
    event_types, receiver, start_worker
):
    hangs, _ = account_create(name="hangs")
    healthy, _ = account_create(name="healthy")
    receiver.chooser = lambda path: Reply(200, delay=30) if path.startswith("/hang") else None
    for n in range(40):
        make_endpoint(hangs, f"{receiver.url}/hang/{n}")
    make_endpoint(healthy, receiver.url + "/ok")
    # 8 slots, a share of 4 per account; the request deadline is 2 s (tests/worker.py).
    start_worker(concurrency=8, extra_env={"FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT": "4"})

    event_emit(account=hangs, event_type="invoice.created", data={})  # 40 hanging deliveries
    time.sleep(3)  # its first attempts took every slot until the deadline; now it is held
    sent = {}
    for _ in range(8):
        event_emit(account=hangs, event_type="invoice.created", data={})  # 40 more each time
        sent[event_emit(account=healthy, event_type="invoice.created", data={}).event.id] = (
            time.time()
        )
        time.sleep(0.5)

    wait_until(
        lambda: Delivery.objects.filter(account=healthy, status="succeeded").count() == 8,
        timeout=30,
        message="the healthy tenant's deliveries",
    )
    arrived = {r.headers["webhook-id"]: r.at for r in receiver.received("/ok")}
    late = sorted(round(arrived[event] - at, 2) for event, at in sent.items())
    print(f"\nFAIR SHARE: the healthy tenant's deliveries arrived after {late} s")
    assert late[-1] < 1.0, late
    in_flight = Delivery.objects.filter(account=hangs, status="sending").count()
    assert in_flight <= 4 + 2, in_flight  # its share, and a racing claim or two (a soft cap)
