"""Provinces, pooling regions, benefit policies, transitional local items, ICD-10 and ICD-9-CM-3
reference, disease lists, daily doses, service price schedules and DRG tables."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from apps.catalog.models import HospitalLevel


class Province(models.Model):
    class PoolingModel(models.TextChoices):
        ADJUSTMENT_FUND = "adjustment_fund", _("调剂金 (provincial adjustment fund)")
        UNIFIED = "unified", _("统收统支 (unified collection and expenditure)")

    code = models.CharField(max_length=6, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=64, verbose_name=_("name"))
    name_en = models.CharField(max_length=64, blank=True, default="", verbose_name=_("name en"))
    pooling_model = models.CharField(
        max_length=32, choices=PoolingModel.choices, default=PoolingModel.ADJUSTMENT_FUND, verbose_name=_("pooling model")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PoolingRegion(models.Model):
    """A city-level pooling area (统筹区) of a province."""

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="regions", verbose_name=_("province"))
    code = models.CharField(max_length=6, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=64, verbose_name=_("name"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("pooling region")
        verbose_name_plural = _("pooling regions")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Scheme(models.TextChoices):
    EMPLOYEE = "employee", _("职工医保 (employee)")
    RESIDENT = "resident", _("居民医保 (resident)")


class CareSetting(models.TextChoices):
    INPATIENT = "inpatient", _("住院 (inpatient)")
    OUTPATIENT = "outpatient", _("门诊 (outpatient)")
    CHRONIC_OUTPATIENT = "chronic_outpatient", _("门诊慢特病 (chronic-disease outpatient)")


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
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="policies", verbose_name=_("province"))
    scheme = models.CharField(max_length=16, choices=Scheme.choices, verbose_name=_("scheme"))
    setting = models.CharField(max_length=24, choices=CareSetting.choices, verbose_name=_("setting"))
    hospital_level = models.CharField(
        max_length=8, blank=True, default="", help_text=_("Blank: any level without its own policy."), verbose_name=_("hospital level")
    )
    effective_from = models.DateField(verbose_name=_("effective from"))
    effective_to = models.DateField(null=True, blank=True, help_text=_("Exclusive; empty = open-ended."), verbose_name=_("effective to"))
    deductible_fen = models.BigIntegerField(default=0, verbose_name=_("deductible fen"))
    ratio_category_a = models.DecimalField(
        max_digits=5, decimal_places=4, help_text=_("Fund share for 甲 (01) items."), verbose_name=_("ratio category a")
    )
    ratio_category_b = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        help_text=_("Fund share for 乙 (02) items after the self-pay share."),
        verbose_name=_("ratio category b"),
    )
    default_self_pay_ratio = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=0,
        help_text=_("乙 self-pay share when the item names none."),
        verbose_name=_("default self pay ratio"),
    )
    annual_cap_fen = models.BigIntegerField(
        help_text=_("Most the fund pays per insured person and year."), verbose_name=_("annual cap fen")
    )
    cross_province_ratio_registered = models.DecimalField(
        max_digits=5, decimal_places=4, default=1, verbose_name=_("cross province ratio registered")
    )
    cross_province_ratio_unregistered = models.DecimalField(
        max_digits=5, decimal_places=4, default=1, verbose_name=_("cross province ratio unregistered")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    note = models.TextField(blank=True, default="", verbose_name=_("note"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("submitted by")
    )
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("submitted at"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("approved by")
    )
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = _("benefit policies")
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
        verbose_name = _("benefit policy")

    def __str__(self) -> str:
        level = (
            str(dict(HospitalLevel.choices).get(self.hospital_level, self.hospital_level)) if self.hospital_level else gettext("all levels")
        )
        return gettext("{province} {scheme}/{setting}/{level} from {date} ({status})").format(
            province=self.province.code,
            scheme=self.get_scheme_display(),
            setting=self.get_setting_display(),
            level=level,
            date=self.effective_from,
            status=self.get_status_display(),
        )


class PolicyParticipant(models.Model):
    """Someone who shaped a policy: drafted it, edited the draft or submitted it; none of them
    approves it. Append-only in PostgreSQL, gone only with its policy (migration 0006)."""

    class Part(models.TextChoices):
        DRAFTED = "drafted", _("Drafted")
        EDITED = "edited", _("Edited")
        SUBMITTED = "submitted", _("Submitted")

    # The foreign key is declared by migration 0006 with ON DELETE CASCADE.
    policy = models.ForeignKey(
        BenefitPolicy, on_delete=models.DO_NOTHING, db_constraint=False, related_name="participants", verbose_name=_("policy")
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user"))
    role = models.CharField(max_length=16, choices=Part.choices, verbose_name=_("role"))
    at = models.DateTimeField(default=timezone.now, help_text=_("The first time this user took this part."), verbose_name=_("at"))

    class Meta:
        ordering = ["policy", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "user", "role"], name="policy_participant_once_per_part"),
            models.CheckConstraint(name="policy_participant_part_valid", condition=models.Q(role__in=["drafted", "edited", "submitted"])),
        ]
        verbose_name = _("policy participant")
        verbose_name_plural = _("policy participants")

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} policy {self.policy_id}"


class LocalItem(models.Model):
    """A transitional item a province still covers outside the national catalog.

    ``sunset_date`` is mandatory and exclusive: on that day the item is no longer covered.
    ``national_code`` names the national item that replaces it, when there is one.
    """

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="local_items", verbose_name=_("province"))
    code = models.CharField(max_length=32, verbose_name=_("code"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    category = models.CharField(max_length=2, choices=[("01", _("甲")), ("02", _("乙"))], default="02", verbose_name=_("category"))
    self_pay_ratio = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True, verbose_name=_("self pay ratio"))
    restriction_hospital_level = models.CharField(max_length=8, blank=True, default="", verbose_name=_("restriction hospital level"))
    effective_from = models.DateField(verbose_name=_("effective from"))
    sunset_date = models.DateField(help_text=_("Exclusive: not covered from this day on."), verbose_name=_("sunset date"))
    national_code = models.CharField(
        max_length=32, blank=True, default="", help_text=_("National code that replaces it, if any."), verbose_name=_("national code")
    )
    note = models.TextField(blank=True, default="", verbose_name=_("note"))
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
        verbose_name = _("local item")
        verbose_name_plural = _("local items")

    def __str__(self) -> str:
        return gettext("{province} {code} {name} (until {date})").format(
            province=self.province.code, code=self.code, name=self.name, date=self.sunset_date
        )


class DiagnosisCode(models.Model):
    """ICD-10 NHSA national edition (医保版 2.0) diagnosis codes, reference data for claim checks."""

    code = models.CharField(max_length=32, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    edition = models.CharField(max_length=32, blank=True, default="", verbose_name=_("edition"))
    chapter_range = models.CharField(max_length=16, blank=True, default="", verbose_name=_("chapter range"))
    chapter = models.CharField(max_length=255, blank=True, default="", verbose_name=_("chapter"))
    section_range = models.CharField(max_length=16, blank=True, default="", verbose_name=_("section range"))
    section = models.CharField(max_length=255, blank=True, default="", verbose_name=_("section"))
    category_code = models.CharField(max_length=16, blank=True, default="", verbose_name=_("category code"))
    category_name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("category name"))
    subcategory_code = models.CharField(max_length=16, blank=True, default="", verbose_name=_("subcategory code"))
    subcategory_name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("subcategory name"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("diagnosis code")
        verbose_name_plural = _("diagnosis codes")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProcedureCode(models.Model):
    """ICD-9-CM-3 NHSA edition (医保版手术操作分类与代码) procedure codes, reference data for claim checks."""

    code = models.CharField(max_length=32, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    edition = models.CharField(max_length=32, blank=True, default="", verbose_name=_("edition"))
    chapter_range = models.CharField(max_length=16, blank=True, default="", verbose_name=_("chapter range"))
    chapter = models.CharField(max_length=255, blank=True, default="", verbose_name=_("chapter"))
    category_code = models.CharField(max_length=16, blank=True, default="", verbose_name=_("category code"))
    category_name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("category name"))
    subcategory_code = models.CharField(max_length=16, blank=True, default="", verbose_name=_("subcategory code"))
    subcategory_name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("subcategory name"))
    detail_code = models.CharField(max_length=16, blank=True, default="", verbose_name=_("detail code"))
    detail_name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("detail name"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("ICD-9-CM-3 procedure code")
        verbose_name_plural = _("ICD-9-CM-3 procedure codes")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


# --- disease lists (门诊慢特病) and critical conditions --------------------------------------


class Disease(models.Model):
    """A listed disease, as ICD-10 code prefixes: a chronic or special outpatient disease
    (门诊慢特病) or a critical condition paid at a differentiated ratio. ``province`` empty:
    the national list (the five conditions settled across provinces come from a data file);
    otherwise one province's own addition. The money terms (deductible, ratio, cap) belong to a
    benefit policy (``PolicyDiseaseTerm``), so two people approve them with the policy."""

    class Kind(models.TextChoices):
        CHRONIC_SPECIAL = "chronic_special", _("chronic or special outpatient disease (门诊慢特病)")
        CRITICAL = "critical", _("critical condition (differentiated payment)")

    province = models.ForeignKey(
        Province, null=True, blank=True, on_delete=models.PROTECT, related_name="diseases", verbose_name=_("province")
    )
    code = models.CharField(max_length=32, verbose_name=_("code"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.CHRONIC_SPECIAL, verbose_name=_("kind"))
    icd10_prefixes = ArrayField(models.CharField(max_length=16), help_text=_("ICD-10 code prefixes, e.g. I10, E11, C34.1."))
    cross_province = models.BooleanField(
        default=False, help_text=_("Settled across provinces nationally (the national five)."), verbose_name=_("cross province")
    )
    source = models.TextField(blank=True, default="", verbose_name=_("source"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["province__code", "code"]
        verbose_name = _("listed disease")
        verbose_name_plural = _("listed diseases")
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=models.Q(province__isnull=True), name="disease_national_code_unique"),
            models.UniqueConstraint(fields=["province", "code"], name="disease_code_unique_per_province"),
            models.CheckConstraint(name="disease_has_prefixes", condition=models.Q(icd10_prefixes__len__gt=0)),
            models.CheckConstraint(name="disease_kind_valid", condition=models.Q(kind__in=["chronic_special", "critical"])),
        ]

    def __str__(self) -> str:
        scope = self.province.code if self.province else gettext("national")
        return f"{scope} {self.name}"


class PolicyDiseaseTerm(models.Model):
    """What a benefit policy pays for one listed disease. On a ``chronic_outpatient`` policy the
    terms ARE the list: a claim without a listed diagnosis is not covered. On other settings a
    term overrides the policy for claims with that diagnosis (differentiated payment). Blank
    fields keep the policy's own value. Terms change only while their policy is a draft (a
    PostgreSQL trigger as well as the service)."""

    policy = models.ForeignKey(BenefitPolicy, on_delete=models.CASCADE, related_name="disease_terms", verbose_name=_("policy"))
    disease = models.ForeignKey(Disease, on_delete=models.PROTECT, related_name="+", verbose_name=_("disease"))
    deductible_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("deductible fen"))
    ratio = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Fund share for 甲 and 乙 items (after the 乙 self-pay share)."),
        verbose_name=_("ratio"),
    )
    annual_cap_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("annual cap fen"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "disease__code"]
        verbose_name = _("policy disease term")
        verbose_name_plural = _("policy disease terms")
        constraints = [
            models.UniqueConstraint(fields=["policy", "disease"], name="policy_disease_term_unique"),
            models.CheckConstraint(
                name="policy_disease_term_money_not_negative",
                condition=(models.Q(deductible_fen__isnull=True) | models.Q(deductible_fen__gte=0))
                & (models.Q(annual_cap_fen__isnull=True) | models.Q(annual_cap_fen__gte=0)),
            ),
            models.CheckConstraint(
                name="policy_disease_term_ratio_range", condition=models.Q(ratio__isnull=True) | _ratio_in_range("ratio")
            ),
        ]

    def __str__(self) -> str:
        return f"policy {self.policy_id}: {self.disease_id}"


# --- daily doses (maximum-days restrictions when a line gives no days) ------------------------


class DailyDose(models.Model):
    """How many units (the item's pricing unit) of a national code make one day's dose: a line
    without ``days`` is checked against the item's maximum days as quantity ÷ units per day.
    Proposed by a catalog administrator, approved by a reviewer who did not propose it; an
    approved dose never changes and is superseded by the next approved one (triggers)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        SUPERSEDED = "superseded", _("Superseded")

    code = models.CharField(max_length=32, verbose_name=_("code"))
    units_per_day = models.DecimalField(max_digits=12, decimal_places=4, verbose_name=_("units per day"))
    note = models.TextField(blank=True, default="", verbose_name=_("note"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED, verbose_name=_("status"))
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by"))
    proposed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("proposed at"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("approved by")
    )
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["code", "-id"]
        verbose_name = _("daily dose")
        verbose_name_plural = _("daily doses")
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=models.Q(status="approved"), name="daily_dose_one_approved_per_code"),
            models.CheckConstraint(name="daily_dose_positive", condition=models.Q(units_per_day__gt=0)),
            models.CheckConstraint(name="daily_dose_status_valid", condition=models.Q(status__in=["proposed", "approved", "superseded"])),
            models.CheckConstraint(
                name="daily_dose_two_people",
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("proposed_by")),
            ),
            models.CheckConstraint(
                name="daily_dose_approved_has_approver",
                condition=models.Q(status="proposed") | models.Q(approved_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return gettext("{code}: {units}/day ({status})").format(code=self.code, units=self.units_per_day, status=self.get_status_display())


# --- provincial price schedules of medical service items -------------------------------------


class ServicePrice(models.Model):
    """A province's price (fen per pricing unit) of a medical service item over a date range
    (``effective_to`` exclusive, empty = open). Prices of one code in one province never overlap
    (a PostgreSQL exclusion constraint). The simulation prices a claim with them at home and at
    the destination; the pre-check decides on the amounts a hospital bills."""

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="service_prices", verbose_name=_("province"))
    code = models.CharField(max_length=32, verbose_name=_("code"))
    price_fen = models.BigIntegerField(verbose_name=_("price fen"))
    effective_from = models.DateField(verbose_name=_("effective from"))
    effective_to = models.DateField(null=True, blank=True, verbose_name=_("effective to"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["province__code", "code", "-effective_from"]
        verbose_name = _("service price")
        verbose_name_plural = _("service prices")
        constraints = [
            models.CheckConstraint(name="service_price_not_negative", condition=models.Q(price_fen__gte=0)),
            models.CheckConstraint(
                name="service_price_range_not_empty",
                condition=models.Q(effective_to__isnull=True) | models.Q(effective_to__gt=models.F("effective_from")),
            ),
        ]
        indexes = [models.Index(fields=["province", "code", "effective_from"], name="service_price_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.province.code} {self.code} {self.price_fen} fen from {self.effective_from}"


# --- DRG: versioned group tables and per-area base rates --------------------------------------


class DrgVersion(models.Model):
    """A DRG table: groups with relative weights and, per pooling area, the base rate and the
    day from which that area pays out-of-town inpatient claims by DRG. Goes draft → in review →
    approved → published like a catalog release (two people: nobody who created, edited or
    submitted it approves it: CHECKs here and ``approved_by_id <> ALL(editor_ids)`` in migration
    0006, where a trigger also keeps ``editor_ids`` append-only); a published table is immutable
    (triggers). The table in force on a date is the published one with the latest
    ``effective_from`` on or before it."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("In Review")
        APPROVED = "approved", _("Approved")
        PUBLISHED = "published", _("Published")

    label = models.CharField(max_length=32, unique=True, verbose_name=_("label"))
    effective_from = models.DateField(verbose_name=_("effective from"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("based on"))
    note = models.TextField(blank=True, default="", verbose_name=_("note"))
    editor_ids = ArrayField(
        models.BigIntegerField(), default=list, blank=True, help_text=_("Everyone who created, edited or submitted it.")
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("submitted by")
    )
    submitted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("submitted at"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("approved by")
    )
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("published by")
    )
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    rejection_reason = models.TextField(blank=True, default="", verbose_name=_("rejection reason"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["-effective_from", "-id"]
        verbose_name = _("DRG table")
        verbose_name_plural = _("DRG tables")
        constraints = [
            models.CheckConstraint(
                name="drg_version_status_valid", condition=models.Q(status__in=["draft", "in_review", "approved", "published"])
            ),
            models.CheckConstraint(
                name="drg_version_approver_took_no_part",
                condition=models.Q(approved_by__isnull=True)
                | (
                    ~models.Q(approved_by=models.F("created_by"))
                    & (models.Q(submitted_by__isnull=True) | ~models.Q(approved_by=models.F("submitted_by")))
                ),
            ),
            models.CheckConstraint(
                name="drg_version_published_is_complete",
                condition=~models.Q(status="published") | (models.Q(published_at__isnull=False) & models.Q(approved_by__isnull=False)),
            ),
            models.UniqueConstraint(fields=["effective_from"], condition=models.Q(status="published"), name="one_published_drg_per_date"),
        ]

    def __str__(self) -> str:
        return f"DRG {self.label} ({self.get_status_display()})"


class DrgGroup(models.Model):
    """One DRG of a table: CHS-DRG code (e.g. GB21), name, relative weight."""

    version = models.ForeignKey(DrgVersion, on_delete=models.CASCADE, related_name="groups", verbose_name=_("version"))
    code = models.CharField(max_length=16, verbose_name=_("code"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    weight = models.DecimalField(max_digits=8, decimal_places=4, verbose_name=_("weight"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "code"]
        verbose_name = _("DRG group")
        verbose_name_plural = _("DRG groups")
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="drg_group_code_unique_per_version"),
            models.CheckConstraint(name="drg_group_weight_positive", condition=models.Q(weight__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name} ({self.weight})"


class DrgAreaRate(models.Model):
    """A pooling area's DRG base rate (fen per weight 1.0) in one table, and the day from which
    the area pays out-of-town (cross-province) inpatient claims by DRG."""

    version = models.ForeignKey(DrgVersion, on_delete=models.CASCADE, related_name="area_rates", verbose_name=_("version"))
    area_code = models.CharField(
        max_length=6, help_text=_("GB/T 2260 city-level code of the pooling area (ends 00)."), verbose_name=_("area code")
    )
    base_rate_fen = models.BigIntegerField(verbose_name=_("base rate fen"))
    out_of_town_from = models.DateField(
        help_text=_("Out-of-town inpatient claims are paid by DRG from this day on."), verbose_name=_("out of town from")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "area_code"]
        verbose_name = _("DRG area rate")
        verbose_name_plural = _("DRG area rates")
        constraints = [
            models.UniqueConstraint(fields=["version", "area_code"], name="drg_area_rate_unique_per_version"),
            models.CheckConstraint(name="drg_area_rate_positive", condition=models.Q(base_rate_fen__gt=0)),
            models.CheckConstraint(name="drg_area_code_format", condition=models.Q(area_code__regex=r"^[0-9]{4}00$")),
        ]

    def __str__(self) -> str:
        return f"{self.area_code}: {self.base_rate_fen} fen"
