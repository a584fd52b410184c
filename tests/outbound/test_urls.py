"""Endpoint URLs as people write them (IRIs) and as they go on the wire."""

import pycurl
import pytest
from django.core.exceptions import ValidationError

from deliveries.models import Delivery
from deliveries.services import delivery_send, event_emit
from endpoints.validators import validate_endpoint_url
from outbound import transport
from outbound.urls import InvalidURLError, ascii_url
from tests.factories import make_endpoint


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/hook?city=Zürich", "https://example.com/hook?city=Z%C3%BCrich"),
        ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),  # not encoded twice
        ("https://zürich.example/in", "https://xn--zrich-kva.example/in"),
        ("https://ZÜRICH.example:8443/in", "https://xn--zrich-kva.example:8443/in"),
        ("https://example.com", "https://example.com/"),
        ("http://[2001:db8::1]:8080/h", "http://[2001:db8::1]:8080/h"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        # IDNA 2008 with UTS #46, as browsers: ß is kept, ℂ maps to c
        ("https://ß.example/", "https://xn--zca.example/"),
        ("https://ℂ.example/", "https://c.example/"),
    ],
)
def test_an_iri_is_sent_in_its_ascii_form(given, sent):
    assert ascii_url(given) == sent


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com:0/",
        "https://example.com:99999/",
        "https://example.com:x/",
        "https:///nohost",
    ],
)
def test_a_url_that_cannot_be_sent_is_refused_when_saved(url):
    with pytest.raises(InvalidURLError):
        ascii_url(url)
    with pytest.raises(ValidationError):
        validate_endpoint_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://zürich.example/in",
        "https://example.com/café?city=Zürich",
        "http://a.example:65535/",
    ],
)
def test_iris_and_every_valid_port_are_accepted(url):
    validate_endpoint_url(url)


@pytest.mark.django_db
def test_a_delivery_to_an_idn_host_connects_to_its_punycode_name(account, receiver):
    port = int(receiver.url.rsplit(":", 1)[1])
    endpoint, _ = make_endpoint(account, f"http://zürich.example:{port}/hook")
    assert endpoint.url == f"http://zürich.example:{port}/hook"  # stored as given
    event_emit(account=account, event_type="invoice.created", data={})
    entry = f"xn--zrich-kva.example:{port}"
    transport._handle("deliveries").setopt(pycurl.RESOLVE, [f"{entry}:127.0.0.1"])
    try:
        delivery_send(delivery_id=Delivery.objects.get().pk)
    finally:
        transport._handle("deliveries").setopt(pycurl.RESOLVE, [f"-{entry}"])
    (request,) = receiver.received()
    assert request.headers["host"] == entry and request.path == "/hook"
    assert Delivery.objects.get().status == "succeeded"
