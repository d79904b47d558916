"""Adjustment-fund accounts and their double-entry ledger (PRODUCT.md §3).

Every movement is a ``Transfer`` between two ``FundAccount`` rows; posting it writes exactly two
``LedgerEntry`` rows (−amount on the debited account, +amount on the credited one), so the
ledger as a whole always sums to zero. Money enters and leaves only through the ``external``
account of each province. The database enforces what protects money (migrations 0002, 0005):
entries of a transfer sum to zero and a posted transfer has them (deferred constraint
triggers), entries never change, a finished transfer never changes, balances move only with
entries, approver ≠ proposer, amount > 0, one idempotency key per proposer, one live reversal
per transfer, no account below its overdraft limit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from apps.benefits.models import PoolingRegion, Province
from apps.core.money import format_yuan


class FundAccount(models.Model):
    class Kind(models.TextChoices):
        NATIONAL = "national", "National adjustment fund"
        PROVINCIAL = "provincial", "Provincial fund"
        REGIONAL = "regional", "Pooling-region fund"
        EXTERNAL = "external", "External (fund income and payouts)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    province = models.ForeignKey(Province, null=True, blank=True, on_delete=models.PROTECT, related_name="fund_accounts")
    region = models.ForeignKey(PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="fund_accounts")
    name = models.CharField(max_length=128)
    # Moved only by the trigger on entry inserts (migration 0005 refuses any other change; a
    # check selector proves it agrees with their sum); not in history: the entries are its history.
    balance_fen = models.BigIntegerField(default=0, editable=False)
    overdraft_limit_fen = models.BigIntegerField(default=0, help_text="How far below zero the balance may go (fen, ≥ 0).")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["balance_fen"])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                name="fund_account_kind_valid", condition=models.Q(kind__in=["national", "provincial", "regional", "external"])
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
                | (models.Q(kind__in=["provincial", "external"]) & models.Q(province__isnull=False) & models.Q(region__isnull=True))
                | (models.Q(kind="regional") & models.Q(province__isnull=False) & models.Q(region__isnull=False)),
            ),
            models.UniqueConstraint(fields=["kind"], condition=models.Q(kind="national"), name="one_national_fund"),
            models.UniqueConstraint(
                fields=["province", "kind"], condition=models.Q(kind__in=["provincial", "external"]), name="one_fund_of_a_kind_per_province"
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
        return f"transfer #{self.pk} {format_yuan(self.amount_fen)} {self.from_account_id}→{self.to_account_id} ({self.state})"

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
        return f"{self.account_id}: {format_yuan(self.amount_fen)} (transfer {self.transfer_id})"


class RegionPeriodFigures(models.Model):
    """What a pooling region reports for a period (imported or entered): the inputs of the
    contribution and allocation rule."""

    region = models.ForeignKey(PoolingRegion, on_delete=models.PROTECT, related_name="period_figures")
    period = models.CharField(max_length=7, help_text="YYYY-MM")
    fund_income_fen = models.BigIntegerField()
    fund_expenditure_fen = models.BigIntegerField()
    active_insured = models.PositiveIntegerField()
    retirees = models.PositiveIntegerField()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["period", "region"]
        verbose_name_plural = "region period figures"
        constraints = [
            models.UniqueConstraint(fields=["region", "period"], name="region_period_figures_unique"),
            models.CheckConstraint(name="region_period_figures_income_not_negative", condition=models.Q(fund_income_fen__gte=0)),
            models.CheckConstraint(name="region_period_figures_expenditure_not_negative", condition=models.Q(fund_expenditure_fen__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.region_id} {self.period}"

    @property
    def deficit_fen(self) -> int:
        return max(0, self.fund_expenditure_fen - self.fund_income_fen)


class AdjustmentRule(models.Model):
    """How a province's adjustment fund is fed and shared out (configurable, versioned by date).

    Contribution: each region pays ``contribution_share`` of its fund income into the provincial
    fund. Allocation: the pot is shared out by a weight that blends the region's retiree burden
    (retirees / active insured) and its share of the province's deficit.
    """

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="adjustment_rules")
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
        ]

    def __str__(self) -> str:
        return f"rule {self.province_id} from {self.effective_from}"
