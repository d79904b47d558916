"""Adjustment-fund accounts and their double-entry ledger (PRODUCT.md §3).

Every movement is a ``Transfer`` between two ``FundAccount`` rows; posting it writes exactly two
``LedgerEntry`` rows (−amount on the debited account, +amount on the credited one), so the
ledger as a whole always sums to zero. Money enters and leaves only through the ``external``
account of each province. The database enforces what protects money (migrations 0002, 0005):
entries of a transfer sum to zero and a posted transfer has them (deferred constraint
triggers), entries never change, a finished transfer never changes, balances move only with
entries, approver ≠ proposer, amount > 0, one idempotency key per proposer, one live reversal
per transfer, no account below its overdraft limit, no entry on a closed account.

Provincial pooling (issue 19): ``RegionPeriodFigures`` feed the risk-adjustment rule
(``AdjustmentRule``, pure arithmetic in adjustment.py) whose ``AdjustmentRun`` proposes
contributions and allocations at two levels (regions ↔ provincial fund, provinces ↔ national
fund); each province keeps an ``advance`` account (预付金) that the monthly clearing draws on and
``AdvanceFundPolicy`` tops up; ``ClearingResult`` holds the settled cross-province amounts the
clearing reports (pooling's own copy, so it never reads reconciliation); ``PoolingBudget`` is
compared with them; ``PoolingModelChange`` moves a province to unified collection and
expenditure by consolidating its regional accounts through approved transfers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from apps.benefits.models import PoolingRegion, Province
from apps.core.money import format_yuan


class FundAccount(models.Model):
    class Kind(models.TextChoices):
        NATIONAL = "national", "National adjustment fund"
        PROVINCIAL = "provincial", "Provincial fund"
        REGIONAL = "regional", "Pooling-region fund"
        EXTERNAL = "external", "External (fund income and payouts)"
        ADVANCE = "advance", _("Advance for cross-province clearing (预付金)")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    province = models.ForeignKey(Province, null=True, blank=True, on_delete=models.PROTECT, related_name="fund_accounts")
    region = models.ForeignKey(PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="fund_accounts")
    name = models.CharField(max_length=128)
    # Moved only by the trigger on entry inserts (migration 0005 refuses any other change; a
    # check selector proves it agrees with their sum); not in history: the entries are its history.
    balance_fen = models.BigIntegerField(default=0, editable=False)
    overdraft_limit_fen = models.BigIntegerField(default=0, help_text="How far below zero the balance may go (fen, ≥ 0).")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a province moves to unified collection and expenditure and its regional accounts
    # were consolidated (PoolingModelChange); a trigger refuses entries on a closed account.
    closed_at = models.DateTimeField(null=True, blank=True, help_text=_("Closed accounts take no more entries."))
    history = HistoricalRecords(excluded_fields=["balance_fen"])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                name="fund_account_kind_valid", condition=models.Q(kind__in=["national", "provincial", "regional", "external", "advance"])
            ),
            models.CheckConstraint(name="fund_account_overdraft_limit_not_negative", condition=models.Q(overdraft_limit_fen__gte=0)),
            # External accounts mirror money outside the ledger and may go as negative as needed.
            models.CheckConstraint(
                name="fund_account_within_overdraft_limit",
                condition=models.Q(kind="external") | models.Q(balance_fen__gte=-models.F("overdraft_limit_fen")),
            ),
            models.CheckConstraint(
                name="fund_account_scope_matches_kind",
                condition=(models.Q(kind="national") & models.Q(province__isnull=True) & models.Q(region__isnull=True))
                | (
                    models.Q(kind__in=["provincial", "external", "advance"])
                    & models.Q(province__isnull=False)
                    & models.Q(region__isnull=True)
                )
                | (models.Q(kind="regional") & models.Q(province__isnull=False) & models.Q(region__isnull=False)),
            ),
            models.UniqueConstraint(fields=["kind"], condition=models.Q(kind="national"), name="one_national_fund"),
            models.UniqueConstraint(
                fields=["province", "kind"],
                condition=models.Q(kind__in=["provincial", "external", "advance"]),
                name="one_fund_of_a_kind_per_province",
            ),
            models.UniqueConstraint(fields=["region"], condition=models.Q(kind="regional"), name="one_fund_per_region"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def province_code(self) -> str:
        return self.province.code if self.province is not None else ""

    @property
    def balance_display(self) -> str:
        return format_yuan(self.balance_fen)


class Transfer(models.Model):
    """A movement between two accounts: proposed → approved → posted, or rejected / voided."""

    class State(models.TextChoices):
        PROPOSED = "proposed"
        APPROVED = "approved"
        POSTED = "posted"
        REJECTED = "rejected"
        VOIDED = "voided"

    from_account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="transfers_out")
    to_account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="transfers_in")
    amount_fen = models.BigIntegerField()
    memo = models.CharField(max_length=255, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROPOSED)
    idempotency_key = models.CharField(max_length=128)
    request_fingerprint = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the proposal body.")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_proposed")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Who rejected or voided it."
    )
    reason = models.TextField(blank=True, default="", help_text="Why it was rejected or voided.")
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(name="transfer_amount_positive", condition=models.Q(amount_fen__gt=0)),
            models.CheckConstraint(name="transfer_between_two_accounts", condition=~models.Q(from_account=models.F("to_account"))),
            models.CheckConstraint(
                name="transfer_approver_is_not_proposer",
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("proposed_by")),
            ),
            models.CheckConstraint(
                name="transfer_state_valid", condition=models.Q(state__in=["proposed", "approved", "posted", "rejected", "voided"])
            ),
            models.CheckConstraint(
                name="transfer_approved_has_approver",
                condition=~models.Q(state__in=["approved", "posted"]) | models.Q(approved_by__isnull=False),
            ),
            models.CheckConstraint(
                name="transfer_posted_has_time", condition=~models.Q(state="posted") | models.Q(posted_at__isnull=False)
            ),
            models.CheckConstraint(name="transfer_idempotency_key_not_empty", condition=~models.Q(idempotency_key="")),
            models.UniqueConstraint(fields=["proposed_by", "idempotency_key"], name="transfer_idempotency_key_unique_per_proposer"),
            # Reversed at most once: a rejected or voided reversal does not count, a live one does.
            models.UniqueConstraint(
                fields=["reverses"],
                condition=models.Q(state__in=["proposed", "approved", "posted"]),
                name="transfer_reversed_at_most_once",
            ),
        ]
        indexes = [models.Index(fields=["state", "from_account"])]

    def __str__(self) -> str:
        # Accounts by name (people read this in lists, breadcrumbs and messages), not by id.
        return f"#{self.pk} {format_yuan(self.amount_fen)} {self.from_account} → {self.to_account} ({self.get_state_display()})"

    @property
    def amount_display(self) -> str:
        return format_yuan(self.amount_fen)


class LedgerEntry(models.Model):
    """One side of a posted transfer. Append-only (a trigger refuses UPDATE and DELETE), so the
    row itself is the history record: who approved it and when are on its transfer."""

    # No single-column indexes: (account, id, amount) and UNIQUE (transfer, account) cover them.
    account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="entries", db_index=False)
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount_fen = models.BigIntegerField(help_text="Signed: negative debits the account, positive credits it.")
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(name="ledger_entry_amount_not_zero", condition=~models.Q(amount_fen=0)),
            models.UniqueConstraint(fields=["transfer", "account"], name="ledger_entry_one_per_account_per_transfer"),
        ]
        # (account, id, amount) serves both the entries listing and the balance sum (index-only scan).
        indexes = [models.Index(fields=["account", "id", "amount_fen"], name="ledger_entry_account_id_amount")]

    def __str__(self) -> str:
        return f"{self.account}: {format_yuan(self.amount_fen)} (#{self.transfer_id})"


PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class RegionPeriodFigures(models.Model):
    """What a pooling region reports for a period (imported or entered): the inputs of the
    contribution and allocation rule. A row without ``region`` holds the figures of the
    province's own fund (a municipality or a unified province, which has no regional funds);
    the national level adds a province's region rows and its own row."""

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="period_figures")
    region = models.ForeignKey(PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="period_figures")
    period = models.CharField(max_length=7, help_text="YYYY-MM")
    fund_income_fen = models.BigIntegerField()
    fund_expenditure_fen = models.BigIntegerField()
    # The part of the expenditure paid for the region's insured treated outside it (异地就医):
    # what a region's budget of cross-regional expenditure is compared with.
    cross_regional_fen = models.BigIntegerField(default=0, help_text=_("Part of the expenditure spent outside the region (fen)."))
    active_insured = models.PositiveIntegerField()
    retirees = models.PositiveIntegerField()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["period", "region"]
        verbose_name_plural = "region period figures"
        constraints = [
            models.UniqueConstraint(fields=["region", "period"], name="region_period_figures_unique"),
            models.UniqueConstraint(
                fields=["province", "period"], condition=models.Q(region__isnull=True), name="province_period_figures_unique"
            ),
            models.CheckConstraint(name="region_period_figures_income_not_negative", condition=models.Q(fund_income_fen__gte=0)),
            models.CheckConstraint(name="region_period_figures_expenditure_not_negative", condition=models.Q(fund_expenditure_fen__gte=0)),
            models.CheckConstraint(
                name="region_period_figures_cross_regional_within_expenditure",
                condition=models.Q(cross_regional_fen__gte=0, cross_regional_fen__lte=models.F("fund_expenditure_fen")),
            ),
            models.CheckConstraint(name="region_period_figures_period_format", condition=models.Q(period__regex=PERIOD_PATTERN)),
        ]

    def __str__(self) -> str:
        return f"{self.region_id or self.province_id} {self.period}"

    @property
    def unit_code(self) -> str:
        """The pooling unit the row describes: the region's code, or the province's."""
        return self.region.code if self.region is not None else self.province.code

    @property
    def deficit_fen(self) -> int:
        return max(0, self.fund_expenditure_fen - self.fund_income_fen)


class AdjustmentRule(models.Model):
    """How an adjustment fund is fed and shared out (configurable, versioned by date): a
    province's rule (regions ↔ provincial fund) or, without ``province``, the national rule
    (provinces ↔ national fund). The arithmetic is ``adjustment.plan`` (formula text there).

    Contribution: each unit pays ``contribution_share`` of its fund income. Allocation: the
    pot (``allocation_share`` of the contributions) is shared out by a weight that blends the
    unit's dependency ratio (retirees / active insured) and its share of the deficits.
    """

    province = models.ForeignKey(
        Province, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustment_rules", help_text=_("Empty: the national rule.")
    )
    contribution_share = models.DecimalField(max_digits=5, decimal_places=4, help_text="e.g. 0.0500 = 5 % of fund income")
    allocation_share = models.DecimalField(
        max_digits=5, decimal_places=4, default=1, help_text="Share of the period's contributions allocated back out."
    )
    weight_dependency = models.DecimalField(max_digits=5, decimal_places=4, default="0.5", help_text="Weight of retirees/active.")
    weight_deficit = models.DecimalField(max_digits=5, decimal_places=4, default="0.5", help_text="Weight of the deficit share.")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["province", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                name="adjustment_rule_shares_in_range",
                condition=models.Q(contribution_share__gte=0, contribution_share__lte=1, allocation_share__gte=0, allocation_share__lte=1),
            ),
            models.CheckConstraint(
                name="adjustment_rule_weights_not_negative", condition=models.Q(weight_dependency__gte=0, weight_deficit__gte=0)
            ),
            models.UniqueConstraint(fields=["province", "effective_from"], name="adjustment_rule_one_per_province_and_date"),
            models.UniqueConstraint(
                fields=["effective_from"], condition=models.Q(province__isnull=True), name="adjustment_rule_one_national_per_date"
            ),
        ]

    def __str__(self) -> str:
        return f"rule {self.province_id or 'national'} from {self.effective_from}"


class AdjustmentRun(models.Model):
    """One risk-adjustment run of a period at one level, with the formula, the rule's
    parameters, every unit's inputs and results, and the transfers it proposed. A rerun on the
    same inputs is this same row (nothing new is proposed); a rerun on corrected inputs is a new
    row and the old one becomes ``superseded`` (its unapproved proposals voided)."""

    class Level(models.TextChoices):
        PROVINCIAL = "provincial", _("regions ↔ provincial fund")
        NATIONAL = "national", _("provinces ↔ national fund")

    class State(models.TextChoices):
        SUCCEEDED = "succeeded", _("succeeded")
        SUPERSEDED = "superseded", _("superseded")

    level = models.CharField(max_length=16, choices=Level.choices)
    province = models.ForeignKey(Province, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustment_runs")
    period = models.CharField(max_length=7)
    rule = models.ForeignKey(AdjustmentRule, on_delete=models.PROTECT, related_name="runs")
    state = models.CharField(max_length=16, choices=State.choices, default=State.SUCCEEDED)
    inputs_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the rule's parameters and every unit's figures.")
    formula = models.TextField()
    parameters = models.JSONField(default=dict)
    rows = models.JSONField(default=list, help_text="Per unit: inputs, dependency ratio, deficit, weight, contribution, allocation.")
    contributions_fen = models.BigIntegerField(default=0)
    pot_fen = models.BigIntegerField(default=0)
    allocations_fen = models.BigIntegerField(default=0)
    transfer_ids = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                name="adjustment_run_scope_matches_level",
                condition=(models.Q(level="national") & models.Q(province__isnull=True))
                | (models.Q(level="provincial") & models.Q(province__isnull=False)),
            ),
            models.CheckConstraint(name="adjustment_run_period_format", condition=models.Q(period__regex=PERIOD_PATTERN)),
            # The rule's promise, kept by the database too: nothing allocated beyond the pot,
            # the pot never more than was contributed.
            models.CheckConstraint(
                name="adjustment_run_allocations_within_pot",
                condition=models.Q(
                    contributions_fen__gte=0, pot_fen__lte=models.F("contributions_fen"), allocations_fen__lte=models.F("pot_fen")
                )
                & models.Q(allocations_fen__gte=0),
            ),
            models.UniqueConstraint(
                fields=["province", "period"],
                condition=models.Q(state="succeeded", level="provincial"),
                name="adjustment_run_one_live_per_province_period",
            ),
            models.UniqueConstraint(
                fields=["period"], condition=models.Q(state="succeeded", level="national"), name="adjustment_run_one_live_national_period"
            ),
        ]

    def __str__(self) -> str:
        return f"adjustment {self.period} {self.province_id or 'national'} #{self.pk}"

    @property
    def scope_code(self) -> str:
        return self.province.code if self.province is not None else "national"


class AdvanceFundPolicy(models.Model):
    """When a province's advance (预付金) at the national clearing account is topped up: after a
    monthly clearing, a projected balance below ``threshold_fen`` gets a top-up proposal that
    brings it back to ``target_fen``. The rules are not published (DOMAIN.md: configurable)."""

    province = models.OneToOneField(Province, on_delete=models.PROTECT, related_name="advance_policy")
    threshold_fen = models.BigIntegerField(help_text=_("Top up when the advance falls below this (fen)."))
    target_fen = models.BigIntegerField(help_text=_("A top-up brings the advance back to this (fen)."))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["province"]
        verbose_name_plural = "advance fund policies"
        constraints = [
            models.CheckConstraint(
                name="advance_policy_target_at_least_threshold",
                condition=models.Q(threshold_fen__gte=0, target_fen__gte=models.F("threshold_fen")) & models.Q(target_fen__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return f"advance policy {self.province_id}"


class ClearingResult(models.Model):
    """The settled cross-province amounts of one month for one province, as the monthly clearing
    reported them (``signals.clearing_recorded``): what its insured cost in other provinces
    (``payable_fen``, fund share of matched claims, it as home) and what it treated for others
    (``receivable_fen``). Pooling's own record: budgets read it without reading reconciliation."""

    period = models.CharField(max_length=7)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="clearing_results")
    payable_fen = models.BigIntegerField(default=0)
    receivable_fen = models.BigIntegerField(default=0)
    claims = models.BigIntegerField(default=0, help_text=_("Matched claims with the province as home."))
    source = models.CharField(max_length=100, help_text=_("Which clearing reported it, e.g. reconciliation run #12."))
    recorded_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["period", "province"]
        constraints = [
            models.UniqueConstraint(fields=["province", "period"], name="clearing_result_one_per_province_period"),
            models.CheckConstraint(
                name="clearing_result_amounts_not_negative", condition=models.Q(payable_fen__gte=0, receivable_fen__gte=0, claims__gte=0)
            ),
            models.CheckConstraint(name="clearing_result_period_format", condition=models.Q(period__regex=PERIOD_PATTERN)),
        ]

    def __str__(self) -> str:
        return f"clearing {self.period} {self.province_id}"


class PoolingBudget(models.Model):
    """A year's budget of a province (``region`` empty) or of one pooling region: fund expenditure,
    of which ``cross_regional_fen`` is expected to be spent across regions (Zhejiang budgets
    this). Actuals: a region's reported cross-regional expenditure (RegionPeriodFigures), a
    province's settled cross-province amounts (ClearingResult). Once the year's actual reaches
    ``alert_ratio`` of the cross-regional budget, one alert email goes to the province's
    finance staff (``alerted_at``); changing the budget or the ratio arms it again."""

    year = models.PositiveSmallIntegerField()
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="budgets")
    region = models.ForeignKey(PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="budgets")
    expenditure_fen = models.BigIntegerField(help_text=_("Budgeted fund expenditure of the year, cross-regional included (fen)."))
    cross_regional_fen = models.BigIntegerField(help_text=_("Of which expected cross-regional expenditure (fen)."))
    alert_ratio = models.DecimalField(max_digits=5, decimal_places=4, help_text=_("Alert when the actual reaches this share, e.g. 0.9000."))
    alerted_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-year", "province", "region"]
        constraints = [
            models.UniqueConstraint(
                fields=["province", "year"], condition=models.Q(region__isnull=True), name="pooling_budget_one_per_province_year"
            ),
            models.UniqueConstraint(
                fields=["region", "year"], condition=models.Q(region__isnull=False), name="pooling_budget_one_per_region_year"
            ),
            models.CheckConstraint(
                name="pooling_budget_cross_regional_within_expenditure",
                condition=models.Q(cross_regional_fen__gte=0, cross_regional_fen__lte=models.F("expenditure_fen")),
            ),
            models.CheckConstraint(name="pooling_budget_alert_ratio_in_range", condition=models.Q(alert_ratio__gt=0, alert_ratio__lte=5)),
            models.CheckConstraint(name="pooling_budget_year_in_range", condition=models.Q(year__gte=2000, year__lte=2100)),
        ]

    def __str__(self) -> str:
        return f"budget {self.year} {self.region_id or self.province_id}"

    @property
    def unit_code(self) -> str:
        return self.region.code if self.region is not None else self.province.code


class PoolingModelChange(models.Model):
    """A province moving to unified collection and expenditure (统收统支): its regional
    accounts are consolidated into the provincial fund by approved transfers, then a second
    person completes the change (province model, provincial account name and closed regional
    accounts all recorded in history). Nothing changes silently."""

    class State(models.TextChoices):
        PENDING = "pending", _("consolidating")
        COMPLETED = "completed", _("completed")

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="pooling_model_changes")
    to_model = models.CharField(max_length=32, choices=Province.PoolingModel.choices, default=Province.PoolingModel.UNIFIED)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    reason = models.TextField()
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transfer_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["province"], condition=models.Q(state="pending"), name="pooling_model_change_one_pending"),
            models.CheckConstraint(
                name="pooling_model_change_two_people",
                condition=models.Q(completed_by__isnull=True) | ~models.Q(completed_by=models.F("proposed_by")),
            ),
            models.CheckConstraint(
                name="pooling_model_change_completed_has_completer",
                condition=~models.Q(state="completed") | models.Q(completed_by__isnull=False, completed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"pooling model change #{self.pk} {self.province_id} → {self.to_model} ({self.state})"
