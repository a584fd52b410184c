"""The Celery app: `celery -A flexhooks worker` and `celery -A flexhooks beat`."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexhooks.settings")

app = Celery("flexhooks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(**kwargs) -> None:
    # Celery's Django fixup would close the connection around every task (a new
    # PostgreSQL connection per delivery); CELERY_DB_REUSE_MAX turns that off, and this
    # applies Django's own rules instead, as between two web requests: keep a healthy
    # connection for CONN_MAX_AGE, drop a broken or expired one.
    from django.db import close_old_connections

    close_old_connections()
