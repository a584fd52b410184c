"""Typed helpers that build test data through the same services the product uses."""

from accounts.models import Account
from accounts.services import account_create
from endpoints.models import Endpoint
from endpoints.services import endpoint_create


def make_account(name: str = "acme") -> tuple[Account, str]:
    return account_create(name=name)


def make_endpoint(
    account: Account, url: str = "https://example.com/hooks", event_types=(), **kwargs
) -> tuple[Endpoint, str]:
    return endpoint_create(account=account, url=url, event_types=event_types, **kwargs)
