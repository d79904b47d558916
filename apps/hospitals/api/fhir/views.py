"""FHIR R4 terminology facade (read-only): /fhir/metadata, CodeSystem search and read,
CodeSystem/$lookup, CodeSystem/$validate-code, ConceptMap/$translate. JSON only
(``application/fhir+json``); hospital API key or staff credentials, as the REST API (the
CapabilityStatement alone is public, as FHIR clients read it before they authenticate).

Which release answers: ``version`` (a release label) when given, else the release in force on
``date`` (a FHIR date or dateTime; default today, Asia/Shanghai); both at once is a 400. Errors
are OperationOutcome resources carrying the portal's stable error code. Thin: catalog
selectors do the reading, ``resources`` the shaping.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog.models import CatalogItem, CatalogRelease
from apps.catalog.selectors import item_lookup, published_timeline
from apps.core.api.fields import NOT_ONLY_SPACES
from apps.core.api.permissions import IsHospitalOrStaff
from apps.core.codes import normalise_code
from apps.core.errors import NotFound, ValidationFailed

from . import resources

FHIR_JSON = "application/fhir+json"


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"
    charset = "utf-8"


class FhirNegotiation(BaseContentNegotiation):
    """JSON only: ``Accept`` (or ``_format``) of FHIR JSON, JSON or anything is answered with
    ``application/fhir+json``; asking only for XML or Turtle is 406."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        wanted = request.query_params.get("_format", "") or request.META.get("HTTP_ACCEPT", "")
        if wanted and not any(token in wanted for token in ("json", "*/*")):
            raise exceptions.NotAcceptable("this server answers FHIR JSON only (application/fhir+json)")
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


OPERATION_OUTCOME = OpenApiResponse(
    {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
            "issue": {"type": "array", "items": {"type": "object"}},
        },
    },
    description="a FHIR OperationOutcome; the portal's error code is in issue[0].details.coding (system urn:catalog-portal:error-code)",
)
# Query parameters as the views read them: a value that is blank once stripped counts as absent.
_TEXT = {"type": "string", "pattern": NOT_ONLY_SPACES}


def _system_parameter(name: str, *, required: bool = False, description: str = "") -> OpenApiParameter:
    # Only this server's code system is answered (any other is 404 system_unknown).
    return OpenApiParameter(name, {"type": "string", "enum": [resources.system_url()]}, required=required, description=description)


class FhirView(APIView):
    permission_classes = [IsHospitalOrStaff]
    renderer_classes = [FhirJSONRenderer]
    content_negotiation_class = FhirNegotiation
    schema_error_response = OPERATION_OUTCOME  # errors are OperationOutcomes, not the API envelope
    schema_extra_statuses = (404,)  # an unknown system, version, code or ConceptMap

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # the portal's envelope {code, detail, errors} ...
        envelope = response.data if isinstance(response.data, dict) else {}
        # ... turned into the OperationOutcome a FHIR client reads.
        response.data = resources.operation_outcome(
            status=response.status_code, code=str(envelope.get("code", "error")), detail=str(envelope.get("detail", ""))
        )
        return response

    def base(self, request: Request) -> str:
        return request.build_absolute_uri("/fhir").rstrip("/")


def _param(request: Request, name: str) -> str:
    return request.query_params.get(name, "").strip()


def _required(request: Request, name: str) -> str:
    value = _param(request, name)
    if not value:
        raise ValidationFailed(f"{name}: required", errors=[{"field": name, "code": "required", "message": f"{name} is required"}])
    return value


def _date(request: Request) -> dt.date | None:
    raw = _param(request, "date")
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return dt.date.fromisoformat(raw)
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed("date: a FHIR date or dateTime", errors=[{"field": "date", "code": "invalid", "message": raw}]) from None
    return timezone.localtime(moment).date() if moment.tzinfo else moment.date()


def _release(request: Request) -> tuple[CatalogRelease, dt.date]:
    """The release that answers, and the date it answers for."""
    version, on_date = _param(request, "version"), _date(request)
    timeline = published_timeline()
    if version and on_date:
        raise ValidationFailed(
            "give version or date, not both", errors=[{"field": "version", "code": "invalid", "message": "not with date"}]
        )
    if version:
        release = next((r for r in timeline.releases if r.label == version), None)
        if release is None:
            raise NotFound(f"no published version {version} of the catalog", code="release_unknown")
        return release, release.effective_from
    on_date = on_date or timezone.localdate()
    release = timeline.in_force(on_date)
    if release is None:
        raise NotFound(f"no catalog release is in force on {on_date}", code="release_unknown")
    return release, on_date


def _check_system(request: Request, *names: str) -> None:
    for name in names:
        value = _param(request, name)
        if value and value != resources.system_url():
            raise NotFound(f"{name} {value} is not a code system of this server; use {resources.system_url()}", code="system_unknown")


def _item(release: CatalogRelease, code: str) -> CatalogItem | None:
    return CatalogItem.objects.filter(release_id=release.pk, code=code).first()


def _gone_message(code: str, release: CatalogRelease, on_date: dt.date) -> str:
    found = item_lookup(code=code, on_date=on_date)
    if found is None:
        return f"code {code} is not in the catalog up to {release.label}"
    if found["status"] == "active":  # a former code of an item
        return f"{code} is a former code; the code in {release.label} is {found['item'].code}"
    retired_in = found.get("retired_in")
    successors = ", ".join(found["successors"]) or "none"
    return f"code {code} was retired{f' in {retired_in.label}' if retired_in else ''}; successors in {release.label}: {successors}"


_FHIR_TAGS = ["fhir"]
_COMMON = [
    OpenApiParameter("version", str, description="release label; default: the release in force on date"),
    OpenApiParameter("date", OpenApiTypes.DATE, description="default today (Asia/Shanghai)"),
]


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_metadata", summary="FHIR CapabilityStatement (public)", responses={200: OpenApiTypes.OBJECT}, tags=_FHIR_TAGS
    )
)
class MetadataView(FhirView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response(resources.capability_statement(base=self.base(request)))


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_codesystem_search",
        summary="FHIR CodeSystem search: one CodeSystem per published release (version = label)",
        parameters=[OpenApiParameter("url", str), OpenApiParameter("version", str)],
        responses={200: OpenApiTypes.OBJECT},
        tags=_FHIR_TAGS,
    )
)
class CodeSystemSearchView(FhirView):
    def get(self, request: Request) -> Response:
        url, version = _param(request, "url"), _param(request, "version")
        timeline = published_timeline()
        in_force = timeline.in_force(timezone.localdate())
        releases = [] if url and url != resources.system_url() else [r for r in timeline.releases if not version or r.label == version]
        found = [resources.code_system(r, in_force=in_force) for r in sorted(releases, key=lambda r: r.effective_from, reverse=True)]
        return Response(resources.search_bundle(found, base=self.base(request)))


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_codesystem_read",
        summary="FHIR CodeSystem read (one release)",
        responses={200: OpenApiTypes.OBJECT},
        tags=_FHIR_TAGS,
    )
)
class CodeSystemReadView(FhirView):
    def get(self, request: Request, resource_id: str) -> Response:
        timeline = published_timeline()
        release = next((r for r in timeline.releases if resources.code_system_id(r) == resource_id), None)
        if release is None:
            raise NotFound(f"no CodeSystem {resource_id}", code="not_found")
        return Response(resources.code_system(release, in_force=timeline.in_force(timezone.localdate())))


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_codesystem_lookup",
        summary="FHIR CodeSystem/$lookup: a code's display and properties in a release",
        parameters=[_system_parameter("system", required=True), OpenApiParameter("code", _TEXT, required=True), *_COMMON],
        responses={200: OpenApiTypes.OBJECT},
        tags=_FHIR_TAGS,
    )
)
class LookupView(FhirView):
    def get(self, request: Request) -> Response:
        _required(request, "system")
        _check_system(request, "system")
        code = normalise_code(_required(request, "code"))
        release, on_date = _release(request)
        item = _item(release, code)
        if item is None:
            raise NotFound(_gone_message(code, release, on_date), code="code_unknown")
        return Response(resources.lookup_parameters(item, release))


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_codesystem_validate_code",
        summary="FHIR CodeSystem/$validate-code: is the code (and display) valid in the release in force on date?",
        parameters=[
            _system_parameter("url", description="the CodeSystem canonical (or system)"),
            _system_parameter("system"),
            OpenApiParameter("code", _TEXT, required=True),
            OpenApiParameter("display", str),
            *_COMMON,
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=_FHIR_TAGS,
    )
)
class ValidateCodeView(FhirView):
    def get(self, request: Request) -> Response:
        _check_system(request, "url", "system")
        code = normalise_code(_required(request, "code"))
        release, on_date = _release(request)
        item = _item(release, code)
        if item is None:
            message = _gone_message(code, release, on_date)
            return Response(resources.validate_parameters(result=False, message=message, version=release.label))
        display = _param(request, "display")
        if display and unicodedata.normalize("NFC", display) != item.name:
            message = f"display {display!r} is not the display of {code} in {release.label}: {item.name!r}"
            return Response(resources.validate_parameters(result=False, message=message, display=item.name, version=release.label))
        return Response(resources.validate_parameters(result=True, display=item.name, version=release.label))


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_conceptmap_translate",
        summary="FHIR ConceptMap/$translate: a code to the code(s) in force on date (retired → successors)",
        parameters=[
            OpenApiParameter(
                "url", {"type": "string", "enum": [resources.successor_map_url()]}, description="the successor ConceptMap canonical"
            ),
            _system_parameter("system", required=True),
            OpenApiParameter("code", _TEXT, required=True),
            OpenApiParameter("date", OpenApiTypes.DATE, description="default today (Asia/Shanghai)"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=_FHIR_TAGS,
    )
)
class TranslateView(FhirView):
    def get(self, request: Request) -> Response:
        url = _param(request, "url")
        if url and url != resources.successor_map_url():
            raise NotFound(f"no ConceptMap {url} on this server; use {resources.successor_map_url()}", code="concept_map_unknown")
        _required(request, "system")
        _check_system(request, "system")
        code = normalise_code(_required(request, "code"))
        on_date = _date(request) or timezone.localdate()
        found = item_lookup(code=code, on_date=on_date)
        release = published_timeline().in_force(on_date)
        if found is None:
            return Response(resources.translate_parameters(matches=[], release=release, message=f"code {code} is unknown up to {on_date}"))
        if found["status"] == "active":
            item = found["item"]
            equivalence = "equivalent" if found.get("former_code") else "equal"
            return Response(resources.translate_parameters(matches=[(equivalence, item.code, item.name)], release=found["release"]))
        successors = found["successors"]
        names = dict(CatalogItem.objects.filter(release_id=found["release"].pk, code__in=successors).values_list("code", "name"))
        equivalence = "equivalent" if len(successors) == 1 else "narrower"  # a code split into several: each is narrower
        matches = [(equivalence, s, names.get(s, "")) for s in successors]
        retired_in = found.get("retired_in")
        message = "" if matches else f"code {code} was retired{f' in {retired_in.label}' if retired_in else ''} without successor"
        return Response(resources.translate_parameters(matches=matches, release=found["release"], message=message))
