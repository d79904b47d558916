"""One error envelope for the whole API: {"code", "detail", "errors"}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import DomainError, localized

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "validation_error",
}


def _flatten(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """DRF's nested validation detail -> [{field, code, message}]."""
    if isinstance(detail, dict):
        out: list[dict[str, Any]] = []
        for key, value in detail.items():
            out.extend(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            nested = isinstance(value, (dict, list))
            out.extend(_flatten(value, f"{prefix}[{index}]" if nested else prefix))
        return out
    return [{"field": prefix or "non_field_errors", "code": getattr(detail, "code", "invalid"), "message": str(detail)}]


def error_response(*, status_code: int, code: str, detail: str, errors: list[dict[str, Any]] | None = None) -> Response:
    return Response({"code": code, "detail": detail, "errors": errors or []}, status=status_code)


def asks_for_chinese(request: Any) -> bool:
    """Whether an API request asks for Chinese: its ``Accept-Language`` prefers ``zh`` (any
    variant) to English. API clients get English otherwise, whatever the site's default
    language (pages default to Chinese; programs read codes and English)."""
    header = getattr(request, "META", {}).get("HTTP_ACCEPT_LANGUAGE", "")
    for lang, quality in parse_accept_lang_header(header):
        if quality <= 0:
            continue
        if lang.lower().startswith("zh"):
            return True
        if lang.lower().startswith("en") or lang == "*":
            return False
    return False


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        with translation.override("zh-hans" if asks_for_chinese(context.get("request")) else "en"):
            detail = exc.localized()
            errors = [localized(error) for error in exc.errors]
        return error_response(status_code=exc.status, code=exc.code, detail=detail, errors=errors)
    # Django's request-size guards surface while DRF parses the body; answer them in the envelope.
    if isinstance(exc, RequestDataTooBig):
        return error_response(status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, code="request_too_large", detail=str(exc))
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return error_response(status_code=status.HTTP_400_BAD_REQUEST, code="too_many_fields", detail=str(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    # Authentication classes may name a sharper code (api_key_revoked).
    explicit = getattr(exc, "error_code", None)
    if explicit:
        code = explicit
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": code, "detail": "the request is not valid", "errors": _flatten(exc.detail)}
    else:
        body = {"code": code, "detail": str(exc.detail), "errors": []}
    if response.status_code == status.HTTP_403_FORBIDDEN and isinstance(exc, exceptions.NotAuthenticated):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    response.data = body
    return response


# Paths that belong to the API: Django's own 404 page (a URL that matches no route, e.g. a
# negative id where the route takes a positive integer) is HTML; a client of the API gets the envelope.
API_PREFIXES = ("/api/", "/fhir/")


def page_not_found(request: Any, exception: Exception | None = None) -> Any:
    """``handler404``: the error envelope under the API's paths, Django's page elsewhere."""
    from django.http import JsonResponse
    from django.views import defaults

    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"code": "not_found", "detail": f"no such resource: {request.path}", "errors": []}, status=404)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]
