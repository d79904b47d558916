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
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

PERIOD_REGEX = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class Side(models.TextChoices):
    DESTINATION = "destination", _("destination province (where treated)")
    HOME = "home", _("home province (where insured)")


class SettlementBatch(models.Model):
    """One imported file (or API upload) of one side's settled claims of one province for a period.

    A batch is its province's (``side=home``: the home province of every row, ``destination``:
    the destination province). Runs read ``active`` batches only. A correction is an import that
    ``replaces`` an active batch of the same period, side and province: in one transaction the new
    batch is active and the old one ``superseded``; a batch may also be ``withdrawn`` with a
    reason. Neither comes back (PostgreSQL trigger, migration 0004)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        SUPERSEDED = "superseded", _("superseded")
        WITHDRAWN = "withdrawn", _("withdrawn")

    period = models.CharField(_("period"), max_length=7, help_text=_("YYYY-MM"))
    side = models.CharField(_("side"), max_length=16, choices=Side.choices)
    province = models.CharField(
        _("province"), max_length=6, blank=True, default="", db_default="", help_text=_("Whose rows these are ('' before batches had one).")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE, db_default=State.ACTIVE)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by", verbose_name=_("replaces")
    )
    filename = models.CharField(_("file name"), max_length=255, blank=True, default="")
    rows = models.BigIntegerField(_("rows"), default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("imported by")
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("withdrawn by")
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True, verbose_name=_("withdrawn at"))
    withdrawn_reason = models.TextField(blank=True, default="", db_default="", verbose_name=_("withdrawn reason"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("settlement batch")
        verbose_name_plural = _("settlement batches")
        indexes = [models.Index(fields=["period", "side"]), models.Index(fields=["period", "state"], name="settlement_batch_period_state")]
        constraints = [
            models.CheckConstraint(name="settlement_batch_side_valid", condition=models.Q(side__in=["destination", "home"])),
            models.CheckConstraint(name="settlement_batch_period_format", condition=models.Q(period__regex=PERIOD_REGEX)),
            models.CheckConstraint(
                name="settlement_batch_state_valid", condition=models.Q(state__in=["active", "superseded", "withdrawn"])
            ),
            models.CheckConstraint(
                name="settlement_batch_withdrawn_says_why",
                condition=~models.Q(state="withdrawn") | (~models.Q(withdrawn_reason="") & models.Q(withdrawn_at__isnull=False)),
            ),
            models.CheckConstraint(name="settlement_batch_not_its_own_replacement", condition=~models.Q(replaces=models.F("id"))),
        ]

    def __str__(self) -> str:
        return gettext("{period} {side} {province} batch #{id} ({rows} rows, {state})").format(
            period=self.period,
            side=self.get_side_display(),
            province=self.province or gettext("national"),
            id=self.pk,
            rows=self.rows,
            state=self.get_state_display(),
        )


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
    setting = models.CharField(
        max_length=24,
        blank=True,
        default="",
        db_default="",
        help_text=_("inpatient / outpatient / chronic_outpatient, when the file says."),
        verbose_name=_("setting"),
    )
    local_codes = models.CharField(
        max_length=1000,
        blank=True,
        default="",
        db_default="",
        help_text=_("Transitional local item codes billed, ';'-separated."),
        verbose_name=_("local codes"),
    )
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
        return f"{self.period} {self.get_side_display()} {self.settlement_id}"


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
        return gettext("reconciliation {period} run #{id} ({state})").format(period=self.period, id=self.pk, state=self.get_state_display())


class Discrepancy(models.Model):
    """A settlement that did not match cleanly; both sides' values are kept.

    Lifecycle (services, and a PostgreSQL trigger, migration 0004): ``open`` → ``disputed``
    (either province, with a reason) → ``resolution_proposed`` (a finance maker of either
    province: accept the home value, the destination value, an agreed amount or a write-off) →
    ``resolved`` / ``written_off`` once a finance checker of the other province approves; a
    proposal may be disputed again. A resolved amount (fund share, home pays destination) nets in
    the next run (``netted_in_run``); a written-off one never does. A rerun of the period carries
    a discrepancy that left ``open`` over to the new run (same row, same id)."""

    class Kind(models.TextChoices):
        AMOUNT_MISMATCH = "amount_mismatch", _("amount mismatch")
        MISSING_HOME = "missing_home", _("missing on the home side")
        MISSING_DESTINATION = "missing_destination", _("missing on the destination side")
        DUPLICATE = "duplicate", _("duplicate")
        RELEASE_NOT_IN_FORCE = "release_not_in_force", _("coded against a release not in force")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DISPUTED = "disputed", _("disputed")
        RESOLUTION_PROPOSED = "resolution_proposed", _("resolution proposed")
        RESOLVED = "resolved", _("resolved")
        WRITTEN_OFF = "written_off", _("written off")

    class Resolution(models.TextChoices):
        ACCEPT_HOME = "accept_home", _("accept the home province's value")
        ACCEPT_DESTINATION = "accept_destination", _("accept the destination province's value")
        AGREED_AMOUNT = "agreed_amount", _("an agreed amount")
        WRITE_OFF = "write_off", _("write off")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="discrepancies", verbose_name=_("run"))
    period = models.CharField(_("period"), max_length=7)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    settlement_id = models.CharField(_("settlement id"), max_length=64)
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
    home_province = models.CharField(_("home province"), max_length=6)
    destination_province = models.CharField(_("destination province"), max_length=6)
    hospital_code = models.CharField(_("hospital"), max_length=32, blank=True, default="", db_default="")
    setting = models.CharField(_("setting"), max_length=24, blank=True, default="", db_default="")
    drg_group = models.CharField(_("DRG group"), max_length=16, blank=True, default="", db_default="")
    home_value = models.CharField(max_length=64, blank=True, default="", verbose_name=_("home value"))
    destination_value = models.CharField(max_length=64, blank=True, default="", verbose_name=_("destination value"))
    home_fund_fen = models.BigIntegerField(
        null=True, blank=True, help_text=_("The claim's fund share on the home side (None: missing)."), verbose_name=_("home fund fen")
    )
    destination_fund_fen = models.BigIntegerField(
        null=True, blank=True, help_text=_("The claim's fund share on the destination side."), verbose_name=_("destination fund fen")
    )
    delta_fen = models.BigIntegerField(
        null=True, blank=True, help_text=_("destination − home, for amount_mismatch."), verbose_name=_("delta fen")
    )
    expected = models.CharField(
        max_length=64, blank=True, default="", help_text=_("release_not_in_force: the release in force."), verbose_name=_("expected")
    )
    count = models.IntegerField(default=1, help_text=_("duplicate: how many records share the id on that side."), verbose_name=_("count"))
    state = models.CharField(_("state"), max_length=24, choices=State.choices, default=State.OPEN, db_default=State.OPEN)
    resolution = models.CharField(_("resolution"), max_length=24, choices=Resolution.choices, blank=True, default="", db_default="")
    amount_fen = models.BigIntegerField(
        _("resolved amount (fen)"), null=True, blank=True, help_text=_("Fund share the home province pays.")
    )
    reason = models.TextField(_("reason"), blank=True, default="", db_default="", help_text=_("Why, at the last step."))
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    proposed_province = models.CharField(max_length=6, blank=True, default="", db_default="", verbose_name=_("proposed province"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("approved by")
    )
    netted_in_run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustments", verbose_name=_("netted in run")
    )
    history = HistoricalRecords(excluded_fields=["run", "netted_in_run"])

    class Meta:
        ordering = ["id"]
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        indexes = [
            models.Index(fields=["run", "kind"]),
            models.Index(fields=["run", "home_province", "destination_province"]),
            models.Index(fields=["run", "hospital_code"], name="discrepancy_run_hospital"),
            models.Index(fields=["period", "state"], name="discrepancy_period_state"),
            # A rerun's carry-over finds each claim's row of the new run and of the earlier runs
            # by claim: without it the join walked every earlier row of the same kind per new
            # row (quadratic; 6.5 s for a 1M-row month's 5,200 discrepancies, hours at 33M).
            models.Index(fields=["run", "settlement_id"], name="discrepancy_run_claim"),
        ]
        constraints = [
            models.CheckConstraint(
                name="discrepancy_kind_valid",
                condition=models.Q(
                    kind__in=["amount_mismatch", "missing_home", "missing_destination", "duplicate", "release_not_in_force"]
                ),
            ),
            models.CheckConstraint(
                name="discrepancy_state_valid",
                condition=models.Q(state__in=["open", "disputed", "resolution_proposed", "resolved", "written_off"]),
            ),
            # a proposal and its outcome name their resolution; a written-off one is the write-off, a resolved one is not
            models.CheckConstraint(
                name="discrepancy_resolution_fits_state",
                condition=(models.Q(state__in=["open", "disputed"]) & models.Q(resolution=""))
                | (models.Q(state="resolution_proposed") & ~models.Q(resolution=""))
                | (models.Q(state="resolved") & models.Q(resolution__in=["accept_home", "accept_destination", "agreed_amount"]))
                | (models.Q(state="written_off") & models.Q(resolution="write_off")),
            ),
            models.CheckConstraint(
                name="discrepancy_amount_fits_resolution",
                condition=(models.Q(resolution__in=["", "write_off"]) & models.Q(amount_fen__isnull=True))
                | (models.Q(resolution__in=["accept_home", "accept_destination", "agreed_amount"]) & models.Q(amount_fen__gte=0)),
            ),
            models.CheckConstraint(
                name="discrepancy_approver_not_proposer",
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("proposed_by")),
            ),
            models.CheckConstraint(
                name="discrepancy_netted_only_when_resolved", condition=models.Q(netted_in_run__isnull=True) | models.Q(state="resolved")
            ),
            # one claim of a month is paid by at most one resolution (a claim can have several discrepancy rows)
            models.UniqueConstraint(
                fields=["period", "settlement_id"],
                condition=models.Q(state__in=["resolution_proposed", "resolved"]) & ~models.Q(resolution="write_off"),
                name="discrepancy_one_paying_resolution_per_claim",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.settlement_id} ({self.get_state_display()})"
