"""National catalog: releases (draft → in review → approved → published) and their items.

A published release is immutable: its row, its items and its stored diff are protected by
PostgreSQL triggers (migration 0002) as well as by the services. The items of a release are
its snapshot; nothing is re-derived from history.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from apps.core.codes import KIND_CONSUMABLE, KIND_DRUG, KIND_SERVICE, KIND_TCM_PIECE

LABEL_VALIDATOR = RegexValidator(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$", "labels are letters, digits, . _ - (e.g. 2026.01)")


class ItemKind(models.TextChoices):
    DRUG = KIND_DRUG, "Western / patent drug"
    TCM_PIECE = KIND_TCM_PIECE, "TCM decoction piece"
    SERVICE = KIND_SERVICE, "Medical service item"
    CONSUMABLE = KIND_CONSUMABLE, "Medical consumable"


class PaymentCategory(models.TextChoices):
    A = "01", "甲 (fully in scope)"
    B = "02", "乙 (self-pay share first)"
    C = "03", "丙 (not covered)"


class HospitalLevel(models.TextChoices):
    L3A = "3A", "三级甲等"
    L3B = "3B", "三级乙等"
    L3C = "3C", "三级丙等"
    L2A = "2A", "二级甲等"
    L2B = "2B", "二级乙等"
    L2C = "2C", "二级丙等"
    L1 = "1", "一级"
    UNRATED = "unrated", "未定级"


class CatalogRelease(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        IN_REVIEW = "in_review"
        APPROVED = "approved"
        PUBLISHED = "published"

    label = models.CharField(max_length=32, unique=True, validators=[LABEL_VALIDATOR])
    effective_from = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The published release this one's stored diff is against (set at publish).",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True, default="")
    counts = models.JSONField(default=dict, blank=True)
    diff_counts = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    exports = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords(excluded_fields=["counts", "diff_counts", "exports"])

    class Meta:
        ordering = ["-effective_from", "-id"]
        constraints = [
            models.CheckConstraint(
                name="release_approver_is_not_submitter",
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("submitted_by")),
            ),
            models.CheckConstraint(
                name="release_published_is_complete",
                condition=~models.Q(status="published")
                | (models.Q(published_at__isnull=False) & models.Q(approved_by__isnull=False) & ~models.Q(sha256="")),
            ),
            models.UniqueConstraint(
                fields=["effective_from"],
                condition=models.Q(status="published"),
                name="one_published_release_per_effective_date",
            ),
        ]
        indexes = [models.Index(fields=["status", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.status})"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ReleaseParticipant(models.Model):
    """Someone who shaped a release: created the draft, edited its items or details, imported a
    file into it, or submitted it. None of them approves or rejects it (the two-person rule).

    Written by the services in the transaction of the step itself; append-only in PostgreSQL
    (migration 0005): rows are neither changed nor deleted, except with their release, whose
    foreign key cascades in the database (hence DO_NOTHING here). A trigger on the release's
    ``approved_by`` looks the approver up here, and another refuses to add the approver later."""

    class Part(models.TextChoices):
        CREATED = "created"
        EDITED = "edited"
        IMPORTED = "imported"
        SUBMITTED = "submitted"

    # The foreign key is declared by migration 0005 with ON DELETE CASCADE (Django's would not cascade in the database).
    release = models.ForeignKey(CatalogRelease, on_delete=models.DO_NOTHING, db_constraint=False, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=Part.choices)
    at = models.DateTimeField(default=timezone.now, help_text="The first time this user took this part.")

    class Meta:
        ordering = ["release", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "user", "role"], name="release_participant_once_per_part"),
            models.CheckConstraint(
                name="release_participant_part_valid", condition=models.Q(role__in=["created", "edited", "imported", "submitted"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} release {self.release_id}"


class CatalogItem(models.Model):
    """One item of one release. ``replaces`` lists the codes this item succeeds (incl. former
    20-character drug codes); a code gone from a release with an item replacing it is 'retired'."""

    # No index of its own: UNIQUE (release, code) leads with the release and serves every
    # look-up by release; one index fewer to maintain on each bulk load (issue 22).
    release = models.ForeignKey(CatalogRelease, on_delete=models.CASCADE, related_name="items", db_index=False)
    code = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=ItemKind.choices)
    name = models.CharField(max_length=255)
    generic_name = models.CharField(max_length=255, blank=True, default="")
    dosage_form = models.CharField(max_length=64, blank=True, default="")
    specification = models.CharField(max_length=255, blank=True, default="")
    manufacturer = models.CharField(max_length=255, blank=True, default="", help_text="Manufacturer (drugs) or enterprise (consumables).")
    unit = models.CharField(max_length=32, blank=True, default="")
    pricing_unit = models.CharField(max_length=32, blank=True, default="")
    category = models.CharField(max_length=2, choices=PaymentCategory.choices)
    restriction_text = models.TextField(blank=True, default="")
    restriction_indication = models.CharField(max_length=255, blank=True, default="")
    restriction_max_days = models.PositiveIntegerField(null=True, blank=True)
    restriction_hospital_level = models.CharField(max_length=8, choices=HospitalLevel.choices, blank=True, default="")
    self_pay_ratio = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    payment_standard_fen = models.BigIntegerField(null=True, blank=True, help_text="Negotiated payment standard (price cap), fen.")
    category_path = models.CharField(
        max_length=32, blank=True, default="", help_text="Consumables: 15-char category path; drugs: classification prefix."
    )
    replaces = models.JSONField(default=list, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["release", "code"], name="catalog_item_code_unique_per_release"),
            models.CheckConstraint(name="catalog_item_category_valid", condition=models.Q(category__in=["01", "02", "03"])),
            models.CheckConstraint(name="catalog_item_kind_valid", condition=models.Q(kind__in=[k for k, _ in ItemKind.choices])),
            models.CheckConstraint(
                name="catalog_item_self_pay_ratio_range",
                condition=models.Q(self_pay_ratio__isnull=True) | (models.Q(self_pay_ratio__gte=0) & models.Q(self_pay_ratio__lte=1)),
            ),
            models.CheckConstraint(
                name="catalog_item_payment_standard_positive",
                condition=models.Q(payment_standard_fen__isnull=True) | models.Q(payment_standard_fen__gte=0),
            ),
        ]
        indexes = [
            models.Index(fields=["code"], name="catalog_item_code_idx"),
            models.Index(fields=["release", "kind", "code"], name="catalog_item_release_kind_idx"),
            models.Index(fields=["release", "category_path"], name="catalog_item_release_path_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


# The fields whose values make up an item's content: compared by the diff, written by exports
# and imports, in this order (the canonical CSV layout is "code" followed by these).
ITEM_CONTENT_FIELDS: tuple[str, ...] = (
    "kind",
    "name",
    "generic_name",
    "dosage_form",
    "specification",
    "manufacturer",
    "unit",
    "pricing_unit",
    "category",
    "restriction_text",
    "restriction_indication",
    "restriction_max_days",
    "restriction_hospital_level",
    "self_pay_ratio",
    "payment_standard_fen",
    "category_path",
    "replaces",
)
CANONICAL_COLUMNS: tuple[str, ...] = ("code", *ITEM_CONTENT_FIELDS)
# The free-text fields among them: NFC-normalised on input, formula-neutralised in CSV exports.
ITEM_TEXT_FIELDS: tuple[str, ...] = (
    "name",
    "generic_name",
    "dosage_form",
    "specification",
    "manufacturer",
    "unit",
    "pricing_unit",
    "restriction_text",
    "restriction_indication",
)


class ReleaseChange(models.Model):
    """One line of a published release's stored diff against ``release.previous``."""

    class Change(models.TextChoices):
        ADDED = "added"
        REMOVED = "removed"
        CHANGED = "changed"
        RETIRED = "retired"

    release = models.ForeignKey(CatalogRelease, on_delete=models.CASCADE, related_name="changes")
    code = models.CharField(max_length=32)
    change = models.CharField(max_length=8, choices=Change.choices)
    fields = models.JSONField(default=dict, blank=True, help_text="changed: {field: [old, new]}")
    successors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["release", "code"], name="release_change_code_unique")]
        indexes = [models.Index(fields=["release", "change", "code"], name="release_change_kind_idx")]

    def __str__(self) -> str:
        return f"{self.release_id} {self.change} {self.code}"


# The search dictionary and per-item search rows (apps.catalog.search) live in a module of their own.
from .search_models import ItemSearch, SearchTerm, SearchTermUse  # noqa: E402, F401
