"""What a hospital system checks its codes against: bulk validation of codes on a date and the
province's transitional local items in force (API.md "Additions → Hospitals"). Thin.

A hospital reads its own province's local items only; province-bound staff likewise; national
staff name the province. Another province is 403 ``wrong_province``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.benefits import code_check
from apps.benefits.models import LocalItem
from apps.benefits.selectors import local_items_in_force, province_by_code
from apps.core.api.fields import documented, province_code_field
from apps.core.api.pagination import CodeCursorPagination
from apps.core.api.permissions import IsHospitalOrStaff
from apps.core.codes import normalise_code
from apps.core.errors import Forbidden, ValidationFailed
from apps.core.permissions import staff_province
from apps.core.principals import is_hospital


def caller_province(request: Request, requested: str) -> str:
    """The province the caller may read: its own (hospital, province-bound staff) or, for
    national staff, the one requested ('' when none). Another province: 403 wrong_province."""
    user: Any = request.user
    own = user.province_code if is_hospital(user) else staff_province(user)
    if requested and own and requested != own:
        raise Forbidden(f"you read province {own}'s data, not {requested}'s", code="wrong_province")
    if requested:
        province_by_code(requested)  # 400 unknown_province
    return requested or own


def _date(raw: str) -> dt.date | None:
    if not raw:
        return None
    try:
        value: dt.date = serializers.DateField().run_validation(raw)
    except serializers.ValidationError:
        raise ValidationFailed("on: expected a date YYYY-MM-DD", errors=[{"field": "on", "code": "invalid", "message": raw}]) from None
    return value


class LocalItemSerializer(serializers.ModelSerializer[LocalItem]):
    """Also the ``local_item`` of a validation result (apps.benefits.code_check.LOCAL_ITEM_JSON)."""

    province = serializers.SlugRelatedField(slug_field="code", read_only=True)
    # Plain text, not the model's choices: a second "category" enum (01/02 only) beside the
    # catalog's would collide in the schema's enum names.
    category = serializers.CharField(read_only=True, help_text="01 甲 or 02 乙")

    class Meta:
        model = LocalItem
        fields = [
            "province",
            "code",
            "name",
            "category",
            "self_pay_ratio",
            "restriction_hospital_level",
            "effective_from",
            "sunset_date",
            "national_code",
        ]
        read_only_fields = fields


@extend_schema(
    summary="Transitional local items of a province in force on a date (default: today; hospitals: their own province)",
    parameters=[
        OpenApiParameter("province", str, description="GB/T 2260 province code (default: the caller's own; national staff must name one)"),
        OpenApiParameter("on", OpenApiTypes.DATE, description="default today (Asia/Shanghai)"),
    ],
    tags=["catalog (hospitals)"],
)
class LocalItemListView(generics.ListAPIView[LocalItem]):
    permission_classes = [IsHospitalOrStaff]
    serializer_class = LocalItemSerializer
    pagination_class = CodeCursorPagination
    filter_backends: list[Any] = []

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return LocalItem.objects.none()
        params = self.request.query_params
        province = caller_province(self.request, params.get("province", ""))
        if not province:
            raise ValidationFailed("province: required", errors=[{"field": "province", "code": "required", "message": "name a province"}])
        return local_items_in_force(province_code=province, on_date=_date(params.get("on", "")) or timezone.localdate())


class CodeListField(serializers.ListField):
    """A list of up to MAX_CODES codes, each normalised as codes are everywhere (NFKC, white
    space removed, upper case). One loop instead of a CharField per entry: DRF's per-child
    validation cost ~5 µs a code, more than looking the code up."""

    def __init__(self, **kwargs: Any) -> None:
        # As the schema says (apart from what NFKC folds to ASCII): visible ASCII, spaces anywhere (removed).
        child = documented(serializers.CharField(max_length=64), pattern="^\\s*[!-~][!-~\\s]*$", maxLength=64)
        super().__init__(child=child, max_length=code_check.MAX_CODES, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            raise serializers.ValidationError("expected a list of codes", code="not_a_list")
        if len(data) > code_check.MAX_CODES:
            raise serializers.ValidationError(f"at most {code_check.MAX_CODES} codes", code="max_length")
        codes, errors = [], []
        for index, raw in enumerate(data):
            code = normalise_code(raw) if isinstance(raw, str) and len(raw) <= 64 else ""
            if not code or not (code.isascii() and code.isprintable()):  # national codes are ASCII once normalised
                errors.append({"field": f"codes.{index}", "code": "code_format", "message": f"{str(raw)[:64]!r} is not a code"})
            codes.append(code)
        if errors:
            raise ValidationFailed(f"{len(errors)} entries of codes are not codes", errors=errors[:1000])
        return codes


class ValidateRequestSerializer(serializers.Serializer[Any]):
    on = serializers.DateField(required=False, help_text="default today (Asia/Shanghai)")
    codes = CodeListField(allow_empty=True)
    province = province_code_field(
        required=False, help_text="whose local items count (default: the caller's own province; hospitals: their own only)"
    )


@extend_schema_field({"$ref": "#/components/schemas/HospitalItem"})
class _CatalogItemField(serializers.DictField):
    """The item as the hospitals' item list shows it (component HospitalItem, of the catalog API)."""


class CodeValidationResultSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "local", "retired", "unknown"])
    item = _CatalogItemField(required=False, help_text="active: the item in force (also for a former code)")
    local_item = LocalItemSerializer(required=False, help_text="local: the province's transitional item")
    successors = serializers.ListField(child=serializers.CharField(), required=False, help_text="retired: the codes replacing it")


@extend_schema(
    summary="Validate up to 10,000 codes on a date: active / local / retired (with successors) / unknown, in input order",
    request=ValidateRequestSerializer,
    responses={
        200: inline_serializer(
            "CodeValidation",
            {
                "release": serializers.CharField(allow_null=True, help_text="label of the release in force that day"),
                "results": CodeValidationResultSerializer(many=True, help_text="in input order"),
            },
        )
    },
    tags=["catalog (hospitals)"],
)
class CodeValidateView(APIView):
    permission_classes = [IsHospitalOrStaff]

    def post(self, request: Request) -> HttpResponse:
        payload = ValidateRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        province = caller_province(request, data.get("province", ""))
        answer = code_check.codes_validate(codes=data["codes"], on_date=data.get("on") or timezone.localdate(), province_code=province)
        # PostgreSQL built the results as JSON text: they are passed through, not parsed and re-rendered.
        body = '{"release":' + json.dumps(answer["release"]) + ',"results":' + answer["results_json"] + "}"
        return HttpResponse(body, content_type="application/json")
