"""The Celery app: `celery -A flexhooks worker` and `celery -A flexhooks beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexhooks.settings")

app = Celery("flexhooks")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
