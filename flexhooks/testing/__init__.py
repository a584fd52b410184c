"""Support for the project's tests and benchmark (no production code imports this)."""

import sys


def celery_worker_command(name: str, *extra: str) -> list[str]:
    """The command line of a real Celery worker of this project, named `name@host`."""
    return [sys.executable, "-m", "celery", "-A", "flexhooks", "worker", "-n", f"{name}@%h", *extra]
