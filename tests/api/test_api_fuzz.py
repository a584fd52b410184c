"""Schema-driven fuzzing of the API (schemathesis): no input may cause a 5xx."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings

from flexhooks.wsgi import application
from tests.factories import make_account, make_endpoint

EXAMPLES = 25  # per operation: bounded, so the run takes seconds


@pytest.fixture
def api_schema():
    # Calls go through the real WSGI app in this process; keep Django from closing the
    # test's database connection at the end of each request (as its test client does).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_key(event_types):
    account, raw_key = make_account("fuzz")
    make_endpoint(account, "https://fuzz.example.com/h")
    return raw_key


@pytest.mark.django_db
def test_no_input_makes_the_api_fail(api_schema, api_key):
    headers = {"Authorization": f"Bearer {api_key}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    failures = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.text[:300]))

        check()
    assert failures == []
