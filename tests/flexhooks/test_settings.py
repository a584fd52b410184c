"""Start-up configuration: each bad value stops start-up with a message naming it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start(**env) -> subprocess.CompletedProcess:
    """django.setup() in a fresh process, with this suite's secrets (DEBUG is off)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLEXHOOKS_", "DATABASE")) or k == "FLEXHOOKS_ENCRYPTION_KEYS"
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "flexhooks.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "postgres://host:notaport/db"),
        ("CELERY_BROKER_URL", "localhost"),
        ("FLEXHOOKS_RETRY_SCHEDULE", "5,soon,60"),
        ("FLEXHOOKS_MAX_PAYLOAD_BYTES", "a lot"),
        ("FLEXHOOKS_API_RATE", "fast"),
        ("DEBUG", "maybe?"),
        ("FLEXHOOKS_ENCRYPTION_KEYS", "not-a-fernet-key"),
        ("FLEXHOOKS_OPS_WEBHOOK_SECRET", "hunter2"),
        ("FLEXHOOKS_ALLOWED_CIDRS", "10.0.0.0/33"),
        ("FLEXHOOKS_REQUEST_DEADLINE", "0"),
        ("DATABASE_PREPARE_THRESHOLD", "sometimes"),
        ("DATABASE_POOL_SIZE", "many"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name, value):
    result = _start(**{name: value})
    assert result.returncode != 0, result.stdout
    assert name in result.stderr


def test_it_starts_on_the_embedded_defaults():
    result = _start(CELERY_BROKER_URL="filesystem://")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_the_celery_app_registers_the_project_tasks():
    from flexhooks.celery import app

    app.loader.import_default_modules()
    assert {"deliveries.tasks.deliver", "deliveries.tasks.sweep"} <= set(app.tasks)
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.task_routes["deliveries.tasks.deliver"] == {"queue": "deliveries"}
