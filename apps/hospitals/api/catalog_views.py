"""Catalog endpoints for hospitals (and staff): API.md "Catalog — hospitals". Thin: parse, call a
selector, render. Drafts do not exist here: every release is looked up among published ones.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, ClassVar

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from apps.catalog.api.search import Q_PARAMETER, search_response, wants_search
from apps.catalog.models import CANONICAL_COLUMNS, CatalogItem, ItemKind, PaymentCategory
from apps.core.api.pagination import CodeCursorPagination
from apps.core.api.permissions import IsHospitalOrStaff
from apps.core.api.replica import ReplicaReadsMixin
from apps.core.api.schema import error_response
from apps.core.codes import normalise_code
from apps.core.errors import NotFound, ValidationFailed
from apps.hospitals import selectors

# ---------------------------------------------------------------------------------------------
# Serializers (documentation shapes and renderers)
# ---------------------------------------------------------------------------------------------


AUTH_ERRORS = {
    401: error_response(401, "not_authenticated", "unknown API key"),
    403: error_response(403, "permission_denied", "hospital API key or staff login required"),
    429: error_response(429, "throttled", "Request was throttled. Expected available in 12 seconds."),
}
RELEASE_UNKNOWN = error_response(404, "release_unknown", "no published release 2099.01")


class ExportFileSerializer(serializers.Serializer[Any]):
    url = serializers.URLField()
    sha256 = serializers.CharField(help_text="SHA-256 of the file as served (compressed)")
    bytes = serializers.IntegerField()


class ExportsSerializer(serializers.Serializer[Any]):
    csv_gz = ExportFileSerializer()
    jsonl_gz = ExportFileSerializer()


class CountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    by_kind = serializers.DictField(child=serializers.IntegerField(), help_text="{drug, tcm_piece, service, consumable}")


class LocalItemsLinkSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(help_text="GET /api/v1/catalog/local-items/?on=<effective_from> (province: the caller's own)")


class ManifestSerializer(serializers.Serializer[Any]):
    """Built from a selector record (a dict) or a CatalogRelease."""

    label = serializers.CharField()  # type: ignore[assignment]
    effective_from = serializers.DateField()
    published_at = serializers.DateTimeField()
    previous = serializers.CharField(allow_null=True, help_text="label of the release the stored diff is against")
    counts = CountsSerializer()
    diff_counts = serializers.DictField(child=serializers.IntegerField(), help_text="{added, removed, changed, retired}")
    sha256 = serializers.CharField(help_text="SHA-256 of the uncompressed canonical CSV")
    exports = ExportsSerializer()
    local_items = LocalItemsLinkSerializer(
        help_text="the caller's province's transitional local items in force when the release takes effect"
    )
    url = serializers.URLField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        request = self.context["request"]
        record = instance if isinstance(instance, dict) else _record_of(instance)
        label = record["label"]
        published_at = record["published_at"]
        exports: dict[str, Any] = {}
        for fmt, name in (("csv_gz", "export-csv"), ("jsonl_gz", "export-jsonl")):
            stored = record["exports"].get(fmt) or {}
            exports[fmt] = {
                "url": reverse(f"hospital-catalog-{name}", kwargs={"label": label}, request=request),
                "sha256": stored.get("sha256", ""),
                "bytes": stored.get("bytes", 0),
            }
        return {
            "label": label,
            "effective_from": record["effective_from"].isoformat(),
            "published_at": timezone.localtime(published_at).isoformat() if published_at else None,
            "previous": record["previous__label"],
            "counts": record["counts"],
            "diff_counts": record["diff_counts"],
            "sha256": record["sha256"],
            "exports": exports,
            # Local items change apart from releases (each province keeps its own), so the
            # manifest links the feed as of the release's first day rather than copying it.
            "local_items": {"url": f"{reverse('catalog-local-items', request=request)}?on={record['effective_from'].isoformat()}"},
            "url": reverse("hospital-catalog-release", kwargs={"label": label}, request=request),
        }


def _record_of(release: Any) -> dict[str, Any]:
    return {
        "label": release.label,
        "effective_from": release.effective_from,
        "published_at": release.published_at,
        "previous__label": release.previous.label if release.previous_id else None,
        "counts": release.counts,
        "diff_counts": release.diff_counts,
        "sha256": release.sha256,
        "exports": release.exports,
    }


class HospitalItemSerializer(serializers.ModelSerializer[CatalogItem]):
    release = serializers.SerializerMethodField(help_text="label of the release the item was read from")

    _field_prototypes: ClassVar[dict[type, dict[str, Any]]] = {}

    class Meta:
        model = CatalogItem
        fields = [*CANONICAL_COLUMNS, "release"]
        read_only_fields = fields

    def get_fields(self) -> dict[str, Any]:
        """The fields are built from the model once per class and copied for each instance:
        introspecting the model per serializer was ~40% of rendering one look-up."""
        prototypes = self._field_prototypes.get(type(self))
        if prototypes is None:
            prototypes = self._field_prototypes[type(self)] = super().get_fields()
        return copy.deepcopy(prototypes)

    def get_release(self, obj: CatalogItem) -> str:
        return str(self.context["release_label"])


class LookupActiveSerializer(HospitalItemSerializer):
    status = serializers.ChoiceField(choices=["active"], help_text="active")
    former_code = serializers.CharField(required=False, help_text="the code asked for, when it is a former code of this item")

    class Meta(HospitalItemSerializer.Meta):
        fields = ["status", *HospitalItemSerializer.Meta.fields, "former_code"]
        read_only_fields = fields


class LookupRetiredSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=["retired"], help_text="retired")
    retired_in = serializers.CharField(allow_null=True, help_text="label of the first release without the code")
    successors = serializers.ListField(child=serializers.CharField())


class HospitalDiffSerializer(serializers.Serializer[Any]):
    release = serializers.CharField()
    since = serializers.CharField(allow_null=True)
    added = HospitalItemSerializer(many=True)
    removed = serializers.ListField(child=serializers.CharField())
    changed = serializers.ListField(child=serializers.DictField(), help_text="[{code, fields: {name: [old, new]}}]")
    retired = serializers.ListField(child=serializers.DictField(), help_text="[{code, successors}]")
    counts = serializers.DictField(child=serializers.IntegerField())


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _published(label: str) -> dict[str, Any]:
    record = selectors.release_manifest_record(label=label)
    if record is None:
        raise _release_unknown(label)
    return record


def _published_ref(label: str) -> selectors.PublishedRef:
    """What never changes about a published release, from process memory after the first time."""
    ref = selectors.published_ref(label=label)
    if ref is None:
        raise _release_unknown(label)
    return ref


def _release_unknown(label: str) -> NotFound:
    return NotFound(f"no published release {label}", code="release_unknown")


def _date_param(request: Request, name: str) -> dt.date | None:
    """The date a query parameter names; None when it is absent. Sent empty it is refused (400
    ``blank``), as the audit log's filters are: the schema calls it a date, and ``?on=`` read as
    "today" would answer a question the client did not ask."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw == "":
        raise ValidationFailed(f"{name}: may not be blank", errors=[{"field": name, "code": "blank", "message": "may not be blank"}])
    field = serializers.DateField(input_formats=["iso-8601"])
    try:
        value: dt.date = field.run_validation(raw)
    except serializers.ValidationError as exc:
        raise ValidationFailed(
            f"{name}: expected a date YYYY-MM-DD", errors=[{"field": name, "code": "invalid", "message": " ".join(map(str, exc.detail))}]
        ) from exc
    return value


def _choice_param(request: Request, name: str, choices: list[str], *aliases: str) -> str:
    value = ""
    for key in (name, *aliases):
        value = request.query_params.get(key, "") or value
    if value and value not in choices:
        raise ValidationFailed(
            f"{name}: one of {', '.join(choices)}",
            errors=[{"field": name, "code": "invalid_choice", "message": f"{value!r} is not one of {', '.join(choices)}"}],
        )
    return value


def _matches(request: Request, etag: str) -> bool:
    """If-None-Match handling (RFC 9110: weak comparison, lists, ``*``)."""
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    candidates = [t.strip() for t in header.split(",")]
    return "*" in candidates or any(t.removeprefix("W/") == etag for t in candidates)


def _not_modified(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


class ReleaseCursorPagination(CodeCursorPagination):
    ordering = "-effective_from"


@extend_schema(
    summary="Published releases (newest first); with in_force_on, the one in force that day",
    parameters=[OpenApiParameter("in_force_on", OpenApiTypes.DATE, description="at most one result: the release in force on this date")],
    responses={200: ManifestSerializer(many=True), 400: error_response(400, "validation_error", "the request is not valid"), **AUTH_ERRORS},
    tags=["catalog (hospitals)"],
)
class PublishedReleaseListView(ReplicaReadsMixin, generics.ListAPIView[Any]):
    permission_classes = [IsHospitalOrStaff]
    serializer_class = ManifestSerializer
    pagination_class = ReleaseCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.published_release_list(in_force_on=_date_param(self.request, "in_force_on"))


@extend_schema(
    summary="Release manifest: counts, SHA-256 and export files; ETag, 304 on If-None-Match",
    parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False, description="ETag of a manifest you hold")],
    responses={
        200: OpenApiResponse(
            ManifestSerializer,
            examples=[
                OpenApiExample(
                    "2026.01",
                    value={
                        "label": "2026.01",
                        "effective_from": "2026-01-01",
                        "published_at": "2025-11-28T10:00:00+08:00",
                        "previous": "2025.01",
                        "counts": {
                            "total": 500000,
                            "by_kind": {"drug": 270000, "tcm_piece": 20000, "service": 10000, "consumable": 200000},
                        },
                        "diff_counts": {"added": 114, "removed": 3, "changed": 210, "retired": 8},
                        "sha256": "9f2c…",
                        "exports": {
                            "csv_gz": {
                                "url": "https://portal.example/api/v1/catalog/releases/2026.01/export.csv.gz",
                                "sha256": "…",
                                "bytes": 21000000,
                            },
                            "jsonl_gz": {
                                "url": "https://portal.example/api/v1/catalog/releases/2026.01/export.jsonl.gz",
                                "sha256": "…",
                                "bytes": 26000000,
                            },
                        },
                        "url": "https://portal.example/api/v1/catalog/releases/2026.01/",
                    },
                )
            ],
        ),
        304: OpenApiResponse(description="not modified (the ETag sent in If-None-Match is current)"),
        404: RELEASE_UNKNOWN,
        **AUTH_ERRORS,
    },
    tags=["catalog (hospitals)"],
)
class ReleaseManifestView(ReplicaReadsMixin, APIView):
    """A published release is immutable, so its ETag never changes; the check costs at most one
    query (none once the manifest is cached)."""

    permission_classes = [IsHospitalOrStaff]

    def get(self, request: Request, label: str) -> HttpResponse:
        if "If-None-Match" in request.headers:
            etag = selectors.release_manifest_etag(label=label)
            if etag is not None and _matches(request, etag):
                return _not_modified(etag)
        record = _published(label)
        response = Response(ManifestSerializer(record, context={"request": request}).data)
        response["ETag"] = record["etag"]
        response["Cache-Control"] = "private, no-cache"
        return response


@extend_schema(
    summary="Items of a published release, keyset-paginated by code",
    parameters=[
        OpenApiParameter("kind", str, enum=ItemKind.values),
        OpenApiParameter("category", str, enum=PaymentCategory.values, description="payment category 01 甲 / 02 乙 / 03 丙"),
        OpenApiParameter("payment_category", str, enum=PaymentCategory.values, description="alias of category"),
        OpenApiParameter("category_path", str, description="prefix of the category path (consumable class path, drug classification)"),
        OpenApiParameter("changed_since", str, description="label of an older published release: only items added or changed since"),
        Q_PARAMETER,
    ],
    responses={
        200: HospitalItemSerializer(many=True),
        400: error_response(400, "validation_error", "kind: one of …"),
        404: RELEASE_UNKNOWN,
        **AUTH_ERRORS,
    },
    tags=["catalog (hospitals)"],
)
class ReleaseItemsView(ReplicaReadsMixin, generics.ListAPIView[CatalogItem]):
    """Each page is one query on (release, code) whatever its size."""

    permission_classes = [IsHospitalOrStaff]
    serializer_class = HospitalItemSerializer
    pagination_class = CodeCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return CatalogItem.objects.none()
        record = _published(self.kwargs["label"])
        self.release_label = record["label"]
        params = self.request
        since_label = params.query_params.get("changed_since", "")
        since = None
        if since_label:
            since = selectors.published_release(label=since_label)
            if since is None:
                raise ValidationFailed(
                    f"changed_since: no published release {since_label}",
                    errors=[{"field": "changed_since", "code": "release_unknown", "message": f"no published release {since_label}"}],
                )
        return selectors.release_items(
            release_id=record["id"],
            kind=_choice_param(params, "kind", ItemKind.values),
            category=_choice_param(params, "category", PaymentCategory.values, "payment_category"),
            category_path=normalise_code(params.query_params.get("category_path", "")),
            changed_since=since,
        )

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "release_label": getattr(self, "release_label", "")}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        if not wants_search(request):
            return super().list(request, *args, **kwargs)
        ref = _published_ref(self.kwargs["label"])
        for other in ("changed_since", "category_path"):
            if request.query_params.get(other):
                raise ValidationFailed(
                    f"q cannot be combined with {other}", errors=[{"field": other, "code": "invalid", "message": "not with q"}]
                )
        return search_response(
            request,
            release_id=ref.id,
            release_label=ref.label,
            kind=_choice_param(request, "kind", ItemKind.values),
            category=_choice_param(request, "category", PaymentCategory.values, "payment_category"),
        )


class GzipRenderer(BaseRenderer):
    """Lets clients send ``Accept: application/gzip``; file bodies bypass rendering."""

    media_type = "application/gzip"
    format = "gz"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return JSONRenderer().render(data)  # only error bodies reach a renderer


class OctetStreamRenderer(GzipRenderer):
    """``Accept: application/octet-stream`` (what generated clients ask for a binary body) gets
    the same gzip file."""

    media_type = "application/octet-stream"
    format = "bin"


class _ExportView(ReplicaReadsMixin, APIView):
    permission_classes = [IsHospitalOrStaff]
    renderer_classes = [JSONRenderer, GzipRenderer, OctetStreamRenderer]
    fmt = ""
    suffix = ""
    content_type = ""

    def get(self, request: Request, label: str) -> HttpResponseBase:
        record = _published(label)
        stored = record["exports"].get(self.fmt)
        if not stored:
            raise NotFound(f"release {label} has no {self.suffix} export", code="export_unavailable")
        etag = f'"{stored["sha256"]}"'
        if _matches(request, etag):
            return _not_modified(etag)
        try:
            handle = default_storage.open(stored["path"], "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"the {self.suffix} file of release {label} is missing", code="export_unavailable") from exc
        response = FileResponse(handle, content_type=self.content_type, as_attachment=True, filename=f"catalog-{label}.{self.suffix}")
        response["Content-Length"] = str(stored["bytes"])
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


def _export_schema(suffix: str, what: str) -> Any:
    return extend_schema(
        summary=f"The release as {what}, built at publish (gzip); ETag = SHA-256 of the file, 304 on If-None-Match",
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False)],
        responses={
            # The file is gzip (Content-Type application/gzip); octet-stream is listed too, as the
            # binary media type generators know (openapi-python-client then returns the bytes).
            (200, "application/gzip"): OpenApiResponse(OpenApiTypes.BINARY, description=f"catalog-<label>.{suffix}"),
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description=f"catalog-<label>.{suffix}"),
            304: OpenApiResponse(description="not modified"),
            404: RELEASE_UNKNOWN,
            **AUTH_ERRORS,
        },
        tags=["catalog (hospitals)"],
    )


@_export_schema("csv.gz", "canonical CSV")
class ExportCsvView(_ExportView):
    fmt, suffix, content_type = "csv_gz", "csv.gz", "application/gzip"


@_export_schema("jsonl.gz", "JSON Lines")
class ExportJsonlView(_ExportView):
    fmt, suffix, content_type = "jsonl_gz", "jsonl.gz", "application/gzip"


@extend_schema(
    summary="What changed from an older published release (default: the previous one) to this one",
    parameters=[OpenApiParameter("since", str, description="label of the release you hold")],
    responses={
        200: HospitalDiffSerializer,
        400: error_response(400, "validation_error", "since: no published release x"),
        404: RELEASE_UNKNOWN,
        **AUTH_ERRORS,
    },
    tags=["catalog (hospitals)"],
)
class ReleaseDiffView(ReplicaReadsMixin, APIView):
    permission_classes = [IsHospitalOrStaff]

    def get(self, request: Request, label: str) -> Response:
        record = _published(label)
        release = selectors.published_release(label=record["label"])
        assert release is not None  # published releases are never deleted (trigger)
        since_label = request.query_params.get("since", "")
        old = selectors.published_release(label=since_label) if since_label else release.previous
        if since_label and old is None:
            raise ValidationFailed(
                f"since: no published release {since_label}",
                errors=[{"field": "since", "code": "release_unknown", "message": f"no published release {since_label}"}],
            )
        diff = selectors.release_diff(old=old, new=release)
        context = {"request": request, "release_label": release.label}
        diff["added"] = HospitalItemSerializer(diff["added"], many=True, context=context).data
        return Response({"release": release.label, "since": old.label if old else None, **diff})


@extend_schema(
    summary="One code as in force on a date (default today): active item, or retired with successors",
    parameters=[OpenApiParameter("on", OpenApiTypes.DATE, description="date of service (default: today, Asia/Shanghai)")],
    responses={
        200: OpenApiResponse(
            # Two shapes, told apart by status (generated clients get a union they can decode).
            PolymorphicProxySerializer(
                component_name="Lookup",
                serializers={"active": LookupActiveSerializer, "retired": LookupRetiredSerializer},
                resource_type_field_name="status",
            ),
            description="active item (also when the code asked for is a former code of it), or "
            '`{code, status: "retired", retired_in, successors}` for a code gone by that date',
            examples=[
                OpenApiExample(
                    "active",
                    value={
                        "status": "active",
                        "code": "XA01ABD075A002010100483",
                        "kind": "drug",
                        "name": "阿莫西林胶囊",
                        "category": "01",
                        "release": "2026.01",
                    },
                ),
                OpenApiExample(
                    "retired",
                    value={
                        "code": "XA01ABD075A002010100483",
                        "status": "retired",
                        "retired_in": "2026.01",
                        "successors": ["XA01ABD075A002010100999"],
                    },
                ),
            ],
        ),
        400: error_response(400, "validation_error", "on: expected a date YYYY-MM-DD"),
        404: error_response(404, "code_unknown", "code X123 is not in any catalog release up to 2026-01-01"),
        **AUTH_ERRORS,
    },
    tags=["catalog (hospitals)"],
)
class ItemLookupView(ReplicaReadsMixin, APIView):
    permission_classes = [IsHospitalOrStaff]

    def get(self, request: Request, code: str) -> Response:
        on_date = _date_param(request, "on") or timezone.localdate()
        normalised = normalise_code(code)
        found = selectors.item_on_date(code=normalised, on_date=on_date) if normalised else None
        if found is None:
            raise NotFound(f"code {normalised or code!r} is not in any catalog release up to {on_date}", code="code_unknown")
        if found["status"] == "retired":
            retired_in = found.get("retired_in")
            return Response(
                {
                    "code": normalised,
                    "status": "retired",
                    "retired_in": retired_in.label if retired_in else None,
                    "successors": found["successors"],
                }
            )
        data = dict(HospitalItemSerializer(found["item"], context={"release_label": found["release"].label}).data)
        body = {"status": "active", **data}
        if found.get("former_code"):
            body["former_code"] = found["former_code"]
        return Response(body)
