"""Schemathesis against a real HTTP server (pytest-django's live server) with the four
contract checks: no 5xx, only documented statuses, bodies and content types as the schema
says. Its fuzzing phase covers every operation; its stateful phase follows the schema's
links (create an endpoint → get, patch, test, secret, rotate, recover, delete; emit →
read; list deliveries → retry) and the ones it infers."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.authentication import ApiKeyRateThrottle
from accounts.services import account_create
from tests.factories import make_endpoint

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
]


@pytest.fixture
def target(live_server, event_types, monkeypatch):
    """A fresh account's key (with one endpoint) and the live server's URL; the key's
    throttle is lifted so that fuzzing is not cut short by 429s."""
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "100000/second", raising=False)
    monkeypatch.setattr(ApiKeyRateThrottle, "num_requests", 100_000, raising=False)
    account, raw_key = account_create(name="fuzz")
    make_endpoint(account, "https://fuzz.example.com/h")
    yield raw_key, live_server.url


def test_schemathesis_run_with_every_phase_finds_nothing(target):
    """Schemathesis' own engine, as a user runs it: examples, fuzzing, stateful."""
    raw_key, base_url = target
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{base_url}/api/v1/schema/?format=json",
            "--url",
            base_url,
            "--header",
            f"Authorization: Bearer {raw_key}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,fuzzing,stateful",
            "--max-examples",
            "20",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "18 selected / 18 total" in result.stdout
    # The stateful phase followed links from created objects to the operations on them.
    covered = re.search(r"API Links:\s+(\d+) covered", result.stdout)
    assert covered and int(covered.group(1)) >= 5, result.stdout[-3000:]
