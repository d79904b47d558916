"""The OpenAPI schema served at ``/api/schema/``, made to match what every operation answers, so
that a client generated from it (openapi-python-client, schemathesis) can be trusted.

``PortalAutoSchema`` (REST_FRAMEWORK ``DEFAULT_SCHEMA_CLASS``) adds, to every operation, without
anything to write in the view:

- the error responses it can give, each with the one ``Error`` envelope component
  (``{code, detail, errors}``): 400 ``validation_error`` where a body or a query parameter is read,
  401 and 403 where credentials are needed, 404 where the path names something, 409 on writes,
  413 where a body is read, 429 where a throttle applies. What a view documents itself is kept.
- its security from its permission classes (``schema_callers`` on the class: ``hospital``,
  ``staff``, ``anonymous``): a staff-only operation asks for the staff token or session, a
  hospital-only one for the API key, not "any of the three".
- the ``{next, results}`` envelope for every list response (API.md Conventions), also for views
  that paginate by hand and declare ``Serializer(many=True)``.
- ``""`` in the enum of a read-only choice whose model field may be blank (e.g. an item without
  ``restriction_hospital_level``), which is what is sent.

Query parameters the schema does not name are ignored by every endpoint (documented in the
schema's description and README); the ones it names are validated and answered 400.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.settings import api_settings

from .pagination import IdCursorPagination, page_parameters

ERROR_COMPONENT = "Error"

# The status codes PortalAutoSchema adds, with the code clients see most often.
ERROR_STATUSES: dict[int, tuple[str, str]] = {
    400: ("validation_error", "the request is not valid"),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    409: ("conflict", "the action is not allowed in the current state"),
    413: ("request_too_large", "the request body is larger than allowed"),
    429: ("throttled", "Request was throttled. Expected available in 12 seconds."),
}
ERROR_DESCRIPTIONS = {
    400: "bad input: `validation_error` (or `parse_error`) with `errors: [{field, code, message}]`",
    401: "no or unknown credentials: `not_authenticated`, `api_key_revoked`",
    403: "valid credentials, not allowed: `permission_denied`, `wrong_province`, `otp_required`",
    404: "not found (also another province's or hospital's object)",
    409: "a workflow rule refused the action (e.g. `same_user_cannot_approve`, `release_not_draft`)",
    413: "`request_too_large`",
    429: "`throttled` (per API key) or `locked_out` (token login)",
}

HOSPITAL, STAFF, ANONYMOUS = "hospital", "staff", "anonymous"
_EVERY_CALLER = frozenset({HOSPITAL, STAFF, ANONYMOUS})
_AUTHENTICATED = frozenset({HOSPITAL, STAFF})
# Security requirement objects per kind of caller (names of the authentication extensions).
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    HOSPITAL: [{"ApiKeyAuth": []}],
    STAFF: [{"StaffToken": []}, {"cookieAuth": []}],
    ANONYMOUS: [{}],
}


class ErrorItemSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(required=False, help_text="the field (or query parameter) at fault")
    code = serializers.CharField(required=False, help_text="stable snake_case reason")
    message = serializers.CharField(required=False, help_text="for people")
    line = serializers.IntegerField(required=False, help_text="file imports: the physical line")
    column = serializers.CharField(required=False, help_text="file imports: the header name as written")


class ErrorSerializer(serializers.Serializer[Any]):
    """The one error envelope of the API (``apps.core.api.errors``)."""

    code = serializers.CharField(help_text="stable snake_case error code")
    detail = serializers.CharField(help_text="for people")
    errors = ErrorItemSerializer(many=True, help_text="what was wrong, item by item (empty when nothing more to say)")  # type: ignore[assignment]


def error_response(status: int, code: str, detail: str) -> OpenApiResponse:
    """A documented error answer with its typical code as example (views may name sharper ones)."""
    return OpenApiResponse(
        ErrorSerializer,
        description=f"`{code}`" if status not in ERROR_DESCRIPTIONS else f"`{code}`; {ERROR_DESCRIPTIONS[status]}",
        examples=[OpenApiExample(code, value={"code": code, "detail": detail, "errors": []})],
    )


def callers_of(view: Any, method: str) -> frozenset[str]:
    """Who may call ``method`` on ``view``, from its permission classes: each class narrows the set
    (``schema_callers`` attribute, or ``schema_callers_for(method)``); DRF's AllowAny lets anyone in,
    IsAuthenticated and unmarked classes any authenticated caller."""
    callers = _EVERY_CALLER
    for permission in view.get_permissions():
        if hasattr(permission, "schema_callers_for"):
            allowed = frozenset(permission.schema_callers_for(method))
        elif hasattr(permission, "schema_callers"):
            allowed = frozenset(permission.schema_callers)
        elif isinstance(permission, permissions.AllowAny):
            allowed = _EVERY_CALLER
        else:
            allowed = _AUTHENTICATED
        callers &= allowed
    return callers


class PortalAutoSchema(AutoSchema):
    def get_auth(self) -> list[dict[str, Any]]:
        offered = super().get_auth()  # also registers the security schemes of the view's authenticators
        names = {name for requirement in offered for name in requirement}
        wanted: list[dict[str, Any]] = []
        for caller in (HOSPITAL, STAFF, ANONYMOUS):
            if caller not in callers_of(self.view, self.method):
                continue
            for requirement in _SECURITY[caller]:
                if all(name in names for name in requirement) and requirement not in wanted:
                    wanted.append(requirement)
        return wanted

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._get_parameters()
        # Every page_size and cursor means the same (apps.core.api.pagination), however a view
        # listed it: one description, and page_size's bounds so that 0 or 1001 is not schema-valid.
        shared = {p["name"]: p for p in page_parameters()}
        return [shared[p["name"]] if p.get("in") == "query" and p["name"] in shared else p for p in parameters]

    def _get_paginator(self) -> Any:
        paginator = super()._get_paginator()
        if paginator is None and self.method == "GET" and not isinstance(self.view, GenericAPIView):
            # Views that page by hand answer the same envelope (API.md Conventions); the
            # parameters they read are the ones they list themselves.
            return _HandPagedEnvelope()
        return paginator

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)
        # A view whose body is the whole point (an upload, a list) says so: the body is then
        # required, which generators need to type it (openapi-python-client breaks on an optional
        # body with two media types).
        if body and self.method in getattr(self.view, "schema_required_body_methods", ()):
            body = {**body, "required": True}
        return body

    def _map_basic_serializer(self, serializer: Any, direction: str) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema = {**schema, "additionalProperties": False}  # its validate() answers 400 "unknown field"
        return schema

    def map_parsers(self) -> list[Any]:
        # Bodies are JSON (API.md); form encodings are documented only where a view chose its
        # parsers (file uploads). The defaults still parse forms, for browsers with a session.
        # By value, not identity: api_settings.reload() (override_settings) makes new lists.
        if list(type(self.view).parser_classes) == list(api_settings.DEFAULT_PARSER_CLASSES):
            return ["application/json"]
        return list(super().map_parsers())

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        if isinstance(field, serializers.ChoiceField) and field.read_only and not field.allow_blank and _model_field(field, "blank"):
            field = copy.copy(field)
            field.allow_blank = True
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema.get("type") == "array" and field.read_only is False:
            # Custom list fields (claim lines) state their bounds as ListField does.
            if getattr(field, "allow_empty", True) is False:
                schema = {**schema, "minItems": max(schema.get("minItems", 0), 1)}
            if isinstance(getattr(field, "max_length", None), int):
                schema = {**schema, "maxItems": field.max_length}
        if isinstance(field, serializers.FileField) and not getattr(field, "allow_empty_file", False):
            schema = {**schema, "minLength": 1}  # an empty file is refused
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string" and "pattern" in schema:
            schema = {**schema, "pattern": _decimal_pattern(field)}
        # A read-only field reached through a nullable relation (approved_by, based_on, …) is null
        # until the relation is set; spectacular types it as the related field's type alone.
        if field.read_only and not schema.get("nullable") and "$ref" not in schema and _model_field(field, "null", relations_only=True):
            schema = {**schema, "nullable": True}
        return schema

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        own = getattr(self.view, "schema_error_response", None)  # e.g. FHIR's OperationOutcome
        for status in self._error_statuses():
            if str(status) not in responses:
                code, detail = ERROR_STATUSES[status]
                answer = own if own is not None else error_response(status, code, detail)
                responses[str(status)] = self._get_response_for_code(answer, str(status))
        return responses

    def _error_statuses(self) -> list[int]:
        statuses: list[int] = []
        has_body = bool(self._get_request_body())
        query = [p for p in self._get_parameters() if p.get("in") == "query"]
        path_params = "{" in self.path
        callers = callers_of(self.view, self.method)
        if has_body or query:
            statuses.append(400)
        if callers != _EVERY_CALLER:
            statuses += [401, 403]
        if path_params or has_body:  # a body may name something that does not exist (a province, an account)
            statuses.append(404)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            statuses.append(409)
        if has_body:
            statuses.append(413)
        if self.view.get_throttles() or ANONYMOUS in callers:
            statuses.append(429)
        statuses += getattr(self.view, "schema_extra_statuses", ())  # what the rules above cannot see
        return sorted(set(statuses))


def _decimal_pattern(field: Any) -> str:
    """spectacular's decimal pattern makes every digit optional (so "" and "-" match); this one
    needs a digit, and leaves out the sign and the values a 0-1 ratio does not take."""
    places = field.decimal_places or 0
    fraction = "(?:\\.[0-9]{1," + str(places) + "})?" if places else ""
    if field.min_value == 0 and field.max_value == 1:
        one = "(?:\\.0{1," + str(places) + "})?" if places else ""
        return f"^(?:0{fraction}|1{one})$"
    whole = max((field.max_digits or 0) - places, 1)
    sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
    return f"^{sign}[0-9]{{1,{whole}}}{fraction}$"


class _HandPagedEnvelope(IdCursorPagination):
    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return []


def _model_field(field: Any, attribute: str, *, relations_only: bool = False) -> bool:
    """``attribute`` (blank, null) of the model field behind a serializer field's source (the
    first step of a dotted source: ``approved_by.username`` is null when approved_by is)."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    source = getattr(field, "source", "") or ""
    if model is None or not source or source == "*":
        return False
    first, dotted = source.split(".")[0], "." in source
    if dotted is False and attribute == "blank" and relations_only:
        return False
    try:
        model_field = model._meta.get_field(first)
    except FieldDoesNotExist:
        return False
    if relations_only and not model_field.is_relation:
        return False
    if attribute == "blank" and dotted:
        return False
    return bool(getattr(model_field, attribute, False))


def postprocess_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular reads ``$`` in a route as a regex anchor and drops it, so the FHIR
    operations ``CodeSystem/$lookup`` … were published as ``CodeSystem/lookup`` (which is a read
    of a CodeSystem named "lookup"). Put the ``$`` back for every route written with one."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def routes(patterns: Any, prefix: str = "") -> Any:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from routes(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and "$" in str(pattern.pattern):
                yield route

    paths = result.get("paths", {})
    for route in routes(get_resolver().url_patterns):
        published = "/" + route.replace("$", "").lstrip("^")
        if published in paths:
            paths["/" + route.lstrip("^")] = paths.pop(published)
    return result
