"""A Python client generated from the live schema (openapi-python-client) works: through
it only, create an endpoint, emit, list, retry, and get errors parsed into `Error`."""

import importlib
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from accounts.services import account_create

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def generated(live_server, tmp_path, monkeypatch):
    with urllib.request.urlopen(f"{live_server.url}/api/v1/schema/?format=json") as response:
        (tmp_path / "schema.json").write_bytes(response.read())
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            "schema.json",
            "--meta",
            "none",
            "--output-path",
            "flexhooks_client",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        # its post-generation hook runs ruff from PATH
        env={**os.environ, "PATH": f"{GENERATOR.parent}:{os.environ['PATH']}"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name.startswith("flexhooks_client")]:
        del sys.modules[name]
    return lambda name: importlib.import_module(f"flexhooks_client.{name}")


def test_the_generated_client_round_trip(live_server, generated, event_types, broker):
    _, raw_key = account_create(name="client")
    client_module = generated("client")
    models = generated("models")
    endpoints_create = generated("api.endpoints.endpoints_create")
    endpoints_retrieve = generated("api.endpoints.endpoints_retrieve")
    events_create = generated("api.events.events_create")
    deliveries_list = generated("api.deliveries.deliveries_list")
    deliveries_retry = generated("api.deliveries.deliveries_retry")
    client = client_module.AuthenticatedClient(base_url=live_server.url, token=raw_key)

    created = endpoints_create.sync_detailed(
        client=client,
        body=models.EndpointInputRequest(
            url="https://hooks.example.com/billing", event_types=["invoice.created"]
        ),
    )
    assert created.status_code == 201
    endpoint = created.parsed
    assert isinstance(endpoint, models.EndpointCreated)
    assert endpoint.secret.startswith("whsec_") and endpoint.enabled is True

    emitted = events_create.sync_detailed(
        client=client,
        body=models.EmitInputRequest(
            event_type="invoice.created",
            object_=models.EmitInputRequestObject.from_dict({"id": "inv_1", "total": 4200}),
        ),
    )
    assert emitted.status_code == 202
    assert emitted.parsed.deliveries == 1

    page = deliveries_list.sync(client=client, event_id=emitted.parsed.id)
    assert isinstance(page, models.PaginatedDeliveryList)
    (delivery,) = page.results
    assert delivery.endpoint_id == endpoint.id and delivery.status.value == "pending"

    retried = deliveries_retry.sync_detailed(client=client, id=delivery.id)
    assert retried.status_code == 202 and retried.parsed.queued == 1

    # Errors come back typed, in the one shape.
    invalid = endpoints_create.sync_detailed(
        client=client, body=models.EndpointInputRequest(url="ftp://nope.example.com/")
    )
    assert invalid.status_code == 400
    assert isinstance(invalid.parsed, models.Error)
    assert invalid.parsed.error.code.value == "invalid"
    assert "url" in invalid.parsed.error.fields.to_dict()

    missing = endpoints_retrieve.sync_detailed(client=client, id=endpoint.id + 1000)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Error)
    assert missing.parsed.error.code.value == "not_found"

    stranger = client_module.AuthenticatedClient(base_url=live_server.url, token="fh_nope")
    refused = endpoints_retrieve.sync_detailed(client=stranger, id=endpoint.id)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.Error)
    assert refused.parsed.error.code.value == "authentication_failed"
