"""API authentication (`Authorization: Bearer <api key>`) and the per-key throttle."""

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import Account
from accounts.services import api_key_authenticate


@dataclass(frozen=True)
class ApiPrincipal:
    """request.user for API calls: the account behind the key."""

    account: Account
    is_authenticated: bool = True


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request)
        if not header:
            return None
        scheme, _, raw_key = header.decode("latin-1").partition(" ")
        raw_key = raw_key.strip()
        if scheme.lower() != "bearer" or not raw_key or " " in raw_key:
            raise AuthenticationFailed("Authorization header must be 'Bearer <api key>'.")
        api_key = api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise AuthenticationFailed("Unknown or revoked API key.")
        return ApiPrincipal(account=api_key.account), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="flexhooks"'


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
