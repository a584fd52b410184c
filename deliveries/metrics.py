"""Prometheus metrics read from PostgreSQL at scrape time.

The database holds the truth for every worker on every host, so the web process can
report it all without metrics plumbing between processes. Each query is bounded by an
index (the last 24 hours, the last 5 minutes, the due backlog). No label carries an
endpoint URL or id: cardinality stays fixed however many endpoints there are.
"""

from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from deliveries import selectors
from deliveries.models import Attempt, Delivery
from endpoints.models import Endpoint

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30)
ATTEMPT_WINDOW = timedelta(minutes=5)


class DeliveryCollector(Collector):
    def collect(self):
        now = timezone.now()
        overview = selectors.delivery_overview(hours=24)

        deliveries = GaugeMetricFamily(
            "flexhooks_deliveries_24h",
            "Deliveries created in the last 24 h, by status",
            labels=["status"],
        )
        for status, count in overview.by_status.items():
            deliveries.add_metric([status], count)
        yield deliveries

        recent = Attempt.objects.filter(started_at__gte=now - ATTEMPT_WINDOW)
        outcomes = GaugeMetricFamily(
            "flexhooks_attempts_5m",
            "Attempts started in the last 5 minutes, by outcome",
            labels=["outcome"],
        )
        filters = selectors.outcome_filters(status="response_status", error="error_class")
        counts = recent.aggregate(
            **{name: Count("id", filter=condition) for name, condition in filters.items()}
        )
        for name, count in counts.items():
            outcomes.add_metric([name], count)
        yield outcomes

        durations = recent.aggregate(
            total=Sum("duration_ms"),
            **{
                f"le_{i}": Count("id", filter=Q(duration_ms__lte=bound * 1000))
                for i, bound in enumerate(DURATION_BUCKETS)
            },
            all=Count("id"),
        )
        yield GaugeHistogramMetricFamily(
            "flexhooks_attempt_duration_seconds",
            "Duration of the attempts started in the last 5 minutes",
            buckets=[(str(b), durations[f"le_{i}"]) for i, b in enumerate(DURATION_BUCKETS)]
            + [("+Inf", durations["all"])],
            gsum_value=(durations["total"] or 0) / 1000,
        )

        yield GaugeMetricFamily(
            "flexhooks_backlog_due", "Pending deliveries whose attempt is due", value=overview.due
        )
        yield GaugeMetricFamily(
            "flexhooks_backlog_oldest_due_seconds",
            "How long the oldest due delivery has been waiting",
            value=overview.oldest_due_seconds or 0,
        )
        yield GaugeMetricFamily(
            "flexhooks_endpoints_disabled",
            "Disabled endpoints",
            value=Endpoint.objects.filter(enabled=False).count(),
        )
        yield GaugeMetricFamily(
            "flexhooks_deliveries_in_flight",
            "Deliveries with an attempt under way",
            value=Delivery.objects.filter(status=Delivery.Status.SENDING).count(),
        )
