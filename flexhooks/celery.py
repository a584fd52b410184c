"""The Celery app: `celery -A flexhooks worker` and `celery -A flexhooks beat`.

Celery's Django fixup hands each task's database connection back after the task; with
Django's connection pool that is a return to the pool, not a new connection per task.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexhooks.settings")

app = Celery("flexhooks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
