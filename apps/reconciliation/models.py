"""Settled cross-province claims of both sides, monthly matching runs and their discrepancies.

Scale: tens of millions of ``SettlementRecord`` rows a month per side. Records are written
only by COPY + set-based INSERT (services.settlement_import) and read by one GROUP BY per run;
the (period, side, settlement_id) index serves per-period scans and look-ups. Declarative
partitioning by period is the next step (see README of this app in the report).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

PERIOD_REGEX = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class Side(models.TextChoices):
    DESTINATION = "destination", _("destination province (where treated)")
    HOME = "home", _("home province (where insured)")


class SettlementBatch(models.Model):
    """One imported file (or API upload) of one side's settled claims for a period."""

    period = models.CharField(max_length=7, help_text=_("YYYY-MM"), verbose_name=_("period"))
    side = models.CharField(max_length=16, choices=Side.choices, verbose_name=_("side"))
    filename = models.CharField(max_length=255, blank=True, default="", verbose_name=_("filename"))
    rows = models.BigIntegerField(default=0, verbose_name=_("rows"))
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("imported by")
    )
    imported_at = models.DateTimeField(auto_now_add=True, verbose_name=_("imported at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["period", "side"])]
        constraints = [
            models.CheckConstraint(name="settlement_batch_side_valid", condition=models.Q(side__in=["destination", "home"])),
            models.CheckConstraint(name="settlement_batch_period_format", condition=models.Q(period__regex=PERIOD_REGEX)),
        ]
        verbose_name = _("settlement batch")
        verbose_name_plural = _("settlement batches")

    def __str__(self) -> str:
        return f"{self.period} {self.side} batch #{self.pk} ({self.rows} rows)"


class SettlementRecord(models.Model):
    """One settled cross-province claim as one side recorded it (amounts in fen)."""

    batch = models.ForeignKey(SettlementBatch, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("batch"))
    period = models.CharField(max_length=7, verbose_name=_("period"))
    side = models.CharField(max_length=16, choices=Side.choices, verbose_name=_("side"))
    settlement_id = models.CharField(max_length=64, verbose_name=_("settlement id"))
    home_province = models.CharField(max_length=6, verbose_name=_("home province"))
    destination_province = models.CharField(max_length=6, verbose_name=_("destination province"))
    hospital_code = models.CharField(max_length=32, verbose_name=_("hospital code"))
    patient_id_hash = models.CharField(max_length=64, verbose_name=_("patient id hash"))
    date_of_service = models.DateField(verbose_name=_("date of service"))
    release_label = models.CharField(max_length=32, verbose_name=_("release label"))
    drg_group = models.CharField(max_length=16, blank=True, default="", verbose_name=_("drg group"))
    drg_flag = models.BooleanField(default=False, help_text=_("Settled by DRG group rather than per item."), verbose_name=_("drg flag"))
    total_fen = models.BigIntegerField(verbose_name=_("total fen"))
    fund_fen = models.BigIntegerField(verbose_name=_("fund fen"))
    patient_fen = models.BigIntegerField(verbose_name=_("patient fen"))

    class Meta:
        indexes = [models.Index(fields=["period", "side", "settlement_id"], name="settlement_period_side_id")]
        constraints = [
            models.CheckConstraint(name="settlement_side_valid", condition=models.Q(side__in=["destination", "home"])),
            models.CheckConstraint(
                name="settlement_amounts_add_up",
                condition=models.Q(total_fen=models.F("fund_fen") + models.F("patient_fen"))
                & models.Q(fund_fen__gte=0)
                & models.Q(patient_fen__gte=0),
            ),
            models.CheckConstraint(name="settlement_cross_province", condition=~models.Q(home_province=models.F("destination_province"))),
        ]
        verbose_name = _("settlement record")
        verbose_name_plural = _("settlement records")

    def __str__(self) -> str:
        return f"{self.period} {self.side} {self.settlement_id}"


class ReconciliationRun(models.Model):
    """One matching + netting run of a period. ``inputs`` fingerprints the batches it saw; a
    later run of the same period supersedes it (its unapproved proposals are voided)."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        SUPERSEDED = "superseded", _("Superseded")

    period = models.CharField(max_length=7, verbose_name=_("period"))
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING, verbose_name=_("state"))
    inputs = models.CharField(max_length=64, help_text=_("SHA-256 of the period's batch ids."), verbose_name=_("inputs"))
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("job"))
    summary = models.JSONField(default=dict, blank=True, verbose_name=_("summary"))
    transfer_ids = models.JSONField(default=list, blank=True, verbose_name=_("transfer ids"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("started by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["period", "state"])]
        constraints = [
            models.CheckConstraint(name="reconciliation_run_period_format", condition=models.Q(period__regex=PERIOD_REGEX)),
            models.CheckConstraint(
                name="reconciliation_run_state_valid", condition=models.Q(state__in=["running", "succeeded", "superseded"])
            ),
        ]
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")

    def __str__(self) -> str:
        return f"reconciliation {self.period} run #{self.pk} ({self.state})"


class Discrepancy(models.Model):
    """A settlement that did not match cleanly; both sides' values are kept."""

    class Kind(models.TextChoices):
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount Mismatch")
        MISSING_HOME = "missing_home", _("Missing Home")
        MISSING_DESTINATION = "missing_destination", _("Missing Destination")
        DUPLICATE = "duplicate", _("Duplicate")
        RELEASE_NOT_IN_FORCE = "release_not_in_force", _("Release Not In Force")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="discrepancies", verbose_name=_("run"))
    period = models.CharField(max_length=7, verbose_name=_("period"))
    kind = models.CharField(max_length=32, choices=Kind.choices, verbose_name=_("kind"))
    settlement_id = models.CharField(max_length=64, verbose_name=_("settlement id"))
    side = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text=_("For duplicate / release_not_in_force: the side concerned."),
        verbose_name=_("side"),
    )
    field = models.CharField(
        max_length=32, blank=True, default="", help_text=_("amount_mismatch: total_fen, fund_fen or patient_fen."), verbose_name=_("field")
    )
    home_province = models.CharField(max_length=6, verbose_name=_("home province"))
    destination_province = models.CharField(max_length=6, verbose_name=_("destination province"))
    home_value = models.CharField(max_length=64, blank=True, default="", verbose_name=_("home value"))
    destination_value = models.CharField(max_length=64, blank=True, default="", verbose_name=_("destination value"))
    delta_fen = models.BigIntegerField(
        null=True, blank=True, help_text=_("destination − home, for amount_mismatch."), verbose_name=_("delta fen")
    )
    expected = models.CharField(
        max_length=64, blank=True, default="", help_text=_("release_not_in_force: the release in force."), verbose_name=_("expected")
    )
    count = models.IntegerField(default=1, help_text=_("duplicate: how many records share the id on that side."), verbose_name=_("count"))

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "kind"]), models.Index(fields=["run", "home_province", "destination_province"])]
        constraints = [
            models.CheckConstraint(
                name="discrepancy_kind_valid",
                condition=models.Q(
                    kind__in=["amount_mismatch", "missing_home", "missing_destination", "duplicate", "release_not_in_force"]
                ),
            )
        ]
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")

    def __str__(self) -> str:
        return f"{self.kind} {self.settlement_id}"
