"""pytest plugin: run the suite against real PostgreSQL and Redis when they answer.

Loaded with `-p` (see pyproject.toml) so it runs before Django reads its settings. When
DATABASE_URL / CELERY_BROKER_URL are not set, it points them at the test servers
(FLEXHOOKS_TEST_DATABASE_URL, FLEXHOOKS_TEST_REDIS_URL; local defaults). If a server does
not answer, the suite runs on SQLite and an in-memory broker and the tests marked
`services` are skipped with the reason, or fail when FLEXHOOKS_REQUIRE_SERVICES=1.
"""

import os
import secrets
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

TEST_DATABASE_URL = os.environ.get(
    "FLEXHOOKS_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flexhooks"
)
TEST_REDIS_URL = os.environ.get("FLEXHOOKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("FLEXHOOKS_REQUIRE_SERVICES") == "1"


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def _configure() -> list[str]:
    missing = []
    if "DATABASE_URL" not in os.environ and _answers(TEST_DATABASE_URL):
        os.environ["DATABASE_URL"] = TEST_DATABASE_URL
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        missing.append(f"PostgreSQL does not answer at {TEST_DATABASE_URL}")
    if "CELERY_BROKER_URL" not in os.environ:
        redis_up = _answers(TEST_REDIS_URL)
        os.environ["CELERY_BROKER_URL"] = TEST_REDIS_URL if redis_up else "memory://"
    if not os.environ["CELERY_BROKER_URL"].startswith("redis"):
        missing.append(f"Redis does not answer at {TEST_REDIS_URL}")
    # The test receivers listen on loopback.
    os.environ.setdefault("FLEXHOOKS_ALLOW_LOOPBACK", "1")
    # Tests run with DEBUG off, as production does, so they need production's secrets: a
    # fresh pair per session (the workers the tests start inherit them).
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("FLEXHOOKS_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    # No collectstatic before the suite: Django's plain storage and an empty STATIC_ROOT
    # (the gunicorn test runs collectstatic and the production storage in its own process).
    os.environ.setdefault(
        "FLEXHOOKS_STATIC_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage"
    )
    if "FLEXHOOKS_STATIC_ROOT" not in os.environ:
        static_root = Path(__file__).resolve().parents[2] / "var" / "test-static"
        static_root.mkdir(parents=True, exist_ok=True)
        os.environ["FLEXHOOKS_STATIC_ROOT"] = str(static_root)
    return missing


MISSING_SERVICES = _configure()


def pytest_report_header(config):
    if not MISSING_SERVICES:
        return [
            f"services: PostgreSQL {os.environ['DATABASE_URL']}, Redis "
            f"{os.environ['CELERY_BROKER_URL']}"
        ]
    return [
        f"services: {reason}; tests marked 'services' are skipped" for reason in MISSING_SERVICES
    ]


def pytest_collection_modifyitems(config, items):
    if not MISSING_SERVICES:
        return
    reason = "; ".join(MISSING_SERVICES)
    if REQUIRE_SERVICES:
        raise pytest.UsageError(f"FLEXHOOKS_REQUIRE_SERVICES=1 but {reason}")
    skip = pytest.mark.skip(reason=f"needs real services: {reason}")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)
