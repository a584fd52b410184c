"""Everything that changes events and deliveries: emit, send, retry, recover, sweep, purge.

The admin, the API, the portal, the management commands and the Celery tasks all call
these, so each rule lives here once; each module below holds one of those jobs.
"""

from deliveries.services.emit import EmitResult, PayloadTooLargeError, event_emit, render_envelope
from deliveries.services.endpoints import endpoint_delete, endpoint_disable, endpoint_send_test
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
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_recover",
    "endpoint_send_test",
    "event_emit",
    "event_retry_failed",
    "history_purge",
    "render_envelope",
]
