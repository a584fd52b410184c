"""Why an attempt got no 2xx: one vocabulary for the transport, the history, the API and
the dashboard."""

from django.db import models


class ErrorClass(models.TextChoices):
    HTTP = "http", "HTTP error status"
    TIMEOUT = "timeout", "timed out waiting for the response"
    CONNECT_TIMEOUT = "connect_timeout", "timed out connecting"
    CONNECTION_REFUSED = "connection_refused", "connection refused"
    CONNECTION_ERROR = "connection_error", "connection error"
    DNS = "dns", "host name not found"
    TLS = "tls", "TLS error"
    BLOCKED_ADDRESS = "blocked_address", "blocked address"
    INVALID_URL = "invalid_url", "invalid URL"
    INTERNAL = "internal", "internal error"
    WORKER_LOST = "worker_lost", "worker lost"


# Groups the dashboard and /metrics filter by.
TIMEOUTS = frozenset({ErrorClass.TIMEOUT, ErrorClass.CONNECT_TIMEOUT})
CONNECTION_FAILURES = frozenset(
    {ErrorClass.CONNECTION_REFUSED, ErrorClass.CONNECTION_ERROR, ErrorClass.DNS, ErrorClass.TLS}
)
