import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from endpoints.models import Endpoint, signing_at
from endpoints.services import (
    endpoint_current_secret,
    endpoint_rotate_secret,
    endpoint_update,
)
from outbound.signing import SECRET_PREFIX
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "not a url",
        "",
        "https://",
        "javascript:alert(1)",
        "https://user:pw@example.com/hook",
    ],
)
def test_bad_urls_are_rejected_and_nothing_is_created(account, url):
    with pytest.raises(ValidationError) as error:
        make_endpoint(account, url)
    assert "url" in error.value.message_dict
    assert not Endpoint.objects.exists()


def test_literal_private_addresses_are_rejected_unless_allowed(account, settings):
    settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS = False
    settings.FLEXHOOKS_ALLOW_LOOPBACK = False
    for url in (
        "http://127.0.0.1/x",
        "http://10.0.0.8/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://100.64.1.1/x",
    ):
        with pytest.raises(ValidationError, match="points at"):
            make_endpoint(account, url)
    settings.FLEXHOOKS_ALLOW_LOOPBACK = True  # what `make run` sets: loopback, nothing else
    assert make_endpoint(account, "http://127.0.0.1:8080/x")[0].pk
    assert make_endpoint(account, "http://[::1]:8080/x")[0].pk
    for url in ("http://10.0.0.8/x", "http://169.254.169.254/latest"):
        with pytest.raises(ValidationError, match="points at"):
            make_endpoint(account, url)
    settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS = True
    assert make_endpoint(account, "http://10.0.0.8/x")[0].pk


def test_https_only_refuses_plain_http(account, settings):
    settings.FLEXHOOKS_HTTPS_ONLY = True
    with pytest.raises(ValidationError, match="https://"):
        make_endpoint(account, "http://example.com/hook")


def test_unknown_or_archived_subscriptions_are_rejected(account):
    with pytest.raises(ValidationError, match="unknown event type"):
        make_endpoint(account, event_types=["invoice.nope"])
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-signature": "x"},
        {"Content-Type": "text/plain"},
        {"bad name": "x"},
        {"X-Ok": "line\nbreak"},
        ["not", "a", "dict"],
    ],
)
def test_custom_headers_may_not_override_ours_or_be_malformed(account, headers):
    with pytest.raises(ValidationError):
        make_endpoint(account, headers=headers)


def test_the_secret_is_standard_webhooks_shaped_and_encrypted_at_rest(account):
    endpoint, secret = make_endpoint(account)
    assert secret.startswith(SECRET_PREFIX) and len(secret) > 30
    assert endpoint_current_secret(endpoint=endpoint) == secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT ciphertext FROM endpoints_endpointsecret")
        (stored,) = cursor.fetchone()
    assert secret not in stored and secret.removeprefix(SECRET_PREFIX) not in stored


def test_rotation_keeps_the_old_secret_signing_for_the_grace_period(account):
    endpoint, old = make_endpoint(account)
    new = endpoint_rotate_secret(endpoint=endpoint, grace_seconds=60)
    from django.utils import timezone

    def signing(now):
        return [s.secret for s in endpoint.secrets.filter(signing_at(now))]

    assert signing(timezone.now()) == [new, old]
    assert endpoint_current_secret(endpoint=endpoint) == new
    assert signing(timezone.now() + timezone.timedelta(seconds=61)) == [new]


def test_update_changes_only_given_fields(account):
    endpoint, _ = make_endpoint(account, description="first", event_types=["invoice.created"])
    endpoint_update(endpoint=endpoint, url="https://example.com/other")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://example.com/other" and endpoint.description == "first"
    assert list(endpoint.event_types.values_list("name", flat=True)) == ["invoice.created"]
