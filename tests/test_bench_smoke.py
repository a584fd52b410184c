"""The benchmark's code runs end to end with tiny numbers (the real run is `make bench`)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()),
        reason="no nginx (apt-get install nginx-light)",
    ),
]


def test_the_benchmark_runs_and_reports_every_figure(tmp_path):
    output = tmp_path / "bench.json"
    # Its own database, named after the suite's (two checkouts never share one), and the
    # suite's own Redis db (FLEXHOOKS_TEST_REDIS_URL), which the bench flushes.
    env = {
        **os.environ,
        "FLEXHOOKS_BENCH_DATABASE_URL": os.environ["DATABASE_URL"] + "_bench_smoke",
        "FLEXHOOKS_BENCH_BROKER_URL": os.environ["CELERY_BROKER_URL"],
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(output.read_text())
    assert figures["throughput"]["n"] == 60 and figures["throughput"]["per_second"] > 0
    assert len(figures["pairs"]) == 2 and figures["throughput"]["per_second"] in {
        pair["throughput"] for pair in figures["pairs"]
    }
    assert figures["fanout"]["statements"] == figures["fanout"]["statements_with_10_endpoints"]
    assert figures["backlog_memory"]["broker_messages"] == 0
    assert 0 < figures["latency"]["p50_ms"] <= figures["latency"]["p99_ms"]
    assert "Throughput, 1 endpoint" in result.stdout
