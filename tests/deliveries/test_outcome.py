"""The outcome policy as a table: no HTTP, no database, no clock of its own."""

from datetime import UTC, datetime, timedelta

import pytest

from deliveries.outcome import Health, Policy, judge, parse_retry_after
from outbound.errors import ErrorClass
from outbound.transport import Result

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POLICY = Policy(
    schedule=(5, 300, 1800), min_wait_when_slow=60, auto_disable_after=timedelta(days=5), jitter=0
)


def http(status: int, **headers) -> Result:
    return Result(duration_ms=12, status=status, headers=headers)


def error(error_class: str, *, permanent: bool = False) -> Result:
    return Result(
        duration_ms=12, error_class=error_class, error_message="what happened", permanent=permanent
    )


# result, retry_step → status, seconds to the next attempt (None: no next), countdown?,
# health, error class, last error
CASES = [
    (http(200), 0, "succeeded", None, False, Health.SUCCESS, "", ""),
    (http(204), 2, "succeeded", None, False, Health.SUCCESS, "", ""),
    (http(500), 0, "pending", 5, True, Health.FAILURE, "http", "HTTP 500"),
    (http(500), 1, "pending", 300, False, Health.FAILURE, "http", "HTTP 500"),
    (http(500), 3, "failed", None, False, Health.FAILURE, "http", "HTTP 500"),
    (http(302), 0, "pending", 5, True, Health.FAILURE, "http", "HTTP 302"),
    (http(404), 0, "pending", 5, True, Health.FAILURE, "http", "HTTP 404"),
    (http(410), 0, "failed", None, False, Health.FAILURE, "http", "HTTP 410"),
    (http(429), 0, "pending", 60, True, Health.FAILURE, "http", "HTTP 429"),
    (http(429, **{"Retry-After": "120"}), 0, "pending", 120, False, Health.FAILURE, "http", "HTTP 429"),
    (http(503, **{"Retry-After": "30"}), 0, "pending", 30, True, Health.FAILURE, "http", "HTTP 503"),
    (http(503, **{"Retry-After": "2"}), 0, "pending", 5, True, Health.FAILURE, "http", "HTTP 503"),
    (error(ErrorClass.TIMEOUT), 0, "pending", 60, True, Health.TIMEOUT, "timeout", "what happened"),
    (error(ErrorClass.CONNECT_TIMEOUT), 1, "pending", 300, False, Health.TIMEOUT, "connect_timeout", "what happened"),
    (error(ErrorClass.CONNECTION_REFUSED), 0, "pending", 5, True, Health.FAILURE, "connection_refused", "what happened"),
    (error(ErrorClass.DNS), 2, "pending", 1800, False, Health.FAILURE, "dns", "what happened"),
    (error(ErrorClass.INTERNAL), 0, "pending", 5, True, Health.FAILURE, "internal", "what happened"),
    (error(ErrorClass.INTERNAL), 3, "failed", None, False, Health.FAILURE, "internal", "what happened"),
    (error(ErrorClass.WORKER_LOST), 1, "pending", 300, False, Health.FAILURE, "worker_lost", "what happened"),
    (error(ErrorClass.BLOCKED_ADDRESS, permanent=True), 0, "failed", None, False, Health.FAILURE, "blocked_address", "what happened"),
    (error(ErrorClass.INVALID_URL, permanent=True), 0, "failed", None, False, Health.FAILURE, "invalid_url", "what happened"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("result", "step", "status", "wait", "countdown", "health", "error_class", "last_error"), CASES
)
def test_the_outcome_of_an_attempt(
    result, step, status, wait, countdown, health, error_class, last_error
):
    verdict = judge(result, retry_step=step, now=NOW, failing_since=None, policy=POLICY)
    assert verdict.status == status
    assert verdict.next_attempt_at == (None if wait is None else NOW + timedelta(seconds=wait))
    assert verdict.retry_step == (step + 1 if wait is not None else step)
    assert (verdict.countdown is not None) == countdown
    assert verdict.health == health
    assert (verdict.last_error_class, verdict.last_error) == (error_class, last_error)
    assert verdict.last_status_code == result.status
    assert verdict.gave_up == (status == "failed")
    assert (verdict.slow_until is not None) == (health == Health.TIMEOUT)


def test_a_410_disables_the_endpoint():
    verdict = judge(http(410), retry_step=0, now=NOW, failing_since=None, policy=POLICY)
    assert "410" in verdict.disable_reason


@pytest.mark.parametrize(
    ("failing_for", "disabled"),
    [(None, False), (timedelta(days=4), False), (timedelta(days=6), True)],
)
def test_an_endpoint_failing_for_the_whole_window_is_disabled(failing_for, disabled):
    since = None if failing_for is None else NOW - failing_for
    verdict = judge(http(500), retry_step=0, now=NOW, failing_since=since, policy=POLICY)
    assert bool(verdict.disable_reason) == disabled
    success = judge(http(200), retry_step=0, now=NOW, failing_since=since, policy=POLICY)
    assert success.disable_reason == ""  # a success is never a reason to disable


def test_jitter_spreads_the_wait_within_its_bounds():
    policy = Policy(
        schedule=(100,), min_wait_when_slow=0, auto_disable_after=timedelta(days=5), jitter=0.2
    )
    waits = {
        (
            judge(
                http(500), retry_step=0, now=NOW, failing_since=None, policy=policy
            ).next_attempt_at
            - NOW
        ).total_seconds()
        for _ in range(50)
    }
    assert all(80 <= wait <= 120 for wait in waits) and len(waits) > 10


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120),
        ("soon", None),
        ("Wed, 02 Dec 2026 12:01:00 GMT", 60),
        ("99999999", 86400),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(header, seconds):
    assert parse_retry_after(header, NOW) == seconds
