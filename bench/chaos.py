"""End-to-end under a flaky receiver: every delivery must succeed, none lost.

    python -m bench.chaos [--events 1000] [--failure-rate 0.3]

Emits events to two endpoints of a receiver that answers 500 to a random share of
requests, with real workers, PostgreSQL and Redis, and reports delivered, lost and
duplicate receipts (the same webhook-id twice at one endpoint).
"""

import argparse
import os
import random
import time
from collections import Counter

from bench.__main__ import BENCH_ENV, _recreate_database


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    args = parser.parse_args()
    os.environ.update(BENCH_ENV)
    # Short waits so the run takes a minute; 11 attempts make a delivery failing them all
    # (0.3^11, about 2 in a million) practically impossible.
    os.environ["FLEXHOOKS_RETRY_SCHEDULE"] = "1,1,1,2,2,2,3,3,3,3"
    _recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench import phases
    from deliveries.models import Delivery
    from deliveries.services import event_emit
    from tests.receiver import Receiver, Reply

    rng = random.Random(7)
    receiver = Receiver(
        chooser=lambda path: Reply(500) if rng.random() < args.failure_rate else None
    )
    receiver.start()
    workers = phases.Workers(pool="threads", concurrency=16, processes=1)
    workers.start()
    try:
        _, endpoints = phases._account("chaos", [receiver.url + "/a", receiver.url + "/b"])
        started = time.time()
        for n in range(args.events):
            event_emit(account=endpoints[0].account, event_type="invoice.created", data={"n": n})
        total = args.events * 2
        deadline = time.time() + 600
        while Delivery.objects.filter(status="succeeded").count() < total:
            if time.time() > deadline:
                break
            time.sleep(0.5)
        elapsed = time.time() - started
    finally:
        workers.stop()
        receiver.stop()
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    paths = {endpoint.pk: "/" + endpoint.url.rsplit("/", 1)[1] for endpoint in endpoints}
    expected = {
        (paths[endpoint_id], event_id)
        for endpoint_id, event_id in Delivery.objects.values_list("endpoint_id", "event_id")
    }
    answered_2xx = _successful_receipts(receiver)
    duplicates = sum(n - 1 for n in answered_2xx.values())
    print(f"deliveries {total}: {dict(statuses)} in {elapsed:.1f} s")
    print(f"requests received {len(receiver.received())} (failure rate {args.failure_rate:.0%})")
    print(f"lost {len(expected - set(answered_2xx))} (never answered 2xx at their endpoint)")
    print(f"duplicate receipts (same webhook-id answered 2xx twice at one endpoint): {duplicates}")


def _successful_receipts(receiver) -> Counter:
    """Receipts per (endpoint path, webhook-id) that the receiver answered with 200."""
    return Counter(
        (r.path, r.headers["webhook-id"]) for r in receiver.received() if r.answered == 200
    )


if __name__ == "__main__":
    main()
