"""The Celery floor's task: as close to nothing as can still be counted."""

import redis
from celery import shared_task
from django.conf import settings

_client = None


@shared_task(name="bench.noop", ignore_result=True)
def noop(key: str) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    _client.incr(key)
