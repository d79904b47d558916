"""Request hygiene that no view should have to repeat."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse


class RefuseNulBytesMiddleware:
    """A NUL character in the query string or a form field can never be stored or compared in
    PostgreSQL text (psycopg refuses it with an error that would surface as a 500): answer 400
    ``validation_error`` naming the parameter, before any view reads it."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = [name for name, values in request.GET.lists() if "\x00" in name or any("\x00" in v for v in values)]
        if "\x00" in request.path:
            bad.append("path")
        if bad:
            detail = "NUL characters are not accepted"
            errors = [{"field": name.replace("\x00", "\\0"), "code": "invalid", "message": detail} for name in bad]
            if request.path.startswith("/api/"):
                return JsonResponse({"code": "validation_error", "detail": detail, "errors": errors}, status=400)
            if request.path.startswith("/fhir/"):  # the facade answers FHIR's error shape
                outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid", "diagnostics": detail}]}
                return JsonResponse(outcome, status=400, content_type="application/fhir+json")
            return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)  # type: ignore[no-any-return]
