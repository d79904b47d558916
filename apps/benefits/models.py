"""Provinces and pooling regions (more of this app: benefit policies, local items)."""

from __future__ import annotations

from django.db import models
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
