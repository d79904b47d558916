"""Settled cross-province claims of both sides, monthly matching runs and their discrepancies.

Scale: tens of millions of ``SettlementRecord`` rows a month per side. Records are written
only by COPY + set-based INSERT (services.settlement_import) and read by one GROUP BY per run;
the (period, side, settlement_id) index serves per-period scans and look-ups. The table is
partitioned by period (LIST, migration 0004; primary key (id, period)): the import creates the
month's partition, old months are detached by ``manage.py detach_partition``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

PERIOD_REGEX = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class Side(models.TextChoices):
    DESTINATION = "destination", "destination province (where treated)"
    HOME = "home", "home province (where insured)"


class SettlementBatch(models.Model):
    """One imported file (or API upload) of one side's settled claims for a period."""

    period = models.CharField(max_length=7, help_text="YYYY-MM")
    side = models.CharField(max_length=16, choices=Side.choices)
    filename = models.CharField(max_length=255, blank=True, default="")
    rows = models.BigIntegerField(default=0)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["period", "side"])]
        constraints = [
            models.CheckConstraint(name="settlement_batch_side_valid", condition=models.Q(side__in=["destination", "home"])),
            models.CheckConstraint(name="settlement_batch_period_format", condition=models.Q(period__regex=PERIOD_REGEX)),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.side} batch #{self.pk} ({self.rows} rows)"


class SettlementRecord(models.Model):
    """One settled cross-province claim as one side recorded it (amounts in fen)."""

    batch = models.ForeignKey(SettlementBatch, on_delete=models.PROTECT, related_name="+", db_index=False)
    period = models.CharField(max_length=7)
    side = models.CharField(max_length=16, choices=Side.choices)
    settlement_id = models.CharField(max_length=64)
    home_province = models.CharField(max_length=6)
    destination_province = models.CharField(max_length=6)
    hospital_code = models.CharField(max_length=32)
    patient_id_hash = models.CharField(max_length=64)
    date_of_service = models.DateField()
    release_label = models.CharField(max_length=32)
    drg_group = models.CharField(max_length=16, blank=True, default="")
    drg_flag = models.BooleanField(default=False, help_text="Settled by DRG group rather than per item.")
    total_fen = models.BigIntegerField()
    fund_fen = models.BigIntegerField()
    patient_fen = models.BigIntegerField()

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

    def __str__(self) -> str:
        return f"{self.period} {self.side} {self.settlement_id}"


class ReconciliationRun(models.Model):
    """One matching + netting run of a period. ``inputs`` fingerprints the batches it saw; a
    later run of the same period supersedes it (its unapproved proposals are voided)."""

    class State(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        SUPERSEDED = "superseded"

    period = models.CharField(max_length=7)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    inputs = models.CharField(max_length=64, help_text="SHA-256 of the period's batch ids.")
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    summary = models.JSONField(default=dict, blank=True)
    transfer_ids = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
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

    def __str__(self) -> str:
        return f"reconciliation {self.period} run #{self.pk} ({self.state})"


class Discrepancy(models.Model):
    """A settlement that did not match cleanly; both sides' values are kept."""

    class Kind(models.TextChoices):
        AMOUNT_MISMATCH = "amount_mismatch"
        MISSING_HOME = "missing_home"
        MISSING_DESTINATION = "missing_destination"
        DUPLICATE = "duplicate"
        RELEASE_NOT_IN_FORCE = "release_not_in_force"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="discrepancies")
    period = models.CharField(max_length=7)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    settlement_id = models.CharField(max_length=64)
    side = models.CharField(max_length=16, blank=True, default="", help_text="For duplicate / release_not_in_force: the side concerned.")
    field = models.CharField(max_length=32, blank=True, default="", help_text="amount_mismatch: total_fen, fund_fen or patient_fen.")
    home_province = models.CharField(max_length=6)
    destination_province = models.CharField(max_length=6)
    home_value = models.CharField(max_length=64, blank=True, default="")
    destination_value = models.CharField(max_length=64, blank=True, default="")
    delta_fen = models.BigIntegerField(null=True, blank=True, help_text="destination − home, for amount_mismatch.")
    expected = models.CharField(max_length=64, blank=True, default="", help_text="release_not_in_force: the release in force.")
    count = models.IntegerField(default=1, help_text="duplicate: how many records share the id on that side.")

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

    def __str__(self) -> str:
        return f"{self.kind} {self.settlement_id}"
