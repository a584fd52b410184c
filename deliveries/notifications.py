"""Operational notifications: a log line, a Notice the dashboard shows, and optionally an
event POSTed to the operations webhook (FLEXHOOKS_OPS_WEBHOOK_URL)."""

import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from deliveries import wakeups
from deliveries.models import Notice
from deliveries.outcome import is_success
from endpoints.models import Endpoint
from outbound import signing, transport

logger = logging.getLogger("flexhooks.ops")

FOLD_WINDOW = timedelta(hours=1)
# A notice the operations webhook has not taken is sent again this long after the last
# try (the task's own retries take about 20 minutes), for a day.
POST_AGAIN_AFTER = timedelta(minutes=30)
POST_FOR = timedelta(days=1)
SEND_NOTICE = "deliveries.tasks.send_notice"


def notify(*, kind: str, endpoint: Endpoint, message: str) -> Notice:
    """Record an operational notification (folded with a recent one of the same kind)."""
    now = timezone.now()
    logger.warning(
        "notice kind=%s endpoint=%s account=%s %s", kind, endpoint.pk, endpoint.account_id, message
    )
    recent = Notice.objects.filter(
        kind=kind, endpoint=endpoint, last_seen_at__gte=now - FOLD_WINDOW
    )
    if recent.update(count=F("count") + 1, last_seen_at=now, message=message[:500]):
        return recent.first()
    notice = Notice.objects.create(
        kind=kind,
        account_id=endpoint.account_id,
        endpoint=endpoint,
        message=message[:500],
        created_at=now,
        last_seen_at=now,
        post_again_at=now + POST_AGAIN_AFTER,
    )
    if settings.FLEXHOOKS_OPS_WEBHOOK_URL:
        wakeups.call_on_commit(SEND_NOTICE, notice.pk)
    return notice


def notices_post_again(*, now) -> int:
    """Send again the notices the operations webhook has not taken (sweeper)."""
    if not settings.FLEXHOOKS_OPS_WEBHOOK_URL:
        return 0
    unsent = Notice.objects.filter(
        posted_at__isnull=True, post_again_at__lte=now, created_at__gte=now - POST_FOR
    )
    ids = list(unsent.values_list("pk", flat=True)[:100])
    Notice.objects.filter(pk__in=ids).update(post_again_at=now + POST_AGAIN_AFTER)
    for notice_id in ids:
        wakeups.call_on_commit(SEND_NOTICE, notice_id)
    return len(ids)


def notice_send(*, notice_id: int) -> None:
    """POST a notice to the operations webhook; raise ConnectionError to be retried."""
    notice = Notice.objects.select_related("endpoint", "account").filter(pk=notice_id).first()
    if notice is None or not settings.FLEXHOOKS_OPS_WEBHOOK_URL:
        return
    body = json.dumps(
        {
            "type": "flexhooks.notice",
            "kind": notice.kind,
            "message": notice.message,
            "account": notice.account.name,
            "endpoint_id": notice.endpoint_id,
            "count": notice.count,
            "at": notice.last_seen_at.isoformat(),
        }
    ).encode()
    msg_id, timestamp = f"notice_{notice.pk}_{notice.count}", int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": f"flexhooks/{settings.FLEXHOOKS_VERSION}",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
    }
    if settings.FLEXHOOKS_OPS_WEBHOOK_SECRET:
        headers["webhook-signature"] = signing.sign(
            msg_id=msg_id,
            timestamp=timestamp,
            body=body,
            secrets=[settings.FLEXHOOKS_OPS_WEBHOOK_SECRET],
        )
    # The same guard as deliveries (an internal ops URL is opened with
    # FLEXHOOKS_ALLOWED_CIDRS), on handles of its own: never a delivery's connection.
    result = transport.post(settings.FLEXHOOKS_OPS_WEBHOOK_URL, body, headers, purpose="ops")
    if not is_success(result.status):
        raise ConnectionError(f"ops webhook: {result.status or result.error_class}")
    Notice.objects.filter(pk=notice.pk).update(posted_at=timezone.now())
