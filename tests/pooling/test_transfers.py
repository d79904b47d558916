import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.errors import Conflict, Forbidden, ValidationFailed
from apps.core.roles import Role
from apps.pooling import selectors, services
from apps.pooling.models import FundAccount, LedgerEntry, Transfer
from tests.factories import staff
from tests.pooling.conftest import SC, SH, account, fund, key

pytestmark = pytest.mark.django_db


@pytest.fixture
def sh_fund(people):
    provincial = account("provincial", SH)
    fund(provincial, 100_00, people)
    provincial.refresh_from_db()
    return provincial


def propose(people, amount=10_00, source=None, target=None, proposer=None, idem=None):
    return services.transfer_propose(
        from_account=source or account("provincial", SH),
        to_account=target or account("national"),
        amount_fen=amount,
        memo="contribution",
        proposer=proposer or people.sh_maker,
        idempotency_key=idem or key(),
    )


def test_approval_posts_two_entries_that_sum_to_zero(people, sh_fund):
    transfer = services.transfer_approve(transfer=propose(people), approver=people.sh_checker)
    amounts = sorted(LedgerEntry.objects.filter(transfer=transfer).values_list("amount_fen", flat=True))
    assert (transfer.state, amounts) == ("posted", [-10_00, 10_00])


def test_maintained_balances_agree_with_sum_of_entries(people, sh_fund):
    services.transfer_approve(transfer=propose(people, 30_00), approver=people.sh_checker)
    assert selectors.ledger_balance_mismatches() == []
    assert account("provincial", SH).balance_fen == selectors.account_balance_from_entries(account=sh_fund) == 70_00


def _drift_balance(account_id: int, balance_fen: int) -> None:
    """Set a balance behind the ledger's back: only a superuser switching triggers off can (the tests run as one)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE pooling_fundaccount SET balance_fen = %s WHERE id = %s", [balance_fen, account_id])
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_balance_mismatch_is_detected_when_column_drifts(people, sh_fund):
    _drift_balance(sh_fund.pk, 1)
    assert [row["account"] for row in selectors.ledger_balance_mismatches()] == [sh_fund.pk]


def test_whole_ledger_sums_to_zero_because_income_comes_from_external_account(people, sh_fund):
    assert selectors.ledger_total_fen() == 0
    assert account("external", SH).balance_fen == -100_00


def test_same_key_and_body_returns_the_same_transfer(people, sh_fund):
    first = propose(people, idem="k-1")
    again = propose(people, idem="k-1")
    assert (again.pk, Transfer.objects.count()) == (first.pk, 2)  # 2 = the funding transfer + this one


def test_same_key_with_another_body_is_a_conflict(people, sh_fund):
    propose(people, amount=10_00, idem="k-2")
    with pytest.raises(Conflict) as err:
        propose(people, amount=11_00, idem="k-2")
    assert err.value.code == "idempotency_key_conflict"


def test_same_key_of_another_proposer_is_a_separate_transfer(people, sh_fund):
    other_maker = staff(Role.FINANCE_MAKER, SH, username="sh-maker-2")
    assert propose(people, idem="k-3").pk != propose(people, idem="k-3", proposer=other_maker).pk


def test_proposer_cannot_approve_her_own_transfer(people, sh_fund):
    with pytest.raises(Conflict) as err:
        services.transfer_approve(transfer=propose(people), approver=people.sh_maker)
    assert err.value.code == "same_user_cannot_approve"


def test_same_user_refusal_comes_before_role_check(people, sh_fund):
    lone_maker = staff(Role.FINANCE_MAKER, SH, username="maker-no-checker-role")
    transfer = propose(people, proposer=lone_maker)
    with pytest.raises(Conflict) as err:  # she is not a checker either: 409 first, not 403
        services.transfer_approve(transfer=transfer, approver=lone_maker)
    assert err.value.code == "same_user_cannot_approve"


def test_checker_of_another_province_is_refused(people, sh_fund):
    with pytest.raises(Forbidden) as err:
        services.transfer_approve(transfer=propose(people), approver=people.sc_checker)
    assert err.value.code == "wrong_province"


def test_maker_role_cannot_approve(people, sh_fund):
    other_maker = staff(Role.FINANCE_MAKER, SH, username="sh-maker-3")
    with pytest.raises(Forbidden) as err:
        services.transfer_approve(transfer=propose(people), approver=other_maker)
    assert err.value.code == "permission_denied"


def test_maker_of_an_uninvolved_province_cannot_propose(people, sh_fund):
    with pytest.raises(Forbidden) as err:
        propose(people, proposer=people.sc_maker)
    assert err.value.code == "wrong_province"


def test_amount_must_be_positive(people, sh_fund):
    with pytest.raises(ValidationFailed) as err:
        propose(people, amount=0)
    assert err.value.errors[0]["field"] == "amount_fen"


def test_a_persons_proposal_beyond_the_available_balance_is_refused_at_proposal(people, sh_fund):
    with pytest.raises(Conflict) as err:
        propose(people, amount=100_01)
    assert (err.value.code, Transfer.objects.filter(amount_fen=100_01).exists()) == ("insufficient_funds", False)


def test_debits_waiting_for_approval_count_against_the_available_balance(people, sh_fund):
    propose(people, amount=60_00)
    with pytest.raises(Conflict) as err:
        propose(people, amount=40_01)
    assert (err.value.code, selectors.account_available_fen(account=sh_fund)) == ("insufficient_funds", 40_00)


def test_a_proposal_of_exactly_the_available_balance_is_accepted(people, sh_fund):
    assert propose(people, amount=100_00).state == "proposed"


def test_overdraft_is_refused_and_the_transfer_stays_proposed(people, sh_fund):
    # A process (reconciliation, risk adjustment) proposes what is owed; approval checks the balance.
    transfer = propose(people, amount=100_01, proposer=services.system_proposer(name="reconciliation"))
    with pytest.raises(Conflict) as err:
        services.transfer_approve(transfer=transfer, approver=people.sh_checker)
    transfer.refresh_from_db()
    assert (err.value.code, transfer.state, LedgerEntry.objects.filter(transfer=transfer).count()) == ("insufficient_funds", "proposed", 0)


def test_overdraft_limit_lets_a_balance_go_below_zero_up_to_the_limit(people, sh_fund):
    services.account_set_overdraft_limit(account=sh_fund, limit_fen=5_00, user=people.sh_checker, reason="bridge")
    services.transfer_approve(transfer=propose(people, amount=105_00), approver=people.sh_checker)
    assert account("provincial", SH).balance_fen == -5_00


def test_rejected_transfer_cannot_be_approved_later(people, sh_fund):
    transfer = services.transfer_reject(transfer=propose(people), user=people.sh_checker, reason="wrong period")
    with pytest.raises(Conflict) as err:
        services.transfer_approve(transfer=transfer, approver=people.sh_checker2)
    assert err.value.code == "transfer_not_proposed"


def test_rejection_needs_a_reason(people, sh_fund):
    with pytest.raises(ValidationFailed):
        services.transfer_reject(transfer=propose(people), user=people.sh_checker, reason=" ")


def test_proposer_may_void_her_proposal(people, sh_fund):
    transfer = services.transfer_void(transfer=propose(people), user=people.sh_maker, reason="typo")
    assert (transfer.state, transfer.closed_by) == ("voided", people.sh_maker)


def test_posted_transfer_cannot_be_voided(people, sh_fund):
    transfer = services.transfer_approve(transfer=propose(people), approver=people.sh_checker)
    with pytest.raises(Conflict) as err:
        services.transfer_void(transfer=transfer, user=people.sh_checker, reason="oops")
    assert err.value.code == "transfer_not_proposed"


def test_posted_transfer_is_undone_by_an_approved_reversal(people, sh_fund):
    transfer = services.transfer_approve(transfer=propose(people, amount=40_00), approver=people.sh_checker)
    reversal = services.transfer_reverse(transfer=transfer, user=people.sh_maker, reason="paid twice")
    # the national fund is debited by the reversal: approved by a superuser (no national checker configured)
    admin = staff(Role.FINANCE_CHECKER, SH, username="national-admin")
    admin.is_superuser = True
    admin.save()
    services.transfer_approve(transfer=reversal, approver=admin)
    assert (account("provincial", SH).balance_fen, reversal.reverses_id) == (100_00, transfer.pk)


def test_history_records_proposal_approval_and_posting(people, sh_fund):
    transfer = services.transfer_approve(transfer=propose(people), approver=people.sh_checker)
    rows = list(transfer.history.order_by("history_id").values_list("state", "history_user__username"))
    assert rows == [("proposed", "sh-maker"), ("approved", "sh-checker"), ("posted", "sh-checker")]


def test_system_proposer_can_propose_and_a_checker_approves(people, sh_fund):
    robot = services.system_proposer(name="reconciliation")
    transfer = propose(people, proposer=robot, idem="recon:2026-01:310000")
    assert services.transfer_approve(transfer=transfer, approver=people.sh_checker).state == "posted"


def test_every_province_has_provincial_and_external_accounts_and_one_national_fund(ledger):
    from apps.benefits.models import Province

    provinces = Province.objects.count()
    assert FundAccount.objects.filter(kind="provincial").count() == FundAccount.objects.filter(kind="external").count() == provinces
    assert FundAccount.objects.filter(kind="national").count() == 1


def test_regions_of_adjustment_fund_provinces_have_accounts(ledger):
    assert account("regional", region="510100").province_code == SC


# --- the database holds the line even when the service is bypassed ------------------------------


def _posted(people):
    return services.transfer_approve(transfer=propose(people), approver=people.sh_checker)


def test_raw_sql_update_of_a_posted_entry_fails(people, sh_fund):
    entry = LedgerEntry.objects.filter(transfer=_posted(people)).first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE pooling_ledgerentry SET amount_fen = amount_fen * 2 WHERE id = %s", [entry.pk])


def test_raw_sql_delete_of_a_posted_entry_fails(people, sh_fund):
    entry = LedgerEntry.objects.filter(transfer=_posted(people)).first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM pooling_ledgerentry WHERE id = %s", [entry.pk])


def test_database_refuses_approver_equal_to_proposer_even_without_service(people, sh_fund):
    transfer = propose(people)
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.filter(pk=transfer.pk).update(state="approved", approved_by=people.sh_maker)


def test_database_refuses_entries_that_do_not_balance(people, sh_fund):
    transfer = _posted(people)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, 1, now())",
            [account("national").pk, transfer.pk],
        )  # refused by the statement's own check (pooling_entries_apply), not at commit


def test_database_refuses_entries_for_a_transfer_that_is_not_posted(people, sh_fund):
    transfer = propose(people)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        for acc, amount in ((transfer.from_account_id, -transfer.amount_fen), (transfer.to_account_id, transfer.amount_fen)):
            cursor.execute(
                "INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, now())",
                [acc, transfer.pk, amount],
            )  # the first entry is refused: its transfer is not posted


def test_database_refuses_changing_a_posted_transfer(people, sh_fund):
    transfer = _posted(people)
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.filter(pk=transfer.pk).update(memo="rewritten")


def test_database_refuses_a_balance_below_the_overdraft_limit(people, sh_fund):
    with pytest.raises(IntegrityError, match="fund_account_within_overdraft_limit"), transaction.atomic():
        _drift_balance(sh_fund.pk, -1)  # the CHECK holds even with the triggers off


def test_database_refuses_setting_a_balance_without_an_entry(people, sh_fund):
    with pytest.raises(IntegrityError, match="moves only with a ledger entry"), transaction.atomic():
        FundAccount.objects.filter(pk=sh_fund.pk).update(balance_fen=F("balance_fen") + 1)


def test_database_refuses_marking_a_transfer_posted_without_its_entries(people, sh_fund):
    transfer = propose(people)
    with pytest.raises(IntegrityError, match="do not balance"), transaction.atomic(), connection.cursor() as cursor:
        Transfer.objects.filter(pk=transfer.pk).update(state="approved", approved_by=people.sh_checker)
        Transfer.objects.filter(pk=transfer.pk).update(state="posted", posted_at=timezone.now())
        cursor.execute("SET CONSTRAINTS pooling_transfer_posted_balanced IMMEDIATE")


def test_database_refuses_a_non_positive_amount(people, sh_fund):
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.filter(pk=propose(people).pk).update(amount_fen=0)


def test_database_refuses_a_second_transfer_with_the_same_key_for_the_same_proposer(people, sh_fund):
    transfer = propose(people, idem="dup")
    clone = Transfer(
        from_account_id=transfer.from_account_id,
        to_account_id=transfer.to_account_id,
        amount_fen=1,
        idempotency_key="dup",
        request_fingerprint="x",
        proposed_by=people.sh_maker,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_sc_accounts_untouched_by_sh_work(people, sh_fund):
    _posted(people)
    assert account("provincial", SC).balance_fen == 0


def test_national_fund_debits_are_approved_by_checkers_of_the_configured_province(people, sh_fund, settings):
    settings.POOLING_NATIONAL_FUND_PROVINCE = SC
    services.transfer_approve(transfer=propose(people, amount=50_00), approver=people.sh_checker)
    payout = propose(people, amount=20_00, source=account("national"), target=account("provincial", SH))
    assert services.transfer_approve(transfer=payout, approver=people.sc_checker).state == "posted"


def test_national_fund_debits_need_a_superuser_when_no_province_is_configured(people, sh_fund):
    services.transfer_approve(transfer=propose(people, amount=50_00), approver=people.sh_checker)
    payout = propose(people, amount=20_00, source=account("national"), target=account("provincial", SH))
    with pytest.raises(Forbidden) as err:
        services.transfer_approve(transfer=payout, approver=people.sh_checker)
    assert err.value.code == "wrong_province"


def test_approval_records_the_approved_and_posted_steps_and_one_audit_event(people, sh_fund):
    from apps.core.models import AuditEvent

    fund(account("provincial", SH), 2_000_000_00, people)
    transfer = propose(people, amount=1_234_567_89)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    services.transfer_approve(transfer=transfer, approver=people.sh_checker)
    steps = list(transfer.history.order_by("history_id").values_list("state", "history_change_reason", "history_user_id"))
    event = AuditEvent.objects.get(pk__gt=last)
    assert steps[-2:] == [("approved", "approved", people.sh_checker.pk), ("posted", "posted", people.sh_checker.pk)]
    assert (event.action, event.actor_id, event.actor_label, event.province_code, event.object_id) == (
        "transfer.posted",
        people.sh_checker.pk,
        people.sh_checker.username,
        SH,
        str(transfer.pk),
    )
    assert event.object_repr == str(Transfer.objects.get(pk=transfer.pk))
    assert event.detail == {
        "amount_fen": 1_234_567_89,
        "from_account": transfer.from_account_id,
        "to_account": transfer.to_account_id,
        "from_province": SH,
        "to_province": "",
        "reverses": None,
    }


def test_approving_a_bare_reference_returns_the_whole_posted_transfer(people, sh_fund):
    proposed = propose(people)
    posted = services.transfer_approve(transfer=Transfer(pk=proposed.pk), approver=people.sh_checker)
    assert (posted.state, posted.amount_fen, posted.approved_by_id) == ("posted", 10_00, people.sh_checker.pk)


def test_an_unknown_transfer_is_not_found(people):
    from apps.core.errors import NotFound

    with pytest.raises(NotFound):
        services.transfer_approve(transfer=Transfer(pk=987654321), approver=people.sh_checker)
