"""Everything that changes events and deliveries: emit, send, retry, recover, sweep, purge.

The admin, the API, the management commands and the Celery tasks all call these, so each
rule lives here once; each module below holds one of those jobs.
"""

from deliveries.services.emit import (
    EmitResult,
    PayloadTooLargeError,
    dispatch,
    dispatch_on_commit,
    endpoint_send_test,
    event_emit,
    render_envelope,
)
from deliveries.services.maintenance import (
    PurgeResult,
    SweepResult,
    deliveries_sweep,
    history_purge,
)
from deliveries.services.retries import (
    RetryResult,
    deliveries_retry,
    delivery_retry,
    endpoint_recover,
    event_retry_failed,
)
from deliveries.services.sending import delivery_send

__all__ = [
    "EmitResult",
    "PayloadTooLargeError",
    "PurgeResult",
    "RetryResult",
    "SweepResult",
    "deliveries_retry",
    "deliveries_sweep",
    "delivery_retry",
    "delivery_send",
    "dispatch",
    "dispatch_on_commit",
    "endpoint_recover",
    "endpoint_send_test",
    "event_emit",
    "event_retry_failed",
    "history_purge",
    "render_envelope",
]
