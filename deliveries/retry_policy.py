"""When to try a failed delivery again: the schedule, its jitter and `Retry-After`."""

import random
from datetime import datetime
from email.utils import parsedate_to_datetime

# Never wait longer than this for a Retry-After, whatever the receiver asks.
MAX_RETRY_AFTER_SECONDS = 24 * 3600


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


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
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def jittered(seconds: float, jitter: float) -> float:
    """seconds scaled by a random factor in 1 ± jitter, so retries do not arrive in step."""
    return seconds * random.uniform(1 - jitter, 1 + jitter)  # noqa: S311 - not for security


def next_delay(
    *, step: int, schedule: tuple[int, ...], jitter: float, retry_after: float | None = None
) -> float | None:
    """Seconds until the retry after `step` retries were used, or None when exhausted."""
    if step >= len(schedule):
        return None
    delay = jittered(schedule[step], jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
