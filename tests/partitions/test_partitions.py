"""Ledger entries by month (RANGE) and settlement records by period (LIST), issue 22: partitions
appear when the posting and import paths need them, old months detach with their sums kept, and
the ledger's invariants hold under raw SQL as the application's role (partitions included)."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from apps.core.errors import Conflict
from apps.core.models import AuditAction, AuditEvent
from apps.core.partitioning import partitions_of
from apps.pooling import selectors, services
from apps.pooling.models import LedgerArchive, LedgerEntry
from apps.reconciliation.models import SettlementRecord
from tests.pooling.conftest import SC, SH, account, fund, key
from tests.reconciliation.conftest import row
from tests.security.test_db_invariants_as_app_role import PRIVILEGE, TRIGGER, committed, refused

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _names(table: str) -> list[str]:
    return [name for name, _ in partitions_of(table)]


def _pay(people, amount_fen: int) -> None:
    transfer = services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("provincial", SC),
        amount_fen=amount_fen,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    services.transfer_approve(transfer=transfer, approver=people.sh_checker)


# --- ledger entries by month ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_first_posting_of_a_month_creates_its_partition_in_shanghai_time(people):
    # 31 May 2031 17:00 UTC is already 1 June in Shanghai
    with time_machine.travel(dt.datetime(2031, 5, 31, 17, 0, tzinfo=dt.UTC), tick=False):
        fund(account("provincial", SH), 10_00, people)
    assert "pooling_ledgerentry_m203106" in _names("pooling_ledgerentry")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pooling_ledgerentry_m203106")
        assert cursor.fetchone()[0] == 2


# Detaching is its own transaction after the month's postings committed (their deferred balance
# checks ran then): these tests commit too, each with a month of its own (detached tables stay).
committed_ledger = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@committed_ledger
def test_a_month_of_entries_detaches_and_the_balance_checks_still_add_up(people):
    with time_machine.travel(dt.datetime(2025, 1, 15, 10, tzinfo=SHANGHAI), tick=False):
        fund(account("provincial", SH), 500_00, people)
        _pay(people, 100_00)
    with time_machine.travel(dt.datetime(2025, 2, 15, 10, tzinfo=SHANGHAI), tick=False):
        _pay(people, 7_00)
    detail = services.ledger_month_detach(period="2025-01")
    assert (detail["entries"], "pooling_ledgerentry_m202501" in _names("pooling_ledgerentry")) == (4, False)
    assert (LedgerEntry.objects.count(), selectors.ledger_balance_mismatches(), selectors.unbalanced_transfers()) == (2, [], [])
    assert selectors.account_balance_from_entries(account=account("provincial", SH)) == 500_00 - 100_00 - 7_00
    assert LedgerArchive.objects.filter(partition="pooling_ledgerentry_m202501").count() == 3  # external, Shanghai, Sichuan


@committed_ledger
def test_a_statement_after_the_detached_month_keeps_its_opening_balance(people, api):
    with time_machine.travel(dt.datetime(2024, 11, 15, 10, tzinfo=SHANGHAI), tick=False):
        fund(account("provincial", SH), 500_00, people)
    with time_machine.travel(dt.datetime(2024, 12, 15, 10, tzinfo=SHANGHAI), tick=False):
        _pay(people, 7_00)
    services.ledger_month_detach(period="2024-11")
    body = api(people.sh_maker).get(f"/api/v1/accounts/{account('provincial', SH).pk}/statement/?from=2024-12-01&to=2024-12-31").json()
    assert (body["opening_balance_fen"], body["closing_balance_fen"]) == (500_00, 493_00)


@pytest.mark.django_db
def test_last_month_is_not_detached(people):
    last = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    with pytest.raises(Conflict) as refused_:
        services.ledger_month_detach(period=last)
    assert refused_.value.code == "partition_in_use"


@committed_ledger
def test_detaching_writes_one_audit_event(people):
    with time_machine.travel(dt.datetime(2024, 9, 15, 10, tzinfo=SHANGHAI), tick=False):
        fund(account("provincial", SH), 1_00, people)
    before = AuditEvent.objects.count()
    services.ledger_month_detach(period="2024-09")
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)[before:]) == [AuditAction.PARTITION_DETACHED]


# --- settlement records by period -----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_import_creates_the_periods_partition_and_the_command_detaches_it(recon_default_plan):
    recon_default_plan.load("home", row("P-1", home=SC, dest=SH), row("P-2", home=SC, dest=SH))
    assert "reconciliation_settlementrecord_p202603" in _names("reconciliation_settlementrecord")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reconciliation_settlementrecord_p202603")
        assert cursor.fetchone()[0] == 2
    with connection.cursor() as cursor:  # as the import's commit would: its deferred checks run before a detach
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    out = io.StringIO()
    call_command("detach_partition", "settlements", "2026-03", stdout=out)
    assert ("reconciliation_settlementrecord_p202603 (records 2)" in out.getvalue(), SettlementRecord.objects.count()) == (True, 0)


@pytest.mark.django_db
def test_a_month_close_reads_its_partition_only(recon_default_plan):
    recon_default_plan.load("home", row("P-1", home=SC, dest=SH), period="2026-02")
    recon_default_plan.both(row("P-2", home=SC, dest=SH))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT settlement_id FROM reconciliation_settlementrecord WHERE period = '2026-03'")
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert ("p202603" in plan, "p202602" in plan) == (True, False)


@pytest.mark.django_db
def test_the_list_option_names_the_partitions(recon_default_plan):
    recon_default_plan.load("home", row("P-1", home=SC, dest=SH))
    out = io.StringIO()
    call_command("detach_partition", "settlements", "--list", stdout=out)
    assert "reconciliation_settlementrecord_p202603\tFOR VALUES IN ('2026-03')" in out.getvalue()


# --- as the application's role -------------------------------------------------------------------------


@committed
def test_the_app_role_cannot_write_to_a_partition_directly(app_sql, people):
    fund(account("provincial", SH), 10_00, people)
    partition = _names("pooling_ledgerentry")[0]
    entry = LedgerEntry.objects.first()
    error = refused(
        app_sql,
        (
            f"INSERT INTO {partition} (id, account_id, transfer_id, amount_fen, posted_at) VALUES (-1, %s, %s, 5, now())",
            [entry.account_id, entry.transfer_id],
        ),
        sqlstate=PRIVILEGE,
        commit=False,
    )
    assert "permission denied" in error


@committed
def test_entries_stay_immutable_through_the_partitioned_table_for_the_app_role(app_sql, people):
    fund(account("provincial", SH), 10_00, people)
    refused(app_sql, "UPDATE pooling_ledgerentry SET amount_fen = amount_fen * 2", sqlstate=TRIGGER)
    refused(app_sql, "DELETE FROM pooling_ledgerentry", sqlstate=TRIGGER)


@committed
def test_the_app_role_creates_a_new_months_partition_through_the_function_only(app_sql, people):
    refused(
        app_sql,
        "CREATE TABLE pooling_ledgerentry_m209901 PARTITION OF pooling_ledgerentry FOR VALUES FROM ('2099-01-01') TO ('2099-02-01')",
        sqlstate=PRIVILEGE,
        commit=False,
    )
    app_sql.execute("SELECT pooling_ledger_partition_ensure('2099-01-15 12:00+08')")
    app_sql.commit()
    assert "pooling_ledgerentry_m209901" in _names("pooling_ledgerentry")


@committed
def test_a_role_that_only_reads_cannot_make_partitions_through_the_owners_functions(app_role):
    """The partition makers act as the owner: only the application's role may call them."""
    import psycopg

    from tests.security.test_db_invariants_as_app_role import connect_as

    reader = f"{app_role[:58]}_read"
    with connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN CREATE ROLE " + reader + " LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        cursor.execute(f"GRANT CONNECT ON DATABASE {connection.settings_dict['NAME']} TO {reader}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {reader}")
        cursor.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
    conn = connect_as(reader)
    try:
        for call in (
            "SELECT pooling_ledger_partition_ensure('2099-03-15 12:00+08')",
            "SELECT reconciliation_settlement_partition_ensure('2099-03')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(call)
            conn.rollback()
    finally:
        conn.close()
    assert "pooling_ledgerentry_m209903" not in _names("pooling_ledgerentry")


@committed_ledger
def test_the_advance_statement_keeps_its_opening_balance_after_old_months_are_detached(people):
    from apps.pooling.models import FundAccount

    advance = FundAccount.objects.get(kind="advance", province__code=SH)
    with time_machine.travel(dt.datetime(2024, 6, 12, 10, tzinfo=SHANGHAI), tick=False):
        fund(account("provincial", SH), 500_00, people)
        moved = services.transfer_propose(
            from_account=account("provincial", SH), to_account=advance, amount_fen=300_00, proposer=people.sh_maker, idempotency_key=key()
        )
        services.transfer_approve(transfer=moved, approver=people.sh_checker)
    before = selectors.advance_statement(province_code=SH, period="2024-07")
    services.ledger_month_detach(period="2024-06")
    after = selectors.advance_statement(province_code=SH, period="2024-07")
    assert (after["opening_balance_fen"], after["closing_balance_fen"]) == (before["opening_balance_fen"], before["closing_balance_fen"])
    assert after["opening_balance_fen"] == 300_00
    june = selectors.advance_statement(province_code=SH, period="2024-06")  # the detached month itself: its sum from the archive
    assert june["opening_balance_fen"] == 0


@committed
def test_the_app_role_cannot_post_a_detached_months_transfer_again(app_sql, people):
    """The month is detached, archived and its table dropped (as README tells operators); the app
    role makes the month's partition again and writes the transfer's two entries once more: the
    count would see two, the archive's sums would hide it, so the dated month itself refuses."""
    with time_machine.travel(dt.datetime(2024, 3, 15, 10, tzinfo=SHANGHAI), tick=False):
        fund(account("provincial", SH), 500_00, people)
        _pay(people, 100_00)
    paid = LedgerEntry.objects.filter(amount_fen=-100_00).get()
    transfer = paid.transfer
    services.ledger_month_detach(period="2024-03")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE pooling_ledgerentry_m202403")
    before = account("provincial", SH).balance_fen
    app_sql.execute("SELECT pooling_ledger_partition_ensure(%s)", [transfer.posted_at])
    app_sql.commit()
    error = refused(
        app_sql,
        (
            "INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, %s), (%s, %s, %s, %s)",
            [
                *(transfer.from_account_id, transfer.pk, -transfer.amount_fen, transfer.posted_at),
                *(transfer.to_account_id, transfer.pk, transfer.amount_fen, transfer.posted_at),
            ],
        ),
        sqlstate=TRIGGER,
    )
    assert "detached" in error
    assert (account("provincial", SH).balance_fen, selectors.ledger_balance_mismatches()) == (before, [])


# --- partitions ahead of time (beat) --------------------------------------------------------------------


@pytest.mark.django_db
def test_beat_ensures_this_and_next_months_partitions_daily():
    from django_celery_beat.models import PeriodicTask

    tasks = dict(PeriodicTask.objects.filter(enabled=True).values_list("task", "crontab__day_of_month"))
    assert (tasks.get("pooling.ledger_partitions_ensure"), tasks.get("reconciliation.settlement_partitions_ensure")) == ("*", "*")


@pytest.mark.django_db
def test_the_beat_tasks_create_next_months_ledger_and_settlement_partitions():
    from apps.pooling import tasks as pooling_tasks
    from apps.reconciliation import tasks as reconciliation_tasks

    with time_machine.travel(dt.datetime(2033, 12, 31, 20, tzinfo=dt.UTC), tick=False):  # 1 January 2034 in Shanghai
        ledger = pooling_tasks.ledger_partitions_ensure.apply().get()
        settlements = reconciliation_tasks.settlement_partitions_ensure.apply().get()
    assert ledger == ["pooling_ledgerentry_m203401", "pooling_ledgerentry_m203402"]
    assert settlements == ["reconciliation_settlementrecord_p203401", "reconciliation_settlementrecord_p203402"]
    assert {"pooling_ledgerentry_m203401", "pooling_ledgerentry_m203402"} <= set(_names("pooling_ledgerentry"))
    assert {"reconciliation_settlementrecord_p203402"} <= set(_names("reconciliation_settlementrecord"))
    with time_machine.travel(dt.datetime(2034, 1, 15, 4, tzinfo=dt.UTC), tick=False):  # idempotent: a second day changes nothing
        assert pooling_tasks.ledger_partitions_ensure.apply().get() == ledger
