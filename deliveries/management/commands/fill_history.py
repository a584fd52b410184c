from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts.models import Account
from endpoints.models import Endpoint, EventType

STATUSES = ["succeeded", "succeeded", "succeeded", "succeeded", "failed", "pending"]


class Command(BaseCommand):
    help = (
        "PostgreSQL only, for measuring the dashboard: bulk-fill an account with N deliveries "
        "(two per event) and A attempts per delivery, in a few set-based INSERTs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--deliveries", type=int, default=1_000_000)
        parser.add_argument("--attempts-per-delivery", type=int, default=3)
        parser.add_argument("--endpoints", type=int, default=50)

    def handle(self, *args, deliveries, attempts_per_delivery, endpoints, **options):
        if connection.vendor != "postgresql":
            raise CommandError("fill_history needs PostgreSQL (it uses generate_series)")
        account, _ = Account.objects.get_or_create(name="history-fill")
        for n in range(endpoints - account.endpoints.count()):
            Endpoint.objects.create(account=account, url=f"https://fill-{n}.example.com/h")
        endpoint_ids = list(account.endpoints.values_list("id", flat=True)[:endpoints])
        type_ids = list(EventType.objects.values_list("id", flat=True))
        events = deliveries // 2
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO deliveries_event (id, account_id, event_type_id, body, created_at)
                SELECT 'evt_F' || lpad(g::text, 25, '0'), %(account)s,
                       (%(types)s::bigint[])[1 + g %% array_length(%(types)s::bigint[], 1)],
                       '{"id":"evt_F' || g || '","data":{"object":{"n":' || g || '}}}',
                       now() - (%(events)s - g) * interval '2 seconds'
                FROM generate_series(1, %(events)s) g
                """,
                {"account": account.pk, "types": type_ids, "events": events},
            )
            cursor.execute(
                """
                INSERT INTO deliveries_delivery (event_id, endpoint_id, account_id, status,
                    attempt_count, retry_step, next_trigger, next_attempt_at, last_status_code,
                    last_error_class, last_error, created_at, updated_at)
                SELECT e.id, (%(endpoints)s::bigint[])[1 + (k + g) %% %(n_endpoints)s],
                       e.account_id, s.status, %(attempts)s, 2, 'scheduled',
                       CASE WHEN s.status = 'pending' THEN now() + interval '1 hour' END,
                       CASE WHEN s.status = 'succeeded' THEN 200 ELSE 503 END,
                       CASE WHEN s.status = 'succeeded' THEN '' ELSE 'http' END,
                       CASE WHEN s.status = 'succeeded' THEN '' ELSE 'HTTP 503' END,
                       e.created_at, e.created_at
                FROM (SELECT id, account_id, created_at,
                             substring(id from 6)::bigint AS g FROM deliveries_event
                      WHERE account_id = %(account)s) e
                CROSS JOIN generate_series(0, 1) k
                CROSS JOIN LATERAL (SELECT (%(statuses)s::text[])[1 + (e.g + k) %% 6] AS status) s
                """,
                {
                    "account": account.pk,
                    "endpoints": endpoint_ids,
                    "n_endpoints": len(endpoint_ids),
                    "attempts": attempts_per_delivery,
                    "statuses": STATUSES,
                },
            )
            cursor.execute(
                """
                INSERT INTO deliveries_attempt (delivery_id, number, trigger, started_at,
                    duration_ms, request_headers, response_status, response_headers,
                    response_body, error_class, error_message)
                SELECT d.id, n, 'scheduled', d.created_at + n * interval '5 seconds', 40 + n,
                       '{}'::jsonb, CASE WHEN n = %(attempts)s THEN d.last_status_code ELSE 503 END,
                       '{}'::jsonb, '', '', ''
                FROM deliveries_delivery d CROSS JOIN generate_series(1, %(attempts)s) n
                WHERE d.account_id = %(account)s
                """,
                {"account": account.pk, "attempts": attempts_per_delivery},
            )
            cursor.execute("ANALYZE deliveries_event, deliveries_delivery, deliveries_attempt")
        self.stdout.write(
            f"filled {events * 2} deliveries and {events * 2 * attempts_per_delivery} attempts"
        )
