"""The Celery app: `celery -A flexhooks worker` and `celery -A flexhooks beat`."""

import os
import time

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexhooks.settings")

app = Celery("flexhooks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def _recycle_database_connections(**kwargs) -> None:
    # Celery's Django fixup would close the connection around every task (a new
    # PostgreSQL connection per delivery); CELERY_DB_REUSE_MAX turns that off. Instead a
    # connection is kept until CONN_MAX_AGE, and dropped after a task that hit a database
    # error if it no longer works (Django's close_if_unusable_or_obsolete), without the
    # extra round trip of a health check before every task.
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        expired = connection.close_at is not None and time.monotonic() >= connection.close_at
        if connection.errors_occurred or expired:
            connection.close_if_unusable_or_obsolete()
