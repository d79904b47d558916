"""Staff endpoints for the release workflow (API.md, "Catalog — staff"). Thin: parse, call, render."""

from __future__ import annotations

from typing import Any

from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog import selectors, services
from apps.catalog.api.search import Q_PARAMETER, search_response, wants_search
from apps.catalog.importers import formats as import_formats
from apps.catalog.importers import services as import_services
from apps.catalog.models import CatalogItem, CatalogRelease
from apps.core.api.jobs import JOB_QUEUED, job_queued
from apps.core.api.pagination import IdCursorPagination
from apps.core.api.permissions import IsStaffMember
from apps.core.errors import NotFound

from .serializers import (
    DiffSerializer,
    ItemSerializer,
    ItemWriteSerializer,
    RejectSerializer,
    ReleaseCreateSerializer,
    ReleaseSerializer,
)


def _release(label: str) -> CatalogRelease:
    return get_object_or_404(CatalogRelease, label=label)


class ReleaseListCreateView(generics.ListAPIView[CatalogRelease]):
    permission_classes = [IsStaffMember]
    serializer_class = ReleaseSerializer
    queryset = CatalogRelease.objects.select_related("based_on", "previous", "created_by", "submitted_by", "approved_by", "published_by")
    pagination_class = IdCursorPagination  # {next, results} as every list (API.md Conventions); newest first

    @extend_schema(request=ReleaseCreateSerializer, responses={201: ReleaseSerializer}, summary="Create a draft release")
    def post(self, request: Request) -> Response:
        payload = ReleaseCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        # The contract: without based_on the draft starts empty (pages default to the release in force).
        release = services.release_create_draft(
            user=request.user, label=data["label"], effective_from=data["effective_from"], based_on=data.get("based_on")
        )
        return Response(ReleaseSerializer(release).data, status=status.HTTP_201_CREATED)


class ReleaseDetailView(generics.RetrieveAPIView[CatalogRelease]):
    permission_classes = [IsStaffMember]
    serializer_class = ReleaseSerializer
    queryset = CatalogRelease.objects.all()
    lookup_field = "label"


class _WorkflowView(APIView):
    permission_classes = [IsStaffMember]
    action_name = ""

    def act(self, request: Request, release: CatalogRelease) -> CatalogRelease:
        raise NotImplementedError

    @extend_schema(request=None, responses={200: ReleaseSerializer})
    def post(self, request: Request, label: str) -> Response:
        release = self.act(request, _release(label))
        return Response(ReleaseSerializer(release).data)


class ReleaseSubmitView(_WorkflowView):
    def act(self, request: Request, release: CatalogRelease) -> CatalogRelease:
        # The contract predates the removal warning: automation submits what it built (the
        # confirmation is recorded in the audit event); the review page asks people.
        return services.release_submit(release=release, user=request.user, confirm_removals=True)


class ReleaseApproveView(_WorkflowView):
    def act(self, request: Request, release: CatalogRelease) -> CatalogRelease:
        return services.release_approve(release=release, user=request.user)


class ReleasePublishView(_WorkflowView):
    def act(self, request: Request, release: CatalogRelease) -> CatalogRelease:
        return services.release_publish(release=release, user=request.user)


class ReleaseRejectView(_WorkflowView):
    @extend_schema(request=RejectSerializer, responses={200: ReleaseSerializer})
    def post(self, request: Request, label: str) -> Response:
        return super().post(request, label)

    def act(self, request: Request, release: CatalogRelease) -> CatalogRelease:
        payload = RejectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return services.release_reject(release=release, user=request.user, reason=payload.validated_data["reason"])


@extend_schema(parameters=[Q_PARAMETER])
class ReleaseItemListView(generics.ListAPIView[CatalogItem]):
    permission_classes = [IsStaffMember]
    serializer_class = ItemSerializer
    queryset = CatalogItem.objects.none()  # the schema's model; get_queryset serves requests

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        if not wants_search(request):
            return super().list(request, *args, **kwargs)
        release = _release(self.kwargs["label"])
        params = request.query_params
        return search_response(
            request, release_id=release.pk, release_label=release.label, kind=params.get("kind", ""), category=params.get("category", "")
        )

    def get_queryset(self):  # type: ignore[no-untyped-def]
        release = _release(self.kwargs["label"])
        items = CatalogItem.objects.filter(release=release).select_related("release")
        for param in ("kind", "category"):
            value = self.request.query_params.get(param)
            if value:
                items = items.filter(**{param: value})
        return items


class ReleaseItemDetailView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses={200: ItemSerializer})
    def get(self, request: Request, label: str, code: str) -> Response:
        item = CatalogItem.objects.filter(release=_release(label), code=code).first()
        if item is None:
            raise NotFound(f"no item {code} in release {label}", code="code_unknown")
        return Response(ItemSerializer(item).data)

    @extend_schema(request=ItemWriteSerializer, responses={200: ItemSerializer})
    def put(self, request: Request, label: str, code: str) -> Response:
        release = _release(label)
        services.ensure_draft(release)
        payload = ItemWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(payload.validated_data)
        data.pop("release", None)
        item = services.item_put(
            release=release, data=data, user=request.user, reason=request.headers.get("X-Change-Reason", ""), code=code
        )
        return Response(ItemSerializer(item).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, label: str, code: str) -> Response:
        services.item_delete(release=_release(label), code=code, user=request.user, reason=request.headers.get("X-Change-Reason", ""))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReleaseDiffView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        parameters=[OpenApiParameter("against", str, description="label of the older release (default: the previous published one)")],
        responses={200: DiffSerializer},
    )
    def get(self, request: Request, label: str) -> Response:
        release = _release(label)
        against_label = request.query_params.get("against")
        old = _release(against_label) if against_label else selectors.release_previous(release=release)
        diff = selectors.catalog_diff(old=old, new=release)
        diff["added"] = ItemSerializer(
            CatalogItem.objects.filter(release=release, code__in=[i["code"] for i in diff["added"]]).select_related("release"), many=True
        ).data
        return Response({"release": release.label, "against": old.label if old else None, **diff})


class ImportRequestSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=list(import_formats.FORMATS))
    mode = serializers.ChoiceField(choices=list(import_services.MODES), default="merge")


class ReleaseImportView(APIView):
    """Queue a bulk import into a draft: 202 with the job to poll at GET /api/v1/jobs/{id}/."""

    permission_classes = [IsStaffMember]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={202: JOB_QUEUED},
        summary="Import a file into a draft release (background job)",
    )
    def post(self, request: Request, label: str) -> Response:
        release = _release(label)
        services.ensure_draft(release)  # 409 release_not_draft before looking at the upload
        payload = ImportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = import_services.import_enqueue(
            release=release,
            upload=payload.validated_data["file"],
            fmt=payload.validated_data["format"],
            mode=payload.validated_data["mode"],
            user=request.user,
        )
        return job_queued(request, job.pk)
