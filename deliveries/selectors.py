"""Reads for the dashboard and the API: statistics, backlog, per-endpoint health."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncHour
from django.utils import timezone

from deliveries.models import Attempt, Delivery
from outbound.errors import CONNECTION_FAILURES, TIMEOUTS, ErrorClass

Status = Delivery.Status
# Latency percentiles read the newest attempts only: a bounded read whatever the volume.
LATENCY_SAMPLE = 2000  # an endpoint's page
LIST_LATENCY_SAMPLE = 200  # each row of the endpoint list


def outcome_filters(status: str = "last_status_code", error: str = "last_error_class"):
    """Outcome classes as filters, over a delivery's last outcome or an attempt's own."""
    return {
        "2xx": Q(**{f"{status}__gte": 200, f"{status}__lt": 300}),
        "3xx": Q(**{f"{status}__gte": 300, f"{status}__lt": 400}),
        "4xx": Q(**{f"{status}__gte": 400, f"{status}__lt": 500}),
        "5xx": Q(**{f"{status}__gte": 500}),
        "timeout": Q(**{f"{error}__in": sorted(TIMEOUTS)}),
        "connection": Q(**{f"{error}__in": sorted(CONNECTION_FAILURES)}),
        "blocked": Q(**{error: ErrorClass.BLOCKED_ADDRESS}),
        "internal": Q(**{f"{error}__in": [ErrorClass.INTERNAL, ErrorClass.WORKER_LOST]}),
    }


OUTCOME_FILTERS = outcome_filters()


@dataclass(frozen=True)
class Overview:
    since: datetime
    by_status: dict[str, int]
    total: int
    success_rate: float | None
    due: int
    overdue: int
    oldest_due_seconds: float | None


def delivery_overview(*, hours: int = 24, overdue_after: int = 60) -> Overview:
    """Deliveries of the last `hours` by status, and the backlog (due, and overdue by more
    than `overdue_after` seconds)."""
    now = timezone.now()
    since = now - timedelta(hours=hours)
    rows = (
        Delivery.objects.filter(created_at__gte=since)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_status = {status: 0 for status in Status.values}
    by_status.update({row["status"]: row["n"] for row in rows})
    total = sum(by_status.values())
    finished = by_status[Status.SUCCEEDED] + by_status[Status.FAILED]
    due = Delivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
    oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return Overview(
        since=since,
        by_status=by_status,
        total=total,
        success_rate=by_status[Status.SUCCEEDED] / finished if finished else None,
        due=due.count(),
        overdue=due.filter(next_attempt_at__lt=now - timedelta(seconds=overdue_after)).count(),
        oldest_due_seconds=(now - oldest).total_seconds() if oldest else None,
    )


def endpoints_failing_most(*, hours: int = 24, limit: int = 10) -> list[dict]:
    since = timezone.now() - timedelta(hours=hours)
    return list(
        Delivery.objects.filter(created_at__gte=since)
        .values("endpoint_id", "endpoint__url", "account__name")
        .annotate(
            failed=Count("id", filter=Q(status=Status.FAILED)),
            retrying=Count("id", filter=Q(status=Status.PENDING, attempt_count__gt=0)),
            total=Count("id"),
        )
        .filter(Q(failed__gt=0) | Q(retrying__gt=0))
        .order_by("-failed", "-retrying")[:limit]
    )


def hourly_outcomes(*, hours: int = 24) -> list[dict]:
    """Deliveries created per hour over the last `hours`, by status, oldest hour first."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=hours - 1)
    rows = (
        Delivery.objects.filter(created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    buckets = {start + timedelta(hours=i): dict.fromkeys(Status.values, 0) for i in range(hours)}
    for row in rows:
        if row["hour"] in buckets:
            buckets[row["hour"]][row["status"]] = row["n"]
    return [{"hour": hour, **counts} for hour, counts in buckets.items()]


def endpoints_with_health(queryset: QuerySet, *, hours: int = 24) -> QuerySet:
    """Annotate endpoints with their last-24-hours counts and their last delivery.

    Correlated subqueries, so the database computes them only for the rows of the page.
    """
    since = timezone.now() - timedelta(hours=hours)
    recent = Delivery.objects.filter(endpoint=OuterRef("pk"), created_at__gte=since).order_by()
    last = Delivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at")

    def count(extra: Q | None = None) -> Subquery:
        return Subquery(
            (recent.filter(extra) if extra else recent)
            .values("endpoint")
            .annotate(n=Count("id"))
            .values("n")[:1]
        )

    if connection.vendor == "postgresql":
        # p95 of the newest LIST_LATENCY_SAMPLE attempts of each endpoint of the page in the
        # window (bounded: the ORM cannot aggregate over a LIMIT inside an annotation).
        attempt, delivery = Attempt._meta.db_table, Delivery._meta.db_table
        p95 = RawSQL(  # noqa: S611 - table names from _meta, values as parameters
            f"""SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY s.duration_ms) FROM (
                  SELECT a.duration_ms FROM {attempt} a JOIN {delivery} d ON d.id = a.delivery_id
                  WHERE d.endpoint_id = {queryset.model._meta.db_table}.id AND d.created_at >= %s
                  ORDER BY d.created_at DESC LIMIT %s) s""",  # noqa: S608
            [since, LIST_LATENCY_SAMPLE],
            output_field=FloatField(),
        )
    else:  # the try-out backend has no percentile_cont
        p95 = Value(None, output_field=FloatField())
    return queryset.annotate(
        recent_p95_ms=p95,
        recent_total=count(),
        recent_succeeded=count(Q(status=Status.SUCCEEDED)),
        recent_failed=count(Q(status=Status.FAILED)),
        last_status=Subquery(last.values("status")[:1]),
        last_at=Subquery(last.values("updated_at")[:1]),
    )


def success_rate(succeeded: int | None, failed: int | None) -> float | None:
    finished = (succeeded or 0) + (failed or 0)
    return (succeeded or 0) / finished if finished else None


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont over a column (`fraction` 0–1)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _latency(attempts: QuerySet) -> tuple[float | None, float | None]:
    """p50 and p95 of the durations of the newest LATENCY_SAMPLE attempts, in ms (a
    bounded read, whatever the endpoint's volume)."""
    attempts = attempts.order_by("-delivery__created_at")[:LATENCY_SAMPLE]
    if connection.vendor == "postgresql":
        row = attempts.aggregate(
            p50=Percentile("duration_ms", 0.5), p95=Percentile("duration_ms", 0.95)
        )
        return row["p50"], row["p95"]
    values = sorted(attempts.values_list("duration_ms", flat=True))  # the try-out backend
    if not values:
        return None, None
    return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.95))]


@dataclass(frozen=True)
class Window:
    hours: int
    buckets: list[dict]  # per hour, oldest first: {"hour", <status>: n, ...}
    total: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


def endpoint_health(endpoint, *, windows: tuple[int, ...] = (24, 24 * 7)) -> list[Window]:
    """An endpoint's deliveries per hour by status, success rate and attempt latency over
    each window. Every query starts from the endpoint's (endpoint, created_at) index; the
    attempts are reached through their delivery's."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    result = []
    for hours in windows:
        start = now - timedelta(hours=hours - 1)
        deliveries = Delivery.objects.filter(endpoint=endpoint, created_at__gte=start)
        rows = (
            deliveries.annotate(hour=TruncHour("created_at"))
            .values("hour", "status")
            .annotate(n=Count("id"))
            .order_by()
        )
        buckets = {
            start + timedelta(hours=i): dict.fromkeys(Status.values, 0) for i in range(hours)
        }
        for row in rows:
            if row["hour"] in buckets:
                buckets[row["hour"]][row["status"]] = row["n"]
        succeeded = sum(b[Status.SUCCEEDED] for b in buckets.values())
        failed = sum(b[Status.FAILED] for b in buckets.values())
        p50, p95 = _latency(
            Attempt.objects.filter(delivery__endpoint=endpoint, delivery__created_at__gte=start)
        )
        result.append(
            Window(
                hours=hours,
                buckets=[{"hour": hour, **counts} for hour, counts in buckets.items()],
                total=sum(sum(b.values()) for b in buckets.values()),
                success_rate=success_rate(succeeded, failed),
                p50_ms=p50,
                p95_ms=p95,
            )
        )
    return result


def endpoint_last_error(endpoint) -> Delivery | None:
    """The endpoint's newest delivery that recorded an error (last 7 days)."""
    since = timezone.now() - timedelta(days=7)
    return (
        Delivery.objects.filter(endpoint=endpoint, created_at__gte=since)
        .exclude(last_error="")
        .order_by("-created_at")
        .first()
    )
