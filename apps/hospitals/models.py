"""Hospital registry (more here: API keys, webhook endpoints, change notices, deliveries)."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords

from apps.benefits.models import PoolingRegion, Province
from apps.catalog.models import HospitalLevel


class Hospital(models.Model):
    """A medical institution (H + 11 digits) or pharmacy (P + 11 digits)."""

    code = models.CharField(max_length=12, unique=True, help_text="Institution code, e.g. H31010100001")
    name = models.CharField(max_length=255)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="hospitals")
    region = models.ForeignKey(PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="hospitals")
    level = models.CharField(max_length=8, choices=HospitalLevel.choices, default=HospitalLevel.UNRATED)
    contact_name = models.CharField(max_length=64, blank=True, default="")
    contact_email = models.EmailField(blank=True, default="")
    contact_phone = models.CharField(max_length=32, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["province", "active"])]
        constraints = [
            models.CheckConstraint(name="hospital_code_format", condition=models.Q(code__regex=r"^[HP][0-9]{11}$")),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
