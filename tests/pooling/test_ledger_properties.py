"""Stateful property test: whatever sequence of proposals, approvals, rejections and voids
happens across accounts, money is neither created nor lost and no account overdraws."""

import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from apps.core.errors import Conflict
from apps.core.roles import Role
from apps.pooling import selectors, services
from apps.pooling.models import FundAccount, LedgerEntry, Transfer
from tests.factories import staff
from tests.pooling.conftest import SC, SH

pytestmark = pytest.mark.django_db


def test_random_workflows_keep_the_ledger_sound(people):
    superuser = staff(Role.FINANCE_CHECKER, SH, username="nhsa-root")
    superuser.is_superuser = True
    superuser.save()
    accounts = list(
        FundAccount.objects.select_related("province").filter(province__code__in=[SH, SC]) | FundAccount.objects.filter(kind="national")
    )
    makers = {SH: people.sh_maker, SC: people.sc_maker}
    checkers = {SH: [people.sh_checker, people.sh_checker2], SC: [people.sc_checker], "": [superuser]}
    keys = itertools.count()

    class Ledger(RuleBasedStateMachine):
        transfers = Bundle("transfers")

        def __init__(self) -> None:
            super().__init__()
            self.savepoint = transaction.savepoint()
            self.expected = {a.pk: a.balance_fen for a in FundAccount.objects.all()}

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        @initialize()
        def seed_income(self) -> None:
            for account in accounts:
                if account.kind in ("provincial", "regional"):
                    external = next(a for a in accounts if a.kind == "external" and a.province_id == account.province_id)
                    self._post(self._propose(external, account, 1_000_00))

        def _propose(self, source: FundAccount, target: FundAccount, amount: int) -> Transfer:
            maker = makers[source.province_code or target.province_code]
            return services.transfer_propose(
                from_account=source, to_account=target, amount_fen=amount, memo="", proposer=maker, idempotency_key=f"p{next(keys)}"
            )

        def _post(self, transfer: Transfer) -> None:
            services.transfer_approve(transfer=transfer, approver=checkers[transfer.from_account.province_code][0])
            self.expected[transfer.from_account_id] -= transfer.amount_fen
            self.expected[transfer.to_account_id] += transfer.amount_fen

        @rule(target=transfers, source=st.sampled_from(accounts), target_account=st.sampled_from(accounts), amount=st.integers(1, 600_00))
        def propose(self, source: FundAccount, target_account: FundAccount, amount: int) -> Transfer | None:
            if source.pk == target_account.pk:
                return None
            available = selectors.account_available_fen(account=FundAccount.objects.get(pk=source.pk))
            try:
                return self._propose(source, target_account, amount)
            except Conflict as exc:
                # A person never proposes more than the debited account can still pay.
                assert exc.code == "insufficient_funds" and available is not None and amount > available
                return None

        @rule(transfer=transfers, pick=st.integers(0, 1))
        def approve(self, transfer: Transfer | None, pick: int) -> None:
            if transfer is None:
                return
            transfer.refresh_from_db()
            debit = FundAccount.objects.get(pk=transfer.from_account_id)
            candidates = checkers[debit.province_code]
            approver = candidates[pick % len(candidates)]
            try:
                services.transfer_approve(transfer=transfer, approver=approver)
            except Conflict as exc:
                if exc.code == "insufficient_funds":
                    assert debit.kind != "external" and debit.balance_fen - transfer.amount_fen < -debit.overdraft_limit_fen
                else:
                    assert exc.code == "transfer_not_proposed" and transfer.state != "proposed"
                return
            self.expected[transfer.from_account_id] -= transfer.amount_fen
            self.expected[transfer.to_account_id] += transfer.amount_fen

        @rule(transfer=transfers)
        def reject(self, transfer: Transfer | None) -> None:
            if transfer is None:
                return
            transfer.refresh_from_db()
            checker = checkers[FundAccount.objects.get(pk=transfer.from_account_id).province_code][0]
            try:
                services.transfer_reject(transfer=transfer, user=checker, reason="no")
            except Conflict as exc:
                assert exc.code == "transfer_not_proposed"

        @rule(transfer=transfers)
        def void(self, transfer: Transfer | None) -> None:
            if transfer is None:
                return
            transfer.refresh_from_db()
            try:
                services.transfer_void(transfer=transfer, user=transfer.proposed_by, reason="withdrawn")
            except Conflict as exc:
                assert exc.code == "transfer_not_proposed"

        @rule(account=st.sampled_from([a for a in accounts if a.kind != "external"]), limit=st.integers(0, 100_00))
        def change_overdraft_limit(self, account: FundAccount, limit: int) -> None:
            try:
                services.account_set_overdraft_limit(
                    account=account, limit_fen=limit, user=checkers[account.province_code][0], reason="test"
                )
            except Conflict as exc:
                assert exc.code == "insufficient_funds"

        @invariant()
        def total_of_all_balances_is_constant(self) -> None:
            assert selectors.ledger_total_fen() == 0

        @invariant()
        def balances_are_what_the_postings_say(self) -> None:
            assert dict(FundAccount.objects.values_list("pk", "balance_fen")) == self.expected
            assert selectors.ledger_balance_mismatches() == []

        @invariant()
        def no_account_below_its_overdraft_limit(self) -> None:
            for account in FundAccount.objects.exclude(kind="external"):
                assert account.balance_fen >= -account.overdraft_limit_fen, account

        @invariant()
        def every_posted_transfer_has_two_entries_summing_to_zero(self) -> None:
            assert selectors.unbalanced_transfers() == []
            posted = Transfer.objects.filter(state="posted").count()
            assert LedgerEntry.objects.count() == 2 * posted

    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
