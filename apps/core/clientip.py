"""The client's address as the portal sees it, for login lockout (django-axes) and anything
else that keys on "who is calling".

Behind ``TRUSTED_PROXY_COUNT`` reverse proxies (the README's load balancer is one) the address
is read from ``X-Forwarded-For`` with django-ipware: each proxy appends the address it received
the request from, so the client is the entry the outermost trusted proxy appended, counted from
the right; anything a client wrote into the header itself sits further left and is ignored.
With no proxy configured (the default) the header is not read at all, so forging it changes
nothing: the address is the connection's (``REMOTE_ADDR``).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    remote = request.META.get("REMOTE_ADDR")
    if proxies <= 0:
        return remote
    # ipware counts the proxies whose own addresses are in the header; the last proxy's address
    # is REMOTE_ADDR, not in the header, hence ``proxies - 1``. A header shorter than the proxy
    # chain (a request that skipped a proxy) is not trusted: the connection's address is used.
    ip, _routable = get_client_ip(
        request, proxy_count=proxies - 1, request_header_order=["HTTP_X_FORWARDED_FOR"], strict=False, algorithm="modern"
    )
    return ip or remote


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None) -> HttpResponse:
    """django-axes' answer while a username is locked out from an address: the API's error
    envelope under /api/, the plain message elsewhere (the admin login)."""
    from axes.helpers import get_lockout_message

    message, status = get_lockout_message(), int(getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429))
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "locked_out", "detail": message, "errors": []}, status=status)
    return HttpResponse(message, status=status)
