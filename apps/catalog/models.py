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
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from apps.core.codes import KIND_CONSUMABLE, KIND_DRUG, KIND_SERVICE, KIND_TCM_PIECE

LABEL_VALIDATOR = RegexValidator(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$", "labels are letters, digits, . _ - (e.g. 2026.01)")


class ItemKind(models.TextChoices):
    DRUG = KIND_DRUG, _("Western / patent drug")
    TCM_PIECE = KIND_TCM_PIECE, _("TCM decoction piece")
    SERVICE = KIND_SERVICE, _("Medical service item")
    CONSUMABLE = KIND_CONSUMABLE, _("Medical consumable")


class PaymentCategory(models.TextChoices):
    A = "01", _("甲 (fully in scope)")
    B = "02", _("乙 (self-pay share first)")
    C = "03", _("丙 (not covered)")


class HospitalLevel(models.TextChoices):
    L3A = "3A", _("三级甲等")
    L3B = "3B", _("三级乙等")
    L3C = "3C", _("三级丙等")
    L2A = "2A", _("二级甲等")
    L2B = "2B", _("二级乙等")
    L2C = "2C", _("二级丙等")
    L1 = "1", _("一级")
    UNRATED = "unrated", _("未定级")


class CatalogRelease(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("In Review")
        APPROVED = "approved", _("Approved")
        PUBLISHED = "published", _("Published")

    label = models.CharField(max_length=32, unique=True, validators=[LABEL_VALIDATOR], verbose_name=_("label"))
    effective_from = models.DateField(verbose_name=_("effective from"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("based on"))
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The published release this one's stored diff is against (set at publish)."),
        verbose_name=_("previous"),
    )
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
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("published by")
    )
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    rejection_reason = models.TextField(blank=True, default="", verbose_name=_("rejection reason"))
    counts = models.JSONField(default=dict, blank=True, verbose_name=_("counts"))
    diff_counts = models.JSONField(default=dict, blank=True, verbose_name=_("diff counts"))
    sha256 = models.CharField(max_length=64, blank=True, default="", verbose_name=_("sha256"))
    exports = models.JSONField(default=dict, blank=True, verbose_name=_("exports"))
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
        verbose_name = _("catalog release")
        verbose_name_plural = _("catalog releases")

    def __str__(self) -> str:
        # People read this in lists, breadcrumbs, filters and the audit trail: the status by its label.
        return f"{self.label} ({self.get_status_display()})"

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
        CREATED = "created", _("Created")
        EDITED = "edited", _("Edited")
        IMPORTED = "imported", _("Imported")
        SUBMITTED = "submitted", _("Submitted")

    # The foreign key is declared by migration 0005 with ON DELETE CASCADE (Django's would not cascade in the database).
    release = models.ForeignKey(
        CatalogRelease, on_delete=models.DO_NOTHING, db_constraint=False, related_name="participants", verbose_name=_("release")
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user"))
    role = models.CharField(max_length=16, choices=Part.choices, verbose_name=_("role"))
    at = models.DateTimeField(default=timezone.now, help_text=_("The first time this user took this part."), verbose_name=_("at"))

    class Meta:
        ordering = ["release", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "user", "role"], name="release_participant_once_per_part"),
            models.CheckConstraint(
                name="release_participant_part_valid", condition=models.Q(role__in=["created", "edited", "imported", "submitted"])
            ),
        ]
        verbose_name = _("release participant")
        verbose_name_plural = _("release participants")

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} release {self.release_id}"


class ItemHistoricalRecords(HistoricalRecords):
    """Item history as simple-history keeps it, less two indexes every bulk load would build:
    the release's (the table is partitioned by release, migration 0014) and the date's (item
    history is read per item, by id; "what changed when" is the audit log and the release diff)."""

    @property
    def _date_indexing(self) -> bool:
        return False


class CatalogItem(models.Model):
    """One item of one release. ``replaces`` lists the codes this item succeeds (incl. former
    20-character drug codes); a code gone from a release with an item replacing it is 'retired'."""

    # The table is partitioned by release (migration 0010): the partition bound is the link to
    # the release (no foreign key to check row by row); each partition has its own indexes,
    # UNIQUE (release, code) among them, which serves every look-up by release.
    release = models.ForeignKey(
        CatalogRelease, on_delete=models.CASCADE, related_name="items", db_index=False, db_constraint=False, verbose_name=_("release")
    )
    code = models.CharField(max_length=32, verbose_name=_("code"))
    kind = models.CharField(max_length=16, choices=ItemKind.choices, verbose_name=_("kind"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    generic_name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("generic name"))
    dosage_form = models.CharField(max_length=64, blank=True, default="", verbose_name=_("dosage form"))
    specification = models.CharField(max_length=255, blank=True, default="", verbose_name=_("specification"))
    manufacturer = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text=_("Manufacturer (drugs) or enterprise (consumables)."),
        verbose_name=_("manufacturer"),
    )
    unit = models.CharField(max_length=32, blank=True, default="", verbose_name=_("unit"))
    pricing_unit = models.CharField(max_length=32, blank=True, default="", verbose_name=_("pricing unit"))
    category = models.CharField(max_length=2, choices=PaymentCategory.choices, verbose_name=_("category"))
    restriction_text = models.TextField(blank=True, default="", verbose_name=_("restriction text"))
    restriction_indication = models.CharField(max_length=255, blank=True, default="", verbose_name=_("restriction indication"))
    restriction_max_days = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("restriction max days"))
    restriction_hospital_level = models.CharField(
        max_length=8, choices=HospitalLevel.choices, blank=True, default="", verbose_name=_("restriction hospital level")
    )
    self_pay_ratio = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        verbose_name=_("self pay ratio"),
    )
    payment_standard_fen = models.BigIntegerField(
        null=True, blank=True, help_text=_("Negotiated payment standard (price cap), fen."), verbose_name=_("payment standard fen")
    )
    category_path = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text=_("Consumables: 15-char category path; drugs: classification prefix."),
        verbose_name=_("category path"),
    )
    replaces = models.JSONField(default=list, blank=True, verbose_name=_("replaces"))
    # 64-bit history ids from a sequence that hands them to a session a thousand at a time
    # (migration 0014); the history a bulk load writes into a new draft takes minus the item's
    # id instead, one row per item (0017).
    history = ItemHistoricalRecords(no_db_index=["release"], history_id_field=models.BigAutoField(primary_key=True))

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
            # A category path prefix (hospitals' ?category_path=) is a range of this index in any
            # collation (migration 0013).
            models.Index(fields=["release", "category_path"], name="catalog_item_release_path_idx", opclasses=["", "varchar_pattern_ops"]),
            # The few items that replace something (successor look-ups: validation, mappings).
            # Declared here, not only in SQL: Django takes an undeclared index on release_id alone
            # for the foreign key's and drops it with that (catalog 0008 did).
            models.Index(fields=["release"], name="catalog_item_has_replaces", condition=~models.Q(replaces=[])),
        ]
        verbose_name = _("catalog item")
        verbose_name_plural = _("catalog items")

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
        ADDED = "added", _("Added")
        REMOVED = "removed", _("Removed")
        CHANGED = "changed", _("Changed")
        RETIRED = "retired", _("Retired")

    # release_change_code_unique leads with release: it serves the release's look-ups. The key is
    # checked once per statement (apps.core.statement_fks, migration catalog.0010): a first
    # release's publish writes one row per item, and per-row checks were a quarter of that.
    release = models.ForeignKey(
        CatalogRelease, on_delete=models.CASCADE, related_name="changes", db_index=False, db_constraint=False, verbose_name=_("release")
    )
    code = models.CharField(max_length=32, verbose_name=_("code"))
    change = models.CharField(max_length=8, choices=Change.choices, verbose_name=_("change"))
    fields = models.JSONField(default=dict, blank=True, help_text=_("changed: {field: [old, new]}"), verbose_name=_("fields"))
    successors = models.JSONField(default=list, blank=True, verbose_name=_("successors"))

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["release", "code"], name="release_change_code_unique")]
        indexes = [models.Index(fields=["release", "change", "code"], name="release_change_kind_idx")]
        verbose_name = _("release change")
        verbose_name_plural = _("release changes")

    def __str__(self) -> str:
        return f"{self.release_id} {self.change} {self.code}"


# The search dictionary and per-item search rows (apps.catalog.search) live in a module of their own.
from .search_models import ItemSearch, SearchTerm, SearchTermUse  # noqa: E402, F401
