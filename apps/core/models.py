from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from .roles import Role


class StaffProfile(models.Model):
    """The role (and, for provincial roles, the province) of a staff user; history-tracked."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    role = models.CharField(max_length=32, choices=Role.choices)
    province_code = models.CharField(max_length=6, blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="staff_profile_scoped_roles_have_province",
                condition=~models.Q(role__in=["province_staff", "finance_maker", "finance_checker"]) | ~models.Q(province_code=""),
            ),
        ]

    def __str__(self) -> str:
        suffix = f" @{self.province_code}" if self.province_code else ""
        return f"{self.user} ({self.role}{suffix})"


class Job(models.Model):
    """A long-running piece of work (an import, a reconciliation run) with visible progress."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.IntegerField(default=0, help_text="All errors found, also those not listed (the list is capped).")
    result = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"
