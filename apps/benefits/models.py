"""Provinces, pooling regions, benefit policies, transitional local items, ICD-10 reference."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Province(models.Model):
    class PoolingModel(models.TextChoices):
        ADJUSTMENT_FUND = "adjustment_fund", "调剂金 (provincial adjustment fund)"
        UNIFIED = "unified", "统收统支 (unified collection and expenditure)"

    code = models.CharField(max_length=6, unique=True)
    name = models.CharField(max_length=64)
    name_en = models.CharField(max_length=64, blank=True, default="")
    pooling_model = models.CharField(max_length=32, choices=PoolingModel.choices, default=PoolingModel.ADJUSTMENT_FUND)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PoolingRegion(models.Model):
    """A city-level pooling area (统筹区) of a province."""

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="regions")
    code = models.CharField(max_length=6, unique=True)
    name = models.CharField(max_length=64)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Scheme(models.TextChoices):
    EMPLOYEE = "employee", "职工医保 (employee)"
    RESIDENT = "resident", "居民医保 (resident)"


class CareSetting(models.TextChoices):
    INPATIENT = "inpatient", "住院 (inpatient)"
    OUTPATIENT = "outpatient", "门诊 (outpatient)"
    CHRONIC_OUTPATIENT = "chronic_outpatient", "门诊慢特病 (chronic-disease outpatient)"


def _ratio_in_range(field: str) -> models.Q:
    return models.Q(**{f"{field}__gte": 0}) & models.Q(**{f"{field}__lte": 1})


class BenefitPolicy(models.Model):
    """One province's benefits for one scheme × setting × hospital level over a date range.

    ``hospital_level`` blank means "every level without a policy of its own". Ratios are the
    fund's share (0..1) of the eligible amount after the deductible; 乙 (02) items first take a
    self-pay share (the item's own ratio, else ``default_self_pay_ratio``). Cross-province
    treatment multiplies the ratio by ``cross_province_ratio_registered`` (filed) or
    ``..._unregistered``. Approved policies of one key never overlap in time: an exclusion
    constraint (PostgreSQL, migration 0004) enforces it; drafts may overlap while being edited.

    Workflow: draft → submitted → approved (or back to draft). Whoever drafted, edited or
    submitted it is a ``PolicyParticipant`` and never approves it (a trigger, migration 0006).
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        APPROVED = "approved"

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="policies")
    scheme = models.CharField(max_length=16, choices=Scheme.choices)
    setting = models.CharField(max_length=24, choices=CareSetting.choices)
    hospital_level = models.CharField(max_length=8, blank=True, default="", help_text="Blank: any level without its own policy.")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Exclusive; empty = open-ended.")
    deductible_fen = models.BigIntegerField(default=0)
    ratio_category_a = models.DecimalField(max_digits=5, decimal_places=4, help_text="Fund share for 甲 (01) items.")
    ratio_category_b = models.DecimalField(
        max_digits=5, decimal_places=4, help_text="Fund share for 乙 (02) items after the self-pay share."
    )
    default_self_pay_ratio = models.DecimalField(
        max_digits=5, decimal_places=4, default=0, help_text="乙 self-pay share when the item names none."
    )
    annual_cap_fen = models.BigIntegerField(help_text="Most the fund pays per insured person and year.")
    cross_province_ratio_registered = models.DecimalField(max_digits=5, decimal_places=4, default=1)
    cross_province_ratio_unregistered = models.DecimalField(max_digits=5, decimal_places=4, default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    note = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "benefit policies"
        ordering = ["province__code", "scheme", "setting", "hospital_level", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                name="policy_approver_is_not_creator",
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("created_by")),
            ),
            models.CheckConstraint(
                name="policy_approved_has_approver",
                condition=~models.Q(status="approved") | models.Q(approved_by__isnull=False),
            ),
            models.CheckConstraint(
                name="policy_range_not_empty",
                condition=models.Q(effective_to__isnull=True) | models.Q(effective_to__gt=models.F("effective_from")),
            ),
            models.CheckConstraint(
                name="policy_money_not_negative", condition=models.Q(deductible_fen__gte=0) & models.Q(annual_cap_fen__gte=0)
            ),
            models.CheckConstraint(
                name="policy_ratios_in_range",
                condition=_ratio_in_range("ratio_category_a")
                & _ratio_in_range("ratio_category_b")
                & _ratio_in_range("default_self_pay_ratio")
                & _ratio_in_range("cross_province_ratio_registered")
                & _ratio_in_range("cross_province_ratio_unregistered"),
            ),
            models.CheckConstraint(name="policy_status_valid", condition=models.Q(status__in=["draft", "submitted", "approved"])),
            models.CheckConstraint(name="policy_scheme_valid", condition=models.Q(scheme__in=Scheme.values)),
            models.CheckConstraint(name="policy_setting_valid", condition=models.Q(setting__in=CareSetting.values)),
        ]
        indexes = [models.Index(fields=["province", "scheme", "setting", "status", "effective_from"], name="policy_lookup_idx")]

    def __str__(self) -> str:
        level = self.hospital_level or "all levels"
        return f"{self.province.code} {self.scheme}/{self.setting}/{level} from {self.effective_from} ({self.status})"


class PolicyParticipant(models.Model):
    """Someone who shaped a policy: drafted it, edited the draft or submitted it; none of them
    approves it. Append-only in PostgreSQL, gone only with its policy (migration 0006)."""

    class Part(models.TextChoices):
        DRAFTED = "drafted"
        EDITED = "edited"
        SUBMITTED = "submitted"

    # The foreign key is declared by migration 0006 with ON DELETE CASCADE.
    policy = models.ForeignKey(BenefitPolicy, on_delete=models.DO_NOTHING, db_constraint=False, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=Part.choices)
    at = models.DateTimeField(default=timezone.now, help_text="The first time this user took this part.")

    class Meta:
        ordering = ["policy", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "user", "role"], name="policy_participant_once_per_part"),
            models.CheckConstraint(name="policy_participant_part_valid", condition=models.Q(role__in=["drafted", "edited", "submitted"])),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} policy {self.policy_id}"


class LocalItem(models.Model):
    """A transitional item a province still covers outside the national catalog.

    ``sunset_date`` is mandatory and exclusive: on that day the item is no longer covered.
    ``national_code`` names the national item that replaces it, when there is one.
    """

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="local_items")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=255)
    category = models.CharField(max_length=2, choices=[("01", "甲"), ("02", "乙")], default="02")
    self_pay_ratio = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    restriction_hospital_level = models.CharField(max_length=8, blank=True, default="")
    effective_from = models.DateField()
    sunset_date = models.DateField(help_text="Exclusive: not covered from this day on.")
    national_code = models.CharField(max_length=32, blank=True, default="", help_text="National code that replaces it, if any.")
    note = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["province__code", "sunset_date", "code"]
        constraints = [
            models.UniqueConstraint(fields=["province", "code"], name="local_item_code_unique_per_province"),
            models.CheckConstraint(name="local_item_sunset_after_start", condition=models.Q(sunset_date__gt=models.F("effective_from"))),
            models.CheckConstraint(name="local_item_category_covered", condition=models.Q(category__in=["01", "02"])),
            models.CheckConstraint(
                name="local_item_self_pay_ratio_range",
                condition=models.Q(self_pay_ratio__isnull=True) | _ratio_in_range("self_pay_ratio"),
            ),
        ]
        indexes = [models.Index(fields=["sunset_date"], name="local_item_sunset_idx")]

    def __str__(self) -> str:
        return f"{self.province.code} {self.code} {self.name} (until {self.sunset_date})"


class DiagnosisCode(models.Model):
    """ICD-10 NHSA national edition (医保版 2.0) diagnosis codes, reference data for claim checks."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=255)
    edition = models.CharField(max_length=32, blank=True, default="")
    chapter_range = models.CharField(max_length=16, blank=True, default="")
    chapter = models.CharField(max_length=255, blank=True, default="")
    section_range = models.CharField(max_length=16, blank=True, default="")
    section = models.CharField(max_length=255, blank=True, default="")
    category_code = models.CharField(max_length=16, blank=True, default="")
    category_name = models.CharField(max_length=255, blank=True, default="")
    subcategory_code = models.CharField(max_length=16, blank=True, default="")
    subcategory_name = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
