"""Reads on benefits: the policy in force, lapsing local items, the ICD-10 reference, DRG terms,
service prices and listable diseases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import F, Q, QuerySet
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ValidationFailed
from apps.core.money import apply_ratio
from apps.core.permissions import bound_province, has_role
from apps.core.roles import Role

from .models import BenefitPolicy, DiagnosisCode, Disease, DrgAreaRate, DrgGroup, DrgVersion, LocalItem, Province, ServicePrice

# Ranks for "restricted to hospitals of level X and above" (catalog restriction_hospital_level).
LEVEL_RANK = {"3A": 8, "3B": 7, "3C": 6, "2A": 5, "2B": 4, "2C": 3, "1": 2, "unrated": 1, "": 0}


def level_meets(*, hospital_level: str, required: str) -> bool:
    """True when a hospital of ``hospital_level`` may use an item restricted to ``required`` and above."""
    if not required:
        return True
    return LEVEL_RANK.get(hospital_level, 0) >= LEVEL_RANK.get(required, 99)


def _approved_in_force(*, province_code: str, scheme: str, setting: str, on_date: dt.date) -> QuerySet[BenefitPolicy]:
    """Approved policies of the key whose effective range holds ``on_date``."""
    return BenefitPolicy.objects.filter(
        province__code=province_code,
        scheme=scheme,
        setting=setting,
        status=BenefitPolicy.Status.APPROVED,
        effective_from__lte=on_date,
    ).filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on_date))


def policies_in_force_queryset(*, province_code: str, scheme: str, setting: str, on_date: dt.date) -> QuerySet[BenefitPolicy]:
    """Every approved policy of the key in force on ``on_date``, all hospital levels (the
    pre-check compiles it into its one statement and picks the level's own, else the blank one,
    as :func:`policy_in_force` does)."""
    return _approved_in_force(province_code=province_code, scheme=scheme, setting=setting, on_date=on_date)


def policies_in_force(*, province_code: str, scheme: str, setting: str, on_date: dt.date) -> list[BenefitPolicy]:
    """Every approved policy of the key in force on ``on_date`` (all hospital levels), one query."""
    return list(_approved_in_force(province_code=province_code, scheme=scheme, setting=setting, on_date=on_date).select_related("province"))


def policy_in_force_queryset(
    *, province_code: str, scheme: str, setting: str, hospital_level: str, on_date: dt.date
) -> QuerySet[BenefitPolicy]:
    """The candidates of policy_in_force, the level's own policy first (take the first): the
    pre-check compiles it as a sub-query of its one statement."""
    levels = [hospital_level, ""] if hospital_level else [""]
    return (
        _approved_in_force(province_code=province_code, scheme=scheme, setting=setting, on_date=on_date)
        .filter(hospital_level__in=levels)
        .order_by(F("hospital_level").desc())  # the level's own policy sorts before the blank one
    )


def policy_in_force(*, province_code: str, scheme: str, setting: str, hospital_level: str, on_date: dt.date) -> BenefitPolicy | None:
    """The approved policy for that hospital level on ``on_date``, else the all-levels one, else None."""
    candidates = policy_in_force_queryset(
        province_code=province_code, scheme=scheme, setting=setting, hospital_level=hospital_level, on_date=on_date
    )
    return candidates.select_related("province").first()


def overlapping_approved(*, policy: BenefitPolicy) -> QuerySet[BenefitPolicy]:
    """Approved policies of the same key whose date range meets ``policy``'s."""
    qs = BenefitPolicy.objects.filter(
        province_id=policy.province_id,
        scheme=policy.scheme,
        setting=policy.setting,
        hospital_level=policy.hospital_level,
        status=BenefitPolicy.Status.APPROVED,
    ).exclude(pk=policy.pk)
    qs = qs.filter(Q(effective_to__isnull=True) | Q(effective_to__gt=policy.effective_from))
    if policy.effective_to is not None:
        qs = qs.filter(effective_from__lt=policy.effective_to)
    return qs.order_by("effective_from")


def local_items_lapsing(*, today: dt.date, days: int = 90, province_code: str = "") -> QuerySet[LocalItem]:
    """Local items whose sunset falls in [today, today + days), soonest first."""
    qs = LocalItem.objects.filter(sunset_date__gte=today, sunset_date__lt=today + dt.timedelta(days=days)).select_related("province")
    if province_code:
        qs = qs.filter(province__code=province_code)
    return qs.order_by("province__code", "sunset_date", "code")


def local_items_in_force(*, province_code: str, on_date: dt.date) -> QuerySet[LocalItem]:
    """The province's transitional local items covered on ``on_date`` (effective_from <= date <
    sunset_date), by code."""
    return (
        LocalItem.objects.filter(province__code=province_code, effective_from__lte=on_date, sunset_date__gt=on_date)
        .select_related("province")
        .order_by("code")
    )


def unknown_diagnoses(*, codes: Iterable[str]) -> set[str]:
    """Which of ``codes`` (normalised) are not in the ICD-10 reference, one query."""
    wanted = set(codes)
    if not wanted:
        return set()
    known = set(DiagnosisCode.objects.filter(code__in=wanted).values_list("code", flat=True))
    return wanted - known


def pooling_area_of(*, institution_code: str) -> str:
    """The city-level pooling area of an institution: its code carries the region (H + 2 digits
    of province + 4 more, DOMAIN.md), and the pooling area is that region's city (….00)."""
    return f"{institution_code[1:5]}00" if len(institution_code) == 12 else ""


def drg_published() -> QuerySet[DrgVersion]:
    return DrgVersion.objects.filter(status=DrgVersion.Status.PUBLISHED)


def drg_version_in_force_queryset(*, on_date: dt.date) -> QuerySet[DrgVersion]:
    """The published DRG table with the latest effective_from on or before ``on_date`` (take the
    first): the pre-check compiles it into its statement, :func:`drg_terms` runs it."""
    return drg_published().filter(effective_from__lte=on_date).order_by("-effective_from")


@dataclass(frozen=True)
class DrgTerms:
    """How one pooling area pays one DRG on one day: ``hospital_payment_fen`` = weight × base rate,
    rounded half-up to a fen (apps.core.money.apply_ratio)."""

    version: str
    area_code: str
    group: str
    name: str
    weight: Decimal
    base_rate_fen: int

    @property
    def hospital_payment_fen(self) -> int:
        return apply_ratio(self.base_rate_fen, self.weight)


def drg_terms(*, on_date: dt.date, area_code: str, group: str) -> DrgTerms | None:
    """DRG payment terms for an out-of-town inpatient claim of ``group`` treated in ``area_code``
    on ``on_date``, or None when that area does not pay such claims by DRG then (no table in
    force, no rate for the area, its DRG date still ahead) or the group is not in the table.
    For reconciliation of a few claims; set-based callers use ``sql.drg_hospital_payment_fen``."""
    version = drg_version_in_force_queryset(on_date=on_date).first()
    if version is None:
        return None
    rate = DrgAreaRate.objects.filter(version=version, area_code=area_code, out_of_town_from__lte=on_date).first()
    found = DrgGroup.objects.filter(version=version, code=group).first()
    if rate is None or found is None:
        return None
    return DrgTerms(version.label, area_code, found.code, found.name, found.weight, rate.base_rate_fen)


def service_prices(*, province_codes: Iterable[str], codes: Iterable[str], on_date: dt.date) -> dict[tuple[str, str], int]:
    """{(province code, service code): price in fen} in force on ``on_date``, one query."""
    rows = (
        ServicePrice.objects.filter(province__code__in=list(province_codes), code__in=list(codes), effective_from__lte=on_date)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on_date))
        .values_list("province__code", "code", "price_fen")
    )
    return {(province, code): price for province, code, price in rows}


def diseases_listable(*, province: Province) -> QuerySet[Disease]:
    """Diseases a policy of ``province`` may list: the national ones and the province's own."""
    return Disease.objects.filter(Q(province__isnull=True) | Q(province=province)).order_by("province__code", "code")


# Hospitals live in a higher app; benefits never imports it. The hospitals app may register a
# resolver (code -> level); without one, the registry model is looked up by app label.
_hospital_level_resolver: Callable[[str], str | None] | None = None


def register_hospital_level_resolver(resolver: Callable[[str], str | None]) -> None:
    global _hospital_level_resolver
    _hospital_level_resolver = resolver


def registered_level_queryset(*, institution_code: str) -> QuerySet[Any] | None:
    """The registry's level of one hospital as a one-column queryset (the pre-check compiles it
    into its statement), or None when no hospital registry is installed. Benefits never imports
    the hospitals app: the model is looked up by app label, as :func:`hospital_level` does."""
    try:
        model = apps.get_model("hospitals", "Hospital")
    except LookupError:
        return None
    return model._default_manager.filter(code=institution_code).order_by().values("level")[:1]


def hospital_level(*, institution_code: str) -> str | None:
    """The registered level of a hospital, or None when the hospital is not registered."""
    if _hospital_level_resolver is not None:
        return _hospital_level_resolver(institution_code)
    try:
        model = apps.get_model("hospitals", "Hospital")
    except LookupError:
        return None
    level = model._default_manager.filter(code=institution_code).values_list("level", flat=True).first()
    return str(level) if level is not None else None


def province_by_code(code: str) -> Province:
    """The province with GB/T 2260 ``code``; ValidationFailed ``unknown_province`` otherwise."""
    province = Province.objects.filter(code=code).first()
    if province is None:
        raise ValidationFailed(
            format_lazy(_("unknown province {code}"), code=code),
            code="unknown_province",
            errors=[{"field": "province", "code": "unknown_province", "message": code}],
        )
    return province


def policies_visible_to(*, user: Any) -> QuerySet[BenefitPolicy]:
    """Policies a staff user reads: her own province's when she is bound to one, else every
    province's; nobody else's (hospitals, plain users)."""
    policies = BenefitPolicy.objects.select_related("province", "created_by", "submitted_by", "approved_by")
    if not has_role(user, *Role.values):
        return policies.none()
    province = bound_province(user)
    return policies.filter(province__code=province) if province else policies
