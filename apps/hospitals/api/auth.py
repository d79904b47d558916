"""``Authorization: Api-Key <prefix>.<secret>`` for hospital information systems, and the
per-key rate limit.

The authenticated user is a ``HospitalPrincipal`` (apps.core.principals) so lower apps can
tell hospitals from staff without importing this app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import caches
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from apps.core.principals import HospitalPrincipal
from apps.hospitals import selectors, services

KEYWORD = "Api-Key"


class ApiKeyRevoked(exceptions.AuthenticationFailed):
    error_code = "api_key_revoked"
    default_detail = "this API key has been revoked"


class ApiKeyInvalid(exceptions.AuthenticationFailed):
    error_code = "not_authenticated"
    default_detail = "unknown API key"


class ApiKeyAuthentication(BaseAuthentication):
    """Hospitals authenticate with a key issued by an operator (``issue_api_key``)."""

    def authenticate(self, request: Request) -> tuple[HospitalPrincipal, str] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise ApiKeyInvalid("Api-Key header must be 'Api-Key <prefix>.<secret>'")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise ApiKeyInvalid() from exc
        check = selectors.api_key_check(raw=raw)
        if check.status == "revoked":
            raise ApiKeyRevoked(f"API key {check.prefix} has been revoked; ask your operator for a new one")
        if check.status == "inactive":
            raise ApiKeyInvalid(f"hospital {check.institution_code} is deactivated")
        if check.status != "ok":
            raise ApiKeyInvalid()
        services.api_key_touch(key_id=check.key_id, prefix=check.prefix)
        principal = HospitalPrincipal(
            hospital_id=check.hospital_id,
            institution_code=check.institution_code,
            province_code=check.province_code,
            key_prefix=check.prefix,
        )
        return principal, check.prefix

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) with WWW-Authenticate when no credentials are sent.
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.hospitals.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Hospital API key: `Authorization: Api-Key <prefix>.<secret>` (issued with `manage.py issue_api_key`).",
        }


# GCRA (generic cell rate algorithm) in one atomic step on the Redis server: the key holds the
# "theoretical arrival time" (ms, server clock) of the next request; a request is admitted when it
# would not push that time more than a period ahead of now. N requests may come at once, then one
# per period/N. Returns the milliseconds to wait (0: admitted).
_GCRA_SCRIPT = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > period then
    return next_tat - period - now
end
redis.call('SET', KEYS[1], next_tat, 'PX', period)
return 0
"""


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (rate ``api_key`` in DEFAULT_THROTTLE_RATES); staff are not limited here.

    The counters live in the cache named by ``API_THROTTLE_CACHE`` (default: ``default``, which
    is Redis when CACHE_URL points at Redis, so every web process shares one budget per key).
    On Redis a request costs one round trip to a script (``_GCRA_SCRIPT``) that admits or refuses
    it atomically, holding one number per key: DRF's own throttle reads and writes the list of
    every request time in the period (1,200 floats at the default rate) in two round trips, and
    two web processes reading the same list both let their request through. Other caches (the
    embedded default of ``make run``, one process) keep DRF's throttle.
    """

    scope = "api_key"

    def __init__(self) -> None:
        self.cache = caches[getattr(settings, "API_THROTTLE_CACHE", "default")]
        super().__init__()
        self._wait_ms = 0
        # The rate as DRF's __init__ parsed it (attributes its type stubs do not declare).
        self._requests: int | None = getattr(self, "num_requests", None)
        self._seconds: int | None = getattr(self, "duration", None)

    def allow_request(self, request: Request, view: Any) -> bool:
        client = _redis_client(self.cache)
        if client is None or not self._requests or not self._seconds:
            return super().allow_request(request, view)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        period_ms = self._seconds * 1000
        interval_ms = max(period_ms // self._requests, 1)
        self._wait_ms = int(_gcra(client)(keys=[self.cache.make_key(key)], args=[interval_ms, period_ms], client=client))
        return self._wait_ms == 0

    def wait(self) -> float | None:
        if self._wait_ms:
            return self._wait_ms / 1000
        return super().wait()

    def get_rate(self) -> str | None:
        config: dict[str, Any] = settings.REST_FRAMEWORK
        rates: dict[str, str | None] = config.get("DEFAULT_THROTTLE_RATES") or {}
        return rates.get(self.scope) if self.scope else None

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        prefix = getattr(request.user, "key_prefix", "")
        if not getattr(request.user, "is_hospital", False) or not prefix:
            return None
        return self.cache_format % {"scope": self.scope, "ident": prefix}


_GCRA: list[Any] = []  # the registered script: sent by its SHA-1 (EVALSHA), its text only once per server


def _gcra(client: Any) -> Any:
    if not _GCRA:
        _GCRA.append(client.register_script(_GCRA_SCRIPT))
    return _GCRA[0]


def _redis_client(cache: Any) -> Any:
    """The redis-py client behind a Django Redis cache, or None for another backend."""
    inner = getattr(cache, "_cache", None)
    get_client = getattr(inner, "get_client", None)
    return get_client(write=True) if callable(get_client) else None
