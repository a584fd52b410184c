"""Outbound requests never reach internal addresses: checked on the resolved address at
connect time, so DNS answers cannot smuggle one in. No test here connects anywhere but
loopback."""

import ipaddress

import pycurl
import pytest
from django.core.exceptions import ValidationError

from deliveries.models import Attempt, Delivery, Notice
from deliveries.services import delivery_send, event_emit
from endpoints.validators import validate_endpoint_url
from outbound import transport
from tests.factories import make_endpoint

BLOCKED = [
    "127.0.0.1", "127.8.9.10", "[::1]",                       # loopback
    "10.1.2.3", "172.16.5.4", "192.168.1.1", "[fd00::1]",     # private, unique-local
    "169.254.169.254", "[fe80::1]",                           # link-local, cloud metadata
    "100.64.0.1",                                             # CGNAT
    "[64:ff9b::7f00:1]",                                      # NAT64 of 127.0.0.1
    "224.0.0.1", "[ff02::1]",                                 # multicast
    "0.0.0.0", "[::]",                                        # unspecified
    "[::ffff:127.0.0.1]",                                     # IPv4-mapped loopback
    "[2002:7f00:1::]", "[2002:a9fe:a9fe::]",                  # 6to4 of 127.0.0.1, 169.254.169.254
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",                 # Teredo
    "[fec0::1]",                                              # site-local
]  # fmt: skip


@pytest.fixture
def guarded(settings):
    settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS = False
    settings.FLEXHOOKS_ALLOW_LOOPBACK = False
    settings.FLEXHOOKS_ALLOWED_CIDRS = ()
    return settings


@pytest.mark.parametrize("host", BLOCKED)
def test_every_internal_address_class_is_blocked_at_connect(guarded, host):
    result = transport.post(f"http://{host}:8080/hook", b"{}", {})
    assert result.error_class == "blocked_address", result.error_message
    assert result.permanent and result.status is None


@pytest.mark.parametrize("host", BLOCKED)
def test_literal_internal_addresses_are_refused_when_an_endpoint_is_saved(guarded, host):
    with pytest.raises(ValidationError):
        validate_endpoint_url(f"http://{host}/hook")


def test_a_hostname_resolving_to_loopback_is_blocked(guarded, receiver):
    port = receiver.url.rsplit(":", 1)[1]
    result = transport.post(f"http://localhost:{port}/hook", b"{}", {})
    assert result.error_class == "blocked_address"
    assert receiver.received() == []


def test_a_dns_answer_given_at_send_time_is_checked_at_connect(guarded, receiver):
    # Saving the endpoint resolves nothing (an answer then would prove nothing later)...
    validate_endpoint_url("http://rebind.example.com/hook")
    port = int(receiver.url.rsplit(":", 1)[1])
    # ...and when it is sent, the name resolves to loopback, as a rebinding DNS server
    # would answer (libcurl resolves; this puts the answer in the handle's DNS cache).
    entry = f"rebind.example.com:{port}"
    transport._handle("deliveries").setopt(pycurl.RESOLVE, [f"{entry}:127.0.0.1"])
    try:
        result = transport.post(f"http://rebind.example.com:{port}/hook", b"{}", {})
    finally:
        transport._handle("deliveries").setopt(pycurl.RESOLVE, [f"-{entry}"])
    # The address checked is the one libcurl is about to connect to.
    assert result.error_class == "blocked_address" and "127.0.0.1" in result.error_message
    assert receiver.received() == []


def test_allowed_cidrs_open_a_private_range(guarded, receiver):
    guarded.FLEXHOOKS_ALLOWED_CIDRS = (ipaddress.ip_network("127.0.0.0/8"),)
    assert transport.post(receiver.url + "/hook", b"{}", {}).status == 200


@pytest.mark.django_db
def test_a_blocked_delivery_is_recorded_failed_not_retried_and_noticed(guarded, account):
    guarded.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS = True  # let the endpoint be saved...
    make_endpoint(account, "http://169.254.169.254/latest/meta-data")
    guarded.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS = False  # ...then deliver under the guard
    event_emit(account=account, event_type="invoice.created", data={})
    delivery = Delivery.objects.get()
    assert delivery_send(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error_class == "blocked_address"
    assert Attempt.objects.get().error_class == "blocked_address"
    assert Notice.objects.get().kind == "delivery_failed"


@pytest.mark.parametrize("host", ["10.1.2.3", "169.254.169.254", "[fd00::1]", "[2002:7f00:1::]"])
def test_the_development_switch_opens_loopback_and_nothing_else(guarded, receiver, host):
    guarded.FLEXHOOKS_ALLOW_LOOPBACK = True  # what `make run` sets
    assert transport.post(receiver.url + "/hook", b"{}", {}).status == 200
    blocked = transport.post(f"http://{host}:8080/hook", b"{}", {})
    assert blocked.error_class == "blocked_address"


def test_a_connection_the_ops_webhook_opened_never_carries_a_delivery(guarded, receiver):
    # The operator opens its internal ops URL; it is posted, and libcurl keeps the
    # connection alive...
    guarded.FLEXHOOKS_ALLOWED_CIDRS = (ipaddress.ip_network("127.0.0.1/32"),)
    port = receiver.url.rsplit(":", 1)[1]
    assert transport.post(f"http://localhost:{port}/ops", b"{}", {}, purpose="ops").status == 200
    # ...then a tenant's endpoint on the same host and port, under the guard (the range is
    # not open to tenants here): it gets a connection of its own, which the guard refuses.
    guarded.FLEXHOOKS_ALLOWED_CIDRS = ()
    stolen = transport.post(f"http://localhost:{port}/steal", b"{}", {})
    assert stolen.error_class == "blocked_address"
    assert [r.path for r in receiver.received()] == ["/ops"]
