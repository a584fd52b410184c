"""What an attempt's result means for its delivery and its endpoint: one pure policy.

`judge` decides; it reads no clock, database or network of its own, so a table of cases
tests it (tests/deliveries/test_outcome.py). The services do the I/O around it.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings

from deliveries.models import Delivery
from outbound.errors import TIMEOUTS, ErrorClass
from outbound.transport import Result

Status = Delivery.Status

# Each wait is scaled by a random factor in 1 ± JITTER, so retries do not arrive in step.
JITTER = 0.2
# Never wait longer than this for a Retry-After, whatever the receiver asks.
MAX_RETRY_AFTER = 24 * 3600
# Waits up to this ride on Celery's countdown; longer ones wait in the database for the
# sweeper, so no message outlives Redis' visibility timeout (one hour) in a worker.
MAX_COUNTDOWN = 60
# An endpoint that timed out counts as slow this long (few attempts in flight at once).
SLOW_FOR = timedelta(minutes=5)


class Health:
    """What an attempt says about its endpoint."""

    SUCCESS = "success"  # the failure streak ends
    FAILURE = "failure"  # one more failure in the streak
    TIMEOUT = "timeout"  # a failure that also marks the endpoint slow


@dataclass(frozen=True)
class Policy:
    schedule: tuple[int, ...]
    # A timeout or a 429 waits at least this long: a struggling receiver gets room.
    min_wait_when_slow: float
    auto_disable_after: timedelta
    jitter: float = JITTER

    @classmethod
    def from_settings(cls) -> "Policy":
        return cls(
            schedule=tuple(settings.FLEXHOOKS_RETRY_SCHEDULE),
            min_wait_when_slow=4 * settings.FLEXHOOKS_REQUEST_DEADLINE,
            auto_disable_after=timedelta(seconds=settings.FLEXHOOKS_AUTO_DISABLE_AFTER),
        )


@dataclass(frozen=True)
class Verdict:
    status: str
    next_attempt_at: datetime | None
    retry_step: int
    # Seconds for Celery's countdown when the next attempt is soon; None otherwise.
    countdown: float | None
    health: str
    slow_until: datetime | None
    last_status_code: int | None
    last_error_class: str
    last_error: str
    # Set when the endpoint should be disabled (410 Gone, or failing for too long).
    disable_reason: str = ""

    @property
    def gave_up(self) -> bool:
        return self.status == Status.FAILED


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def judge(
    result: Result,
    *,
    retry_step: int,
    now: datetime,
    failing_since: datetime | None,
    policy: Policy,
) -> Verdict:
    """The outcome of one attempt.

    2xx succeeds. 410 fails and disables the endpoint; a permanent error (a blocked
    address, an invalid URL) fails. Anything else — timeouts, connection errors, any other
    status, an internal error, a lost worker — waits for the next step of the schedule
    (with jitter; at least Retry-After on 429/503, at least `min_wait_when_slow` after a
    timeout or a 429), and fails when the schedule is used up. `failing_since` is when the
    endpoint's current failure streak began (None: it has none).
    """
    if is_success(result.status):
        return Verdict(
            status=Status.SUCCEEDED,
            next_attempt_at=None,
            retry_step=retry_step,
            countdown=None,
            health=Health.SUCCESS,
            slow_until=None,
            last_status_code=result.status,
            last_error_class="",
            last_error="",
        )
    timed_out = result.error_class in TIMEOUTS
    health = Health.TIMEOUT if timed_out else Health.FAILURE
    if result.status is not None:
        error_class, error = ErrorClass.HTTP, f"HTTP {result.status}"
    else:
        error_class, error = result.error_class, result.error_message[:500]
    delay = None
    if result.status != 410 and not result.permanent:
        delay = _delay(result, retry_step, now, policy)
    disable_reason = ""
    if result.status == 410:
        disable_reason = "the endpoint answered 410 Gone"
    elif failing_since is not None and failing_since < now - policy.auto_disable_after:
        disable_reason = f"failing without a success since {failing_since:%Y-%m-%d %H:%M} UTC"
    return Verdict(
        status=Status.FAILED if delay is None else Status.PENDING,
        next_attempt_at=None if delay is None else now + timedelta(seconds=delay),
        retry_step=retry_step if delay is None else retry_step + 1,
        countdown=delay if delay is not None and delay <= MAX_COUNTDOWN else None,
        health=health,
        slow_until=now + SLOW_FOR if timed_out else None,
        last_status_code=result.status,
        last_error_class=error_class,
        last_error=error,
        disable_reason=disable_reason,
    )


def _delay(result: Result, retry_step: int, now: datetime, policy: Policy) -> float | None:
    if retry_step >= len(policy.schedule):
        return None
    delay = jittered(policy.schedule[retry_step], policy.jitter)
    if result.status in (429, 503):
        delay = max(delay, parse_retry_after(result.headers.get("Retry-After"), now) or 0.0)
    if result.status == 429 or result.error_class in TIMEOUTS:
        delay = max(delay, policy.min_wait_when_slow)
    return delay


def jittered(seconds: float, jitter: float) -> float:
    """seconds scaled by a random factor in 1 ± jitter."""
    return seconds * random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 - not for security


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
