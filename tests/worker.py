"""A real Celery worker (with embedded beat) in a subprocess, for tests and drills."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from django.db import connection

from flexhooks.testing import celery_worker_command

ROOT = Path(__file__).resolve().parent.parent

# Short timings so that faults heal within seconds in tests.
FAST_SETTINGS = {
    "FLEXHOOKS_RETRY_SCHEDULE": "1,1,1",
    "FLEXHOOKS_CONNECT_TIMEOUT": "1",
    "FLEXHOOKS_REQUEST_DEADLINE": "2",
    "FLEXHOOKS_SWEEP_INTERVAL": "1",
    "FLEXHOOKS_ALLOW_LOOPBACK": "1",
}


def database_url() -> str:
    """The URL of the database this test process uses (the test database)."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


WORKER_APPLICATION_NAME = "flexhooks-test-worker"


class WorkerProcess:
    def __init__(
        self,
        tmp_path: Path,
        *,
        broker_url: str | None = None,
        beat: bool = True,
        concurrency: int = 2,
        extra_env: dict | None = None,
        name: str | None = None,
    ):
        self.tmp_path = tmp_path
        self.broker_url = broker_url or os.environ["CELERY_BROKER_URL"]
        self.beat = beat
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.name = name or f"test-{uuid.uuid4().hex[:8]}"
        self.process: subprocess.Popen | None = None
        self.log_path = tmp_path / f"{self.name}.log"

    def start(self) -> "WorkerProcess":
        env = {
            **os.environ,
            **FAST_SETTINGS,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            # libpq names the worker's connections, so a drill can end exactly those.
            "PGAPPNAME": WORKER_APPLICATION_NAME,
            **self.extra_env,
        }
        command = celery_worker_command(
            self.name, "--loglevel=INFO", f"--concurrency={self.concurrency}"
        )
        if self.beat:
            command += ["-B", "-s", str(self.tmp_path / f"{self.name}-beat")]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process, pool children, beat): no clean-up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if not self.log.closed:
            self.log.close()
