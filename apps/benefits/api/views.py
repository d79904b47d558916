"""Claim pre-check (hospitals and staff) and the at-home vs away simulation (staff). Thin."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.benefits import services
from apps.benefits.adjudication import Claim, ClaimLine, adjudicate
from apps.benefits.models import BenefitPolicy
from apps.benefits.selectors import policies_visible_to, pooling_area_of, province_by_code
from apps.benefits.simulation import SimulatedLine, simulate
from apps.core.api.pagination import IdCursorPagination
from apps.core.api.permissions import IsHospitalOrStaff, IsStaffMember
from apps.core.errors import Forbidden, ValidationFailed
from apps.core.principals import is_hospital

from .serializers import (
    PolicyCreateSerializer,
    PolicySerializer,
    PrecheckRequestSerializer,
    PrecheckResponseSerializer,
    SimulationRequestSerializer,
    SimulationResponseSerializer,
)


def _claim(data: dict[str, Any], *, destination: str, hospital: str, level: str, area: str = "") -> Claim:
    return Claim(
        home_province=data["home_province"],
        destination_province=destination,
        hospital_code=hospital,
        hospital_level=level,
        date_of_service=data["date_of_service"],
        scheme=data["scheme"],
        setting=data["setting"],
        registered=data["registered"],
        diagnoses=tuple(data["diagnoses"]),
        procedures=tuple(data["procedures"]),
        deductible_used_fen=data["deductible_used_fen"],
        fund_paid_ytd_fen=data["fund_paid_ytd_fen"],
        drg_group=data["drg_group"],
        drg_payment=data["drg_payment"],
        pooling_area=area,
        lines=tuple(
            ClaimLine(line_no=ln["line_no"], code=ln["code"], amount_fen=ln["amount_fen"], quantity=ln["quantity"], days=ln["days"])
            for ln in data["lines"]
        ),
    )


class PrecheckView(APIView):
    """Decide each line: destination catalog on the date of service, home-province benefits."""

    permission_classes = [IsHospitalOrStaff]

    @extend_schema(request=PrecheckRequestSerializer, responses={200: PrecheckResponseSerializer}, summary="Pre-check claim lines")
    def post(self, request: Request) -> Response:
        payload = PrecheckRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user = request.user
        hospital = data.get("hospital", "")
        area = data.get("pooling_area", "")
        if is_hospital(user):
            own = user.institution_code  # type: ignore[union-attr]
            if hospital and hospital != own:
                raise Forbidden(f"hospital {own} can pre-check only its own claims, not {hospital}")
            if area and area != pooling_area_of(institution_code=own):
                # The area decides DRG payment: a hospital pre-checks where it is, nowhere else.
                raise Forbidden(f"hospital {own} is in pooling area {pooling_area_of(institution_code=own)}, not {area}")
            hospital, destination = own, user.province_code  # type: ignore[union-attr]
        else:
            if not hospital and not data.get("destination_province"):
                message = "name the hospital or the destination province"
                raise ValidationFailed(message, errors=[{"field": "hospital", "code": "required", "message": message}])
            destination = data.get("destination_province") or f"{hospital[1:3]}0000"
        # The registry's level of the hospital wins over this one (read in the claim's statement).
        level = data.get("hospital_level") or "unrated"
        result = adjudicate(_claim(data, destination=destination, hospital=hospital, level=level, area=area))
        return Response({"hospital": hospital, **result.as_dict()})


class SimulationView(APIView):
    """Policy staff: the same claim treated at home and in the destination, side by side, each
    side priced by its province's service price schedule where it has one."""

    permission_classes = [IsStaffMember]

    @extend_schema(request=SimulationRequestSerializer, responses={200: SimulationResponseSerializer}, summary="Simulate at home vs away")
    def post(self, request: Request) -> Response:
        payload = SimulationRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        level = data.get("hospital_level") or "unrated"
        lines = [
            SimulatedLine(line_no=ln["line_no"], code=ln["code"], quantity=ln["quantity"], amount_fen=ln["amount_fen"], days=ln["days"])
            for ln in data["lines"]
        ]
        base = _claim({**data, "lines": []}, destination=data["home_province"], hospital="", level=level)
        return Response(simulate(claim=base, lines=lines, destination_province=data["destination_province"]).as_dict())


class PolicyListCreateView(generics.ListAPIView[BenefitPolicy]):
    """Benefit policies: a province-bound user lists and drafts her own province's only."""

    permission_classes = [IsStaffMember]
    serializer_class = PolicySerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("province", str, description="province code"),
            OpenApiParameter("status", str, description="draft | submitted | approved"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        policies = policies_visible_to(user=self.request.user)
        for param, lookup in (("province", "province__code"), ("status", "status")):
            value = self.request.query_params.get(param)
            if value:
                policies = policies.filter(**{lookup: value})
        return policies

    @extend_schema(request=PolicyCreateSerializer, responses={201: PolicySerializer}, summary="Draft a benefit policy")
    def post(self, request: Request) -> Response:
        payload = PolicyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields = dict(payload.validated_data)
        province = province_by_code(fields.pop("province"))
        policy = services.policy_create_draft(user=request.user, province=province, **fields)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class _PolicyStepView(APIView):
    permission_classes = [IsStaffMember]

    def act(self, request: Request, policy: BenefitPolicy) -> BenefitPolicy:
        raise NotImplementedError

    @extend_schema(request=None, responses={200: PolicySerializer})
    def post(self, request: Request, pk: int) -> Response:
        # Other provinces' policies are not hidden here: the service answers 403 wrong_province.
        policy = self.act(request, get_object_or_404(BenefitPolicy, pk=pk))
        return Response(PolicySerializer(policy).data)


class PolicySubmitView(_PolicyStepView):
    def act(self, request: Request, policy: BenefitPolicy) -> BenefitPolicy:
        return services.policy_submit(policy=policy, user=request.user)


class PolicyApproveView(_PolicyStepView):
    def act(self, request: Request, policy: BenefitPolicy) -> BenefitPolicy:
        return services.policy_approve(policy=policy, user=request.user)
