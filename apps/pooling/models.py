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
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from apps.benefits.models import PoolingRegion, Province
from apps.core.money import format_yuan


class FundAccount(models.Model):
    class Kind(models.TextChoices):
        NATIONAL = "national", _("National adjustment fund")
        PROVINCIAL = "provincial", _("Provincial fund")
        REGIONAL = "regional", _("Pooling-region fund")
        EXTERNAL = "external", _("External (fund income and payouts)")
        ADVANCE = "advance", _("Advance for cross-province clearing (预付金)")

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    province = models.ForeignKey(
        Province, null=True, blank=True, on_delete=models.PROTECT, related_name="fund_accounts", verbose_name=_("province")
    )
    region = models.ForeignKey(
        PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="fund_accounts", verbose_name=_("region")
    )
    name = models.CharField(max_length=128, verbose_name=_("name"))
    # Moved only by the trigger on entry inserts (migration 0005 refuses any other change; a
    # check selector proves it agrees with their sum); not in history: the entries are its history.
    balance_fen = models.BigIntegerField(default=0, editable=False, verbose_name=_("balance fen"))
    overdraft_limit_fen = models.BigIntegerField(
        default=0, help_text=_("How far below zero the balance may go (≥ 0)."), verbose_name=_("overdraft limit fen")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    # Set when a province moves to unified collection and expenditure and its regional accounts
    # were consolidated (PoolingModelChange); a trigger refuses entries on a closed account.
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Closed accounts take no more entries."), verbose_name=_("closed at")
    )
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
        verbose_name = _("fund account")
        verbose_name_plural = _("fund accounts")

    def __str__(self) -> str:
        return self.name

    @property
    def province_code(self) -> str:
        return self.province.code if self.province is not None else ""

    @property
    def balance_display(self) -> str:
        return format_yuan(self.balance_fen)


class Transfer(models.Model):
    """A movement between two accounts: proposed → posted (approved and posted in one step; its
    history keeps both), or rejected / voided."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        POSTED = "posted", _("Posted")
        REJECTED = "rejected", _("Rejected")
        VOIDED = "voided", _("Voided")

    from_account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="transfers_out", verbose_name=_("from account"))
    to_account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="transfers_in", verbose_name=_("to account"))
    amount_fen = models.BigIntegerField(verbose_name=_("amount fen"))
    memo = models.CharField(max_length=255, blank=True, default="", verbose_name=_("memo"))
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROPOSED, verbose_name=_("state"))
    idempotency_key = models.CharField(max_length=128, verbose_name=_("idempotency key"))
    request_fingerprint = models.CharField(
        max_length=64, editable=False, help_text=_("SHA-256 of the proposal body."), verbose_name=_("request fingerprint")
    )
    # No index of its own: transfer_idempotency_key_unique_per_proposer leads with it.
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="transfers_proposed",
        verbose_name=_("proposed by"),
        db_index=False,
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("approved by")
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Who rejected or voided it."),
        verbose_name=_("closed by"),
    )
    reason = models.TextField(blank=True, default="", help_text=_("Why it was rejected or voided."), verbose_name=_("reason"))
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals", verbose_name=_("reverses")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    approved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved at"))
    posted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("posted at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    # The history is read by transfer (id) and date; copies of the foreign keys' indexes would
    # only be written, twice a posting (issue 22: posting at 1/4 of the bare INSERT rate).
    history = HistoricalRecords(no_db_index=["from_account", "to_account", "proposed_by", "approved_by", "closed_by", "reverses"])

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
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")

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
    account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="entries", db_index=False, verbose_name=_("account"))
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries", db_index=False, verbose_name=_("transfer"))
    amount_fen = models.BigIntegerField(
        help_text=_("Signed: negative debits the account, positive credits it."), verbose_name=_("amount fen")
    )
    posted_at = models.DateTimeField(verbose_name=_("posted at"))

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(name="ledger_entry_amount_not_zero", condition=~models.Q(amount_fen=0)),
            # partitioned by month of posted_at (migration 0007): PostgreSQL wants the key in it
            models.UniqueConstraint(fields=["transfer", "account", "posted_at"], name="ledger_entry_one_per_account_per_transfer"),
        ]
        # (account, id, amount) serves both the entries listing and the balance sum (index-only scan).
        indexes = [models.Index(fields=["account", "id", "amount_fen"], name="ledger_entry_account_id_amount")]
        verbose_name = _("ledger entry")

    def __str__(self) -> str:
        return f"{self.account}: {format_yuan(self.amount_fen)} (#{self.transfer_id})"


PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class RegionPeriodFigures(models.Model):
    """What a pooling region reports for a period (imported or entered): the inputs of the
    contribution and allocation rule. A row without ``region`` holds the figures of the
    province's own fund (a municipality or a unified province, which has no regional funds);
    the national level adds a province's region rows and its own row."""

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="period_figures", verbose_name=_("province"))
    region = models.ForeignKey(
        PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="period_figures", verbose_name=_("region")
    )
    period = models.CharField(max_length=7, help_text=_("YYYY-MM"), verbose_name=_("period"))
    fund_income_fen = models.BigIntegerField(verbose_name=_("fund income fen"))
    fund_expenditure_fen = models.BigIntegerField(verbose_name=_("fund expenditure fen"))
    # The part of the expenditure paid for the region's insured treated outside it (异地就医):
    # what a region's budget of cross-regional expenditure is compared with.
    cross_regional_fen = models.BigIntegerField(
        default=0, help_text=_("Part of the expenditure spent outside the region."), verbose_name=_("cross regional fen")
    )
    active_insured = models.PositiveIntegerField(verbose_name=_("active insured"))
    retirees = models.PositiveIntegerField(verbose_name=_("retirees"))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("entered by")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["period", "region"]
        verbose_name_plural = _("region period figures")
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
        verbose_name = _("region period figures")

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
        Province,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustment_rules",
        help_text=_("Empty: the national rule."),
        verbose_name=_("province"),
    )
    contribution_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        # xgettext:no-python-format
        help_text=_("e.g. 0.0500 = 5 % of fund income"),
        verbose_name=_("contribution share"),
    )
    allocation_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=1,
        help_text=_("Share of the period's contributions allocated back out."),
        verbose_name=_("allocation share"),
    )
    weight_dependency = models.DecimalField(
        max_digits=5, decimal_places=4, default="0.5", help_text=_("Weight of retirees/active."), verbose_name=_("weight dependency")
    )
    weight_deficit = models.DecimalField(
        max_digits=5, decimal_places=4, default="0.5", help_text=_("Weight of the deficit share."), verbose_name=_("weight deficit")
    )
    effective_from = models.DateField(verbose_name=_("effective from"))
    effective_to = models.DateField(null=True, blank=True, verbose_name=_("effective to"))
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
        verbose_name = _("adjustment rule")
        verbose_name_plural = _("adjustment rules")

    def __str__(self) -> str:
        return gettext("rule {scope} from {date}").format(scope=self.province_id or gettext("national"), date=self.effective_from)


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

    level = models.CharField(max_length=16, choices=Level.choices, verbose_name=_("level"))
    province = models.ForeignKey(
        Province, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustment_runs", verbose_name=_("province")
    )
    period = models.CharField(max_length=7, verbose_name=_("period"))
    rule = models.ForeignKey(AdjustmentRule, on_delete=models.PROTECT, related_name="runs", verbose_name=_("rule"))
    state = models.CharField(max_length=16, choices=State.choices, default=State.SUCCEEDED, verbose_name=_("state"))
    inputs_fingerprint = models.CharField(
        max_length=64, help_text=_("SHA-256 of the rule's parameters and every unit's figures."), verbose_name=_("inputs fingerprint")
    )
    formula = models.TextField(verbose_name=_("formula"))
    parameters = models.JSONField(default=dict, verbose_name=_("parameters"))
    rows = models.JSONField(
        default=list, help_text=_("Per unit: inputs, dependency ratio, deficit, weight, contribution, allocation."), verbose_name=_("rows")
    )
    contributions_fen = models.BigIntegerField(default=0, verbose_name=_("contributions fen"))
    pot_fen = models.BigIntegerField(default=0, verbose_name=_("pot fen"))
    allocations_fen = models.BigIntegerField(default=0, verbose_name=_("allocations fen"))
    transfer_ids = models.JSONField(default=list, blank=True, verbose_name=_("transfer ids"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("started by")
    )
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("job"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
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
        verbose_name = _("adjustment run")
        verbose_name_plural = _("adjustment runs")

    def __str__(self) -> str:
        return gettext("adjustment {period} {scope} #{id}").format(
            period=self.period, scope=self.province_id or gettext("national"), id=self.pk
        )

    @property
    def scope_code(self) -> str:
        return self.province.code if self.province is not None else "national"


class AdvanceFundPolicy(models.Model):
    """When a province's advance (预付金) at the national clearing account is topped up: after a
    monthly clearing, a projected balance below ``threshold_fen`` gets a top-up proposal that
    brings it back to ``target_fen``. The rules are not published (DOMAIN.md: configurable)."""

    province = models.OneToOneField(Province, on_delete=models.PROTECT, related_name="advance_policy", verbose_name=_("province"))
    threshold_fen = models.BigIntegerField(help_text=_("Top up when the advance falls below this."), verbose_name=_("threshold fen"))
    target_fen = models.BigIntegerField(help_text=_("A top-up brings the advance back to this."), verbose_name=_("target fen"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("updated by")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["province"]
        verbose_name_plural = _("advance fund policies")
        constraints = [
            models.CheckConstraint(
                name="advance_policy_target_at_least_threshold",
                condition=models.Q(threshold_fen__gte=0, target_fen__gte=models.F("threshold_fen")) & models.Q(target_fen__gt=0),
            ),
        ]
        verbose_name = _("advance fund policy")

    def __str__(self) -> str:
        return gettext("advance policy {province}").format(province=self.province_id)


class ClearingResult(models.Model):
    """The settled cross-province amounts of one month for one province, as the monthly clearing
    reported them (``signals.clearing_recorded``): what its insured cost in other provinces
    (``payable_fen``, fund share of matched claims and of resolved discrepancies netted in the
    run, it as home) and what it treated for others (``receivable_fen``). Pooling's own record: budgets read it without reading reconciliation."""

    period = models.CharField(max_length=7, verbose_name=_("period"))
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="clearing_results", verbose_name=_("province"))
    payable_fen = models.BigIntegerField(default=0, verbose_name=_("payable fen"))
    receivable_fen = models.BigIntegerField(default=0, verbose_name=_("receivable fen"))
    claims = models.BigIntegerField(default=0, help_text=_("Matched claims with the province as home."), verbose_name=_("claims"))
    source = models.CharField(
        max_length=100, help_text=_("Which clearing reported it, e.g. reconciliation run #12."), verbose_name=_("source")
    )
    recorded_at = models.DateTimeField(auto_now=True, verbose_name=_("recorded at"))
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
        verbose_name = _("clearing result")
        verbose_name_plural = _("clearing results")

    def __str__(self) -> str:
        return gettext("clearing {period} {province}").format(period=self.period, province=self.province_id)


class PoolingBudget(models.Model):
    """A year's budget of a province (``region`` empty) or of one pooling region: fund expenditure,
    of which ``cross_regional_fen`` is expected to be spent across regions (Zhejiang budgets
    this). Actuals: a region's reported cross-regional expenditure (RegionPeriodFigures), a
    province's settled cross-province amounts (ClearingResult). Once the year's actual reaches
    ``alert_ratio`` of the cross-regional budget, one alert email goes to the province's
    finance staff (``alerted_at``); changing the budget or the ratio arms it again."""

    year = models.PositiveSmallIntegerField(verbose_name=_("year"))
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="budgets", verbose_name=_("province"))
    region = models.ForeignKey(
        PoolingRegion, null=True, blank=True, on_delete=models.PROTECT, related_name="budgets", verbose_name=_("region")
    )
    expenditure_fen = models.BigIntegerField(
        help_text=_("Budgeted fund expenditure of the year, cross-regional included."), verbose_name=_("expenditure fen")
    )
    cross_regional_fen = models.BigIntegerField(
        help_text=_("Of which expected cross-regional expenditure."), verbose_name=_("cross regional fen")
    )
    alert_ratio = models.DecimalField(
        max_digits=5, decimal_places=4, help_text=_("Alert when the actual reaches this share, e.g. 0.9000."), verbose_name=_("alert ratio")
    )
    alerted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("alerted at"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("updated by")
    )
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
        verbose_name = _("pooling budget")
        verbose_name_plural = _("pooling budgets")

    def __str__(self) -> str:
        return gettext("budget {year} {unit}").format(year=self.year, unit=self.region_id or self.province_id)

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

    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="pooling_model_changes", verbose_name=_("province"))
    to_model = models.CharField(
        max_length=32, choices=Province.PoolingModel.choices, default=Province.PoolingModel.UNIFIED, verbose_name=_("to model")
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, verbose_name=_("state"))
    reason = models.TextField(verbose_name=_("reason"))
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by"))
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("completed by")
    )
    transfer_ids = models.JSONField(default=list, blank=True, verbose_name=_("transfer ids"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
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
        verbose_name = _("pooling model change")
        verbose_name_plural = _("pooling model changes")

    def __str__(self) -> str:
        return gettext("pooling model change #{id} {province} → {model} ({state})").format(
            id=self.pk, province=self.province_id, model=self.get_to_model_display(), state=self.get_state_display()
        )


class LedgerArchive(models.Model):
    """What a detached month of ledger entries held, per account (``manage.py detach_partition
    ledger YYYY-MM``): the entries left the table, their sums stay here, so the balance checks
    (``selectors.ledger_balance_mismatches``, ``unbalanced_transfers``) still add up. Written once
    per detached month and account, never changed."""

    partition = models.CharField(
        max_length=63, help_text=_("The detached table that holds the month's entries."), verbose_name=_("partition")
    )
    period_start = models.DateTimeField(verbose_name=_("period start"))
    period_end = models.DateTimeField(verbose_name=_("period end"))
    account = models.ForeignKey(FundAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("account"))
    entries = models.BigIntegerField(verbose_name=_("entries"))
    entries_fen = models.BigIntegerField(verbose_name=_("entries fen"))
    detached_at = models.DateTimeField(auto_now_add=True, verbose_name=_("detached at"))

    class Meta:
        ordering = ["period_start", "account"]
        constraints = [models.UniqueConstraint(fields=["partition", "account"], name="ledger_archive_once_per_month_and_account")]
        # Every INSERT of entries asks whether an archived month covers their date (pooling
        # 0014): for a posting dated now no archived month ends later, an empty range here.
        indexes = [models.Index(fields=["period_end"], name="ledger_archive_by_end")]
        verbose_name = _("ledger archive")
        verbose_name_plural = _("ledger archives")

    def __str__(self) -> str:
        return gettext("{partition}: account {account} {amount}").format(
            partition=self.partition, account=self.account_id, amount=format_yuan(self.entries_fen)
        )
