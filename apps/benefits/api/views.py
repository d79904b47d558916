"""Claim pre-check (hospitals and staff) and the at-home vs away simulation (staff). Thin."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.benefits.adjudication import Claim, ClaimLine, adjudicate
from apps.benefits.selectors import pooling_area_of
from apps.benefits.simulation import SimulatedLine, simulate
from apps.core.api.permissions import IsHospitalOrStaff, IsStaffMember
from apps.core.errors import Forbidden, ValidationFailed
from apps.core.principals import is_hospital

from .serializers import (
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
