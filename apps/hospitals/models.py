"""Hospital registry and API keys. Webhook endpoints, change notices, deliveries and
acknowledgements are the notices app's (``apps.notices.models``), which sits above this one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from apps.benefits.models import PoolingRegion, Province
from apps.catalog.models import HospitalLevel


class Hospital(models.Model):
    """A medical institution (H + 11 digits) or pharmacy (P + 11 digits)."""

    code = models.CharField(max_length=12, unique=True, help_text=_("Institution code, e.g. H31010100001"), verbose_name=_("code"))
    name = models.CharField(max_length=255, verbose_name=_("name"))
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="hospitals", verbose_name=_("province"))
    region = models.ForeignKey(
        PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="hospitals", verbose_name=_("region")
    )
    level = models.CharField(max_length=8, choices=HospitalLevel.choices, default=HospitalLevel.UNRATED, verbose_name=_("level"))
    contact_name = models.CharField(max_length=64, blank=True, default="", verbose_name=_("contact name"))
    contact_email = models.EmailField(blank=True, default="", verbose_name=_("contact email"))
    contact_phone = models.CharField(max_length=32, blank=True, default="", verbose_name=_("contact phone"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["province", "active"])]
        constraints = [
            models.CheckConstraint(name="hospital_code_format", condition=models.Q(code__regex=r"^[HP][0-9]{11}$")),
        ]
        verbose_name = _("hospital")
        verbose_name_plural = _("hospitals")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ApiKey(models.Model):
    """A hospital's API key: ``<prefix>.<secret>``, shown once, stored as SHA-256 of the secret.

    The prefix is public (support staff quote it, logs carry it); the secret is never stored.
    A key is revoked by setting ``revoked_at``; revoked keys stay for audit and answer 401
    ``api_key_revoked``.
    """

    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("hospital"))
    prefix = models.CharField(max_length=16, unique=True, verbose_name=_("prefix"))
    secret_sha256 = models.CharField(max_length=64, verbose_name=_("secret sha256"))
    name = models.CharField(
        max_length=64, blank=True, default="", help_text=_("What the key is for (e.g. HIS production)."), verbose_name=_("name")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("revoked by")
    )
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ["hospital", "-created_at"]
        verbose_name = _("API key")
        constraints = [
            models.CheckConstraint(name="api_key_prefix_format", condition=models.Q(prefix__regex=r"^[A-Za-z0-9]{8,16}$")),
            models.CheckConstraint(name="api_key_hash_is_sha256", condition=models.Q(secret_sha256__regex=r"^[0-9a-f]{64}$")),
        ]
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.hospital_id})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class CodeMapping(models.Model):
    """A hospital's own charge code mapped to a national code (对码). The hospital replaces its
    whole set with an upload (``apps.hospitals.mappings``); whether each mapping still holds is
    computed against the release in force when asked, and counted per published release."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="code_mappings", verbose_name=_("hospital"))
    local_code = models.CharField(max_length=64, help_text=_("The hospital's own charge code."), verbose_name=_("local code"))
    local_name = models.CharField(max_length=255, blank=True, default="", verbose_name=_("local name"))
    national_code = models.CharField(
        max_length=32, help_text=_("Normalised national code (or a former 20-character drug code)."), verbose_name=_("national code")
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["hospital_id", "local_code"]
        constraints = [
            models.UniqueConstraint(fields=["hospital", "local_code"], name="code_mapping_local_code_unique"),
            models.CheckConstraint(name="code_mapping_local_code_set", condition=~models.Q(local_code="")),
            models.CheckConstraint(
                name="code_mapping_national_code_shape", condition=models.Q(national_code__regex=r"^[0-9A-Z][0-9A-Z-]{0,31}$")
            ),
        ]
        verbose_name = _("code mapping")
        verbose_name_plural = _("code mappings")

    def __str__(self) -> str:
        return f"{self.hospital_id}: {self.local_code} → {self.national_code}"


class MappingCheck(models.Model):
    """How many of a hospital's mappings a published release breaks (the national code is not an
    item of it on its effective date): written set-based for every hospital after the release
    is published, and again for one hospital after it uploads a new set."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="mapping_checks", verbose_name=_("hospital"))
    release = models.ForeignKey("catalog.CatalogRelease", on_delete=models.PROTECT, related_name="+", verbose_name=_("release"))
    total = models.PositiveIntegerField(verbose_name=_("total"))
    issues = models.PositiveIntegerField(verbose_name=_("issues"))
    checked_at = models.DateTimeField(verbose_name=_("checked at"))

    class Meta:
        ordering = ["release_id", "-issues", "hospital_id"]
        constraints = [
            models.UniqueConstraint(fields=["hospital", "release"], name="mapping_check_once_per_release"),
            models.CheckConstraint(name="mapping_check_issues_within_total", condition=models.Q(issues__lte=models.F("total"))),
        ]
        indexes = [models.Index(fields=["release", "issues"], name="mapping_check_release_idx")]
        verbose_name = _("mapping check")
        verbose_name_plural = _("mapping checks")

    def __str__(self) -> str:
        return f"{self.hospital_id} × {self.release_id}: {self.issues}/{self.total}"
