"""The Celery app: `celery -A flexhooks worker` and `celery -A flexhooks beat`.

Celery's Django fixup hands each task's database connection back after the task; with
Django's connection pool that is a return to the pool, not a new connection per task.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexhooks.settings")

app = Celery("flexhooks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _no_pool_checks_in_workers(**kwargs) -> None:
    # A worker takes a connection from the pool twice per delivery (it hands it back while
    # the request is out); a check each time would cost a round trip per take (measured:
    # +90 µs of CPU per delivery). Instead the deliver task retries when a dead
    # connection fails the claim, and the record retries once on a fresh connection.
    from django.db import connections

    connections.settings["default"]["CONN_HEALTH_CHECKS"] = False
