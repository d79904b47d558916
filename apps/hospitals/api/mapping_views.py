"""The calling hospital's code mapping (对码): upload the whole set (a job) and list it with each
mapping's status against the release in force. Only ever the caller's own mappings: there is
no id in the path to guess. Thin."""

from __future__ import annotations

import json
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.jobs import JOB_QUEUED, job_queued
from apps.core.api.pagination import CURSOR_PARAMETER, PAGE_SIZE_PARAMETER, page_size_of
from apps.core.api.parsers import JSONParser
from apps.core.api.permissions import IsHospital
from apps.core.errors import DomainError, ValidationFailed
from apps.core.principals import HospitalPrincipal
from apps.hospitals import mapping_selectors, mapping_services

from .catalog_views import AUTH_ERRORS, _date_param, error_response


class RequestTooLarge(DomainError):
    status = 413
    code = "request_too_large"


def max_upload_bytes() -> int:
    return int(getattr(settings, "HOSPITAL_MAPPING_MAX_BYTES", 20 * 1024 * 1024))


class MappingSerializer(serializers.Serializer[Any]):
    local_code = serializers.CharField()
    local_name = serializers.CharField()
    national_code = serializers.CharField()
    status = serializers.ChoiceField(choices=mapping_selectors.STATUSES)
    successors = serializers.ListField(child=serializers.CharField(), help_text="items of the release replacing a retired code")


def _statuses(raw: str) -> list[str] | None:
    if not raw:
        return None
    wanted = [s.strip() for s in raw.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in mapping_selectors.STATUSES]
    if unknown:
        choices = ", ".join(mapping_selectors.STATUSES)
        raise ValidationFailed(
            f"status: one or more (comma-separated) of {choices}",
            errors=[{"field": "status", "code": "invalid_choice", "message": f"{', '.join(unknown)} not one of {choices}"}],
        )
    return wanted


class MappingView(APIView):
    permission_classes = [IsHospital]
    schema_required_body_methods = ("PUT",)  # a CSV file or a JSON list; nothing else is a mapping
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="This hospital's code mappings with their status against the release in force (default today)",
        parameters=[
            OpenApiParameter("status", str, description="ok, retired, not_in_force, unknown; several comma-separated"),
            OpenApiParameter("on", OpenApiTypes.DATE, description="the date whose release in force the mappings are checked against"),
            CURSOR_PARAMETER,
            PAGE_SIZE_PARAMETER,
        ],
        responses={
            200: inline_serializer("MappingPage", {"next": serializers.URLField(allow_null=True), "results": MappingSerializer(many=True)}),
            **AUTH_ERRORS,
        },
        tags=["hospital"],
    )
    def get(self, request: Request) -> Response:
        principal = cast(HospitalPrincipal, request.user)
        cursor = request.query_params.get("cursor", "")
        after = mapping_selectors.decode_after(cursor) if cursor else ""
        if after is None:
            raise ValidationFailed("cursor: not a cursor this endpoint gave out", errors=[{"field": "cursor", "code": "invalid"}])
        page = mapping_selectors.mappings_page(
            hospital_id=principal.hospital_id,
            on_date=_date_param(request, "on") or timezone.localdate(),
            statuses=_statuses(request.query_params.get("status", "")),
            after=after,
            size=page_size_of(request),
        )
        next_url = None
        if page.next_after:
            params = request.query_params.copy()
            params["cursor"] = page.next_after
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response({"next": next_url, "results": MappingSerializer(page.rows, many=True).data})

    @extend_schema(
        summary="Replace this hospital's code mappings: a JSON list (or a CSV file local_code,local_name,national_code as multipart field `file`) → 202 job",
        request={
            # One media type in the schema: openapi-python-client 0.29 generates code that does not
            # import for an operation with two. The CSV upload (multipart field ``file``) works as well.
            "application/json": inline_serializer(
                "MappingRow",
                {"local_code": serializers.CharField(), "local_name": serializers.CharField(), "national_code": serializers.CharField()},
                many=True,
            ),
        },
        responses={202: JOB_QUEUED, 413: error_response(413, "request_too_large", "the upload is larger than allowed"), **AUTH_ERRORS},
        tags=["hospital"],
    )
    def put(self, request: Request) -> Response:
        principal = cast(HospitalPrincipal, request.user)
        limit = max_upload_bytes()
        data = request.data
        if isinstance(data, list):
            content, fmt = json.dumps(data, ensure_ascii=False).encode(), "json"
        elif hasattr(data, "get") and data.get("file") is not None:
            upload = data["file"]
            if upload.size > limit:
                raise RequestTooLarge(f"the file is {upload.size} bytes; at most {limit}")
            content, fmt = upload.read(), "csv"
        else:
            message = "send a CSV file as multipart field 'file', or a JSON list of {local_code, local_name, national_code}"
            raise ValidationFailed(message, errors=[{"field": "file", "code": "required", "message": message}])
        if len(content) > limit:
            raise RequestTooLarge(f"the upload is {len(content)} bytes; at most {limit}")
        job = mapping_services.mappings_enqueue(hospital_id=principal.hospital_id, content=content, fmt=fmt)
        return job_queued(request, job.pk)
