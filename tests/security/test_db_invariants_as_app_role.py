"""Database invariants, proved as the role the application connects as: one that owns nothing.

Each attack is raw SQL over a real psycopg connection logged in as that role (committed test
data, real COMMITs, so deferred checks run as in production); the service paths are run with
Django itself connected as the role. SQLSTATE 23000 is what our triggers raise, 23505 a unique
index, 42501 a missing privilege.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from apps.benefits.models import PoolingRegion, Province
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogItem, CatalogRelease
from apps.core.dbroles import app_role_grant
from apps.core.roles import Role
from apps.pooling import selectors, services
from apps.pooling.models import FundAccount, LedgerEntry, Transfer
from tests.factories import draft_release, publish, published_release, staff
from tests.pooling.conftest import SC, SH, People, account, ensure_ledger, fund, key

# Tests with data commit it, so that a second connection (the app role's) sees it; the flush
# after them is slow, so tests that only need the schema go without (serialized_rollback
# restores the migrated provinces after the flush).
committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TRIGGER, UNIQUE, PRIVILEGE, CHECK = "23000", "23505", "42501", "23514"


@pytest.fixture(scope="session")
def app_role(django_db_setup: Any, django_db_blocker: Any) -> str:
    """The test database's app role (roles are per server: named after the database, made once)."""
    with django_db_blocker.unblock():
        role = re.sub(r"[^a-z0-9_]", "_", f"{connection.settings_dict['NAME']}_app".lower())[:63]
        app_role_grant(role=role, create=True)
    return role


def connect_as(role: str) -> psycopg.Connection[Any]:
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, dbname=s["NAME"], user=role)


@pytest.fixture
def app_sql(app_role: str) -> Iterator[psycopg.Connection[Any]]:
    conn = connect_as(app_role)
    yield conn
    conn.close()


def refused(conn: psycopg.Connection[Any], *statements: str | tuple[str, list[Any]], sqlstate: str, commit: bool = True) -> str:
    """Run the statements in one transaction and COMMIT (``commit=False``: roll back, for statements
    that must fail at once and would wreck the database if they did not); return the error, which
    must carry ``sqlstate``."""
    try:
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, [])
            conn.execute(sql, params)  # type: ignore[arg-type]
        if commit:
            conn.commit()
    except psycopg.Error as exc:
        conn.rollback()
        assert exc.sqlstate == sqlstate, f"{exc.sqlstate}: {exc}"
        return str(exc)
    conn.rollback()
    pytest.fail(f"accepted as the app role: {statements!r}")


@contextmanager
def django_connected_as(role: str) -> Iterator[None]:
    """Django's own connection logs in as ``role`` (a new login, not SET ROLE) for the block."""
    connection.close()
    saved = connection.settings_dict["USER"]
    connection.settings_dict["USER"] = role
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, session_user")
            assert cursor.fetchone() == (role, role)
        yield
    finally:
        connection.close()
        connection.settings_dict["USER"] = saved


@pytest.fixture
def ledger_world() -> dict[str, Any]:
    """Shanghai's fund holds 400.00 after paying 100.00 to Sichuan (posted); a 10.00 proposal waits."""
    ensure_ledger()
    people = People()
    fund(account("provincial", SH), 500_00, people)
    posted = services.transfer_approve(
        transfer=services.transfer_propose(
            from_account=account("provincial", SH),
            to_account=account("provincial", SC),
            amount_fen=100_00,
            proposer=people.sh_maker,
            idempotency_key=key(),
        ),
        approver=people.sh_checker,
    )
    proposed = services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=10_00,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    return {"people": people, "posted": posted, "proposed": proposed}


@pytest.fixture
def catalog_world() -> dict[str, Any]:
    admin = staff(Role.CATALOG_ADMIN, username="role-admin")
    reviewer = staff(Role.CATALOG_REVIEWER, username="role-reviewer")
    published = published_release(label="2031.01", effective_from=dt.date(2031, 1, 1), admin=admin, reviewer=reviewer, count=5)
    codes = set(published.items.values_list("code", flat=True))
    fresh = [item for item in generate_items(8, seed=4242) if item["code"] not in codes][:3]
    draft = draft_release(label="2031.02", effective_from=dt.date(2031, 2, 1), user=admin, items=fresh)
    return {"admin": admin, "reviewer": reviewer, "published": published, "draft": draft}


def _reversal_insert(posted: Transfer, proposer_id: int, idem: str) -> tuple[str, list[Any]]:
    return (
        "INSERT INTO pooling_transfer (from_account_id, to_account_id, amount_fen, memo, state, idempotency_key, "
        "request_fingerprint, proposed_by_id, reason, reverses_id, created_at) "
        "VALUES (%s, %s, %s, '', 'proposed', %s, 'x', %s, '', %s, now())",
        [posted.to_account_id, posted.from_account_id, posted.amount_fen, idem, proposer_id, posted.pk],
    )


# --- the role itself ------------------------------------------------------------------------------


def test_the_app_role_is_no_superuser_and_owns_no_table(app_sql):
    row = app_sql.execute(
        "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls, "
        "(SELECT count(*) FROM pg_class WHERE relowner = r.oid AND relpersistence <> 't') "
        "FROM pg_roles r WHERE r.rolname = current_user"
    ).fetchone()
    assert row == (False, 0)


OWNED_TABLES = ["pooling_ledgerentry", "pooling_transfer", "pooling_fundaccount", "catalog_catalogitem", "core_auditevent"]
OWNER_ONLY = [
    "TRUNCATE {t}",
    "TRUNCATE {t} CASCADE",
    "ALTER TABLE {t} DISABLE TRIGGER ALL",
    "ALTER TABLE {t} DISABLE TRIGGER USER",
    "ALTER TABLE {t} ADD COLUMN smuggled integer",
    "DROP TABLE {t} CASCADE",
    "CREATE TRIGGER smuggled BEFORE UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
]


@pytest.mark.parametrize("statement", OWNER_ONLY)
@pytest.mark.parametrize("table", OWNED_TABLES)
def test_owner_only_statements_are_refused_to_the_app_role(app_sql, table, statement):
    refused(app_sql, statement.format(t=table), sqlstate=PRIVILEGE, commit=False)


def test_the_app_role_cannot_switch_off_triggers_for_its_session(app_sql):
    refused(app_sql, "SET session_replication_role = replica", sqlstate=PRIVILEGE, commit=False)


@committed
def test_audit_events_are_append_only_for_the_app_role(app_sql, ledger_world):
    for statement in ["UPDATE core_auditevent SET reason = 'rewritten'", "DELETE FROM core_auditevent"]:
        refused(app_sql, statement, sqlstate=TRIGGER)


# --- 1. reversed at most once ---------------------------------------------------------------------


@committed
def test_the_app_role_cannot_insert_a_second_live_reversal(app_sql, ledger_world):
    people, posted = ledger_world["people"], ledger_world["posted"]
    services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    error = refused(app_sql, _reversal_insert(posted, people.sc_maker.pk, "raw-1"), sqlstate=UNIQUE)
    assert "transfer_reversed_at_most_once" in error


@committed
def test_two_app_role_connections_racing_to_insert_reversals_leave_one(app_role, ledger_world):
    people, posted = ledger_world["people"], ledger_world["posted"]
    first, second = connect_as(app_role), connect_as(app_role)
    outcome: dict[str, str] = {}

    def insert_second() -> None:  # blocks on the index entry of the first, uncommitted insert
        try:
            second.execute(*_reversal_insert(posted, people.sc_maker.pk, "race-2"))
            second.commit()
            outcome["second"] = "ok"
        except psycopg.Error as exc:
            second.rollback()
            outcome["second"] = str(exc.sqlstate)

    try:
        first.execute(*_reversal_insert(posted, people.sh_maker.pk, "race-1"))
        racer = threading.Thread(target=insert_second)
        racer.start()
        racer.join(timeout=1)  # still waiting for the first transaction
        first.commit()
        racer.join(timeout=30)
    finally:
        first.close()
        second.close()
    assert (outcome, Transfer.objects.filter(reverses=posted).count()) == ({"second": UNIQUE}, 1)


# --- 2. balances move only with entries -----------------------------------------------------------


@committed
def test_the_app_role_cannot_set_a_balance(app_sql, ledger_world):
    sh = account("provincial", SH)
    refused(app_sql, ("UPDATE pooling_fundaccount SET balance_fen = balance_fen + 1000000 WHERE id = %s", [sh.pk]), sqlstate=TRIGGER)


@committed
def test_the_app_role_cannot_open_an_account_with_a_balance(app_sql, ledger_world):
    # bulk_create: no post_save, so the new region has no account yet (519900: no GB/T 2260
    # region, so not among the regions the migrations load)
    (region,) = PoolingRegion.objects.bulk_create([PoolingRegion(code="519900", province=Province.objects.get(code=SC), name="新统筹区")])
    refused(
        app_sql,
        (
            "INSERT INTO pooling_fundaccount (kind, province_id, region_id, name, balance_fen, overdraft_limit_fen, created_at) "
            "VALUES ('regional', %s, %s, 'smuggled', 100000000, 0, now())",
            [region.province_id, region.pk],
        ),
        sqlstate=TRIGGER,
    )


@committed
def test_a_trigger_the_app_role_writes_on_its_own_temp_table_cannot_move_a_balance(app_sql, ledger_world):
    sh = account("provincial", SH)
    refused(
        app_sql,
        "CREATE TEMP TABLE poke (account_id bigint)",
        "CREATE FUNCTION pg_temp.poke() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE pooling_fundaccount SET balance_fen = balance_fen + 1000000 WHERE id = NEW.account_id; RETURN NULL; END $$",
        "CREATE TRIGGER poke AFTER INSERT ON poke FOR EACH ROW EXECUTE FUNCTION pg_temp.poke()",
        ("INSERT INTO poke VALUES (%s)", [sh.pk]),
        sqlstate=TRIGGER,
    )


@committed
def test_the_app_role_cannot_turn_an_account_external_to_escape_the_overdraft_check(app_sql, ledger_world):
    # A province without accounts (bulk_create: no post_save), so no unique constraint objects.
    (elsewhere,) = Province.objects.bulk_create([Province(code="990000", name="无账户省")])
    refused(
        app_sql,
        ("UPDATE pooling_fundaccount SET kind = 'external', province_id = %s WHERE id = %s", [elsewhere.pk, account("provincial", SH).pk]),
        sqlstate=TRIGGER,
    )


@committed
def test_entries_inserted_by_the_app_role_move_the_balances_with_them(app_sql, ledger_world):
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    app_sql.execute(
        "UPDATE pooling_transfer SET state = 'approved', approved_by_id = %s, approved_at = now() WHERE id = %s",
        [people.sh_checker.pk, proposed.pk],
    )
    app_sql.execute("UPDATE pooling_transfer SET state = 'posted', posted_at = now() WHERE id = %s", [proposed.pk])
    app_sql.execute(
        "INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, now()), (%s, %s, %s, now())",
        [proposed.from_account_id, proposed.pk, -proposed.amount_fen, proposed.to_account_id, proposed.pk, proposed.amount_fen],
    )
    app_sql.commit()
    assert (account("provincial", SH).balance_fen, selectors.ledger_balance_mismatches()) == (390_00, [])


def _entries(transfer: Transfer, at: str = "now()") -> tuple[str, list[Any]]:
    """The transfer's two balancing entries, posted at the SQL expression ``at``."""
    return (
        f"INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, {at}), (%s, %s, %s, {at})",
        [transfer.from_account_id, transfer.pk, -transfer.amount_fen, transfer.to_account_id, transfer.pk, transfer.amount_fen],
    )


def _post_in_one_step(transfer: Transfer, approver_id: int) -> tuple[str, list[Any]]:
    return (
        "UPDATE pooling_transfer SET state = 'posted', approved_by_id = %s, approved_at = now(), posted_at = now() WHERE id = %s",
        [approver_id, transfer.pk],
    )


@committed
def test_the_app_role_posts_in_one_step_with_the_entries_in_one_statement(app_sql, ledger_world):
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    for statement in (_post_in_one_step(proposed, people.sh_checker.pk), _entries(proposed)):
        app_sql.execute(*statement)
    app_sql.commit()
    assert (account("provincial", SH).balance_fen, selectors.ledger_balance_mismatches(), selectors.unbalanced_transfers()) == (
        390_00,
        [],
        [],
    )


@committed
def test_the_app_role_cannot_approve_its_own_transfer_in_one_step(app_sql, ledger_world):
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    refused(app_sql, _post_in_one_step(proposed, people.sh_maker.pk), _entries(proposed), sqlstate=CHECK)


@committed
def test_the_app_role_cannot_post_in_one_step_without_the_entries(app_sql, ledger_world):
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    error = refused(app_sql, _post_in_one_step(proposed, people.sh_checker.pk), sqlstate=TRIGGER)
    assert "do not balance" in error


@committed
def test_the_app_role_cannot_write_a_transfers_entries_in_two_statements(app_sql, ledger_world):
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    _, params = _entries(proposed)
    first = ("INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, now())", params[:3])
    second = ("INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, now())", params[3:])
    error = refused(app_sql, _post_in_one_step(proposed, people.sh_checker.pk), first, second, sqlstate=TRIGGER)
    assert "1 entries" in error


@committed
def test_the_app_role_cannot_date_entries_apart_from_their_posting(app_sql, ledger_world):
    """Balanced entries of a transfer posted now, dated next month, are refused. The balance
    checks read only the posting's month, which is sound only if every entry is dated with it."""
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    with connection.cursor() as cursor:  # next month's partition, as the owner (beat makes it daily)
        cursor.execute("SELECT pooling_ledger_partition_ensure(now() + interval '1 month')")
    error = refused(
        app_sql,
        _post_in_one_step(proposed, people.sh_checker.pk),
        _entries(proposed, at="now() + interval '1 month'"),
        sqlstate=TRIGGER,
    )
    assert "an entry posted at" in error


@committed
def test_the_app_role_cannot_add_a_balanced_pair_to_a_posted_transfer_in_another_month(app_sql, ledger_world):
    posted = ledger_world["posted"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pooling_ledger_partition_ensure(now() + interval '1 month')")
    refused(app_sql, _entries(posted, at="now() + interval '1 month'"), sqlstate=TRIGGER)
    at = f"'{posted.posted_at.isoformat()}'::timestamptz"
    refused(app_sql, _entries(posted, at=f"{at} + interval '1 second'"), sqlstate=TRIGGER)  # nor in its month
    refused(app_sql, _entries(posted, at=at), sqlstate=UNIQUE)  # nor at its instant: one entry per account and posting
    assert LedgerEntry.objects.filter(transfer=posted).count() == 2


# --- 3. posted means balanced ---------------------------------------------------------------------


def _approve_then_post(transfer: Transfer, approver_id: int) -> list[str | tuple[str, list[Any]]]:
    return [
        (
            "UPDATE pooling_transfer SET state = 'approved', approved_by_id = %s, approved_at = now() WHERE id = %s",
            [approver_id, transfer.pk],
        ),
        ("UPDATE pooling_transfer SET state = 'posted', posted_at = now() WHERE id = %s", [transfer.pk]),
    ]


@committed
def test_the_app_role_cannot_mark_a_transfer_posted_without_its_entries(app_sql, ledger_world):
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    refused(app_sql, *_approve_then_post(proposed, people.sh_checker.pk), sqlstate=TRIGGER)


@committed
def test_the_app_role_cannot_insert_a_transfer_as_posted(app_sql, ledger_world):
    people = ledger_world["people"]
    refused(
        app_sql,
        (
            "INSERT INTO pooling_transfer (from_account_id, to_account_id, amount_fen, memo, state, idempotency_key, "
            "request_fingerprint, proposed_by_id, approved_by_id, reason, created_at, approved_at, posted_at) "
            "VALUES (%s, %s, 50000, '', 'posted', 'raw-posted', 'x', %s, %s, '', now(), now(), now())",
            [account("provincial", SH).pk, account("national").pk, people.sh_maker.pk, people.sh_checker.pk],
        ),
        sqlstate=TRIGGER,
    )


@committed
def test_a_temp_table_named_like_the_ledger_does_not_fool_the_posted_check(app_sql, ledger_world):
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    fake_entries = (
        "INSERT INTO pg_temp.pooling_ledgerentry (id, account_id, transfer_id, amount_fen, posted_at) "
        "VALUES (-1, %s, %s, %s, now()), (-2, %s, %s, %s, now())",
        [proposed.from_account_id, proposed.pk, -proposed.amount_fen, proposed.to_account_id, proposed.pk, proposed.amount_fen],
    )
    refused(
        app_sql,
        "CREATE TEMP TABLE pooling_ledgerentry (LIKE public.pooling_ledgerentry)",
        fake_entries,
        *_approve_then_post(proposed, people.sh_checker.pk),
        sqlstate=TRIGGER,
    )


@committed
def test_entries_and_settled_transfers_stay_immutable_for_the_app_role(app_sql, ledger_world):
    posted = int(ledger_world["posted"].pk)
    for statement in [
        f"UPDATE pooling_ledgerentry SET amount_fen = amount_fen * 2 WHERE transfer_id = {posted}",
        f"DELETE FROM pooling_ledgerentry WHERE transfer_id = {posted}",
        f"UPDATE pooling_transfer SET memo = 'rewritten' WHERE id = {posted}",
        f"DELETE FROM pooling_transfer WHERE id = {posted}",
    ]:
        refused(app_sql, statement, sqlstate=TRIGGER)


# --- 4. published catalog releases ---------------------------------------------------------------


@committed
def test_the_app_role_cannot_move_a_draft_item_into_a_published_release(app_sql, catalog_world):
    published, draft = catalog_world["published"], catalog_world["draft"]
    refused(app_sql, ("UPDATE catalog_catalogitem SET release_id = %s WHERE release_id = %s", [published.pk, draft.pk]), sqlstate=TRIGGER)


@committed
def test_the_app_role_cannot_insert_an_item_into_a_published_release(app_sql, catalog_world):
    published, draft = catalog_world["published"], catalog_world["draft"]
    columns = ", ".join(f.column for f in CatalogItem._meta.concrete_fields if f.column not in ("id", "release_id"))
    refused(
        app_sql,
        (
            f"INSERT INTO catalog_catalogitem (release_id, {columns}) SELECT %s, {columns} FROM catalog_catalogitem WHERE release_id = %s",
            [published.pk, draft.pk],
        ),
        sqlstate=TRIGGER,
    )


@committed
def test_the_app_role_cannot_change_an_item_of_a_published_release(app_sql, catalog_world):
    published = catalog_world["published"]
    refused(app_sql, ("UPDATE catalog_catalogitem SET name = 'rewritten' WHERE release_id = %s", [published.pk]), sqlstate=TRIGGER)


@committed
def test_a_temp_table_named_like_the_releases_does_not_fool_the_item_guard(app_sql, catalog_world):
    published = catalog_world["published"]
    refused(
        app_sql,
        "CREATE TEMP TABLE catalog_catalogrelease (LIKE public.catalog_catalogrelease)",
        ("UPDATE catalog_catalogitem SET name = 'rewritten' WHERE release_id = %s", [published.pk]),
        sqlstate=TRIGGER,
    )


# --- the services work as the app role ------------------------------------------------------------


@committed
def test_a_transfer_is_proposed_approved_posted_and_reversed_as_the_app_role(app_role, ledger_world):
    people = ledger_world["people"]
    with django_connected_as(app_role):
        transfer = services.transfer_approve(transfer=ledger_world["proposed"], approver=people.sh_checker)
        reversal = services.transfer_reverse(transfer=transfer, user=people.sh_maker, reason="wrong fund")
    assert (
        transfer.state,
        LedgerEntry.objects.filter(transfer=transfer).count(),
        account("provincial", SH).balance_fen,
        reversal.reverses_id,
    ) == ("posted", 2, 390_00, transfer.pk)


@committed
def test_a_release_is_published_as_the_app_role(app_role, catalog_world):
    draft = catalog_world["draft"]
    with django_connected_as(app_role):
        publish(draft, admin=catalog_world["admin"], reviewer=catalog_world["reviewer"])
    draft.refresh_from_db()
    assert (draft.status, draft.items.count(), bool(draft.sha256)) == (CatalogRelease.Status.PUBLISHED, 3, True)


@committed
def test_the_app_role_cannot_post_entries_on_a_closed_account(app_sql, ledger_world):
    proposed = ledger_world["proposed"]
    FundAccount.objects.filter(pk=proposed.from_account_id).update(closed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # as the owner
    error = refused(
        app_sql,
        (
            "INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, now()), (%s, %s, %s, now())",
            [proposed.from_account_id, proposed.pk, -proposed.amount_fen, proposed.to_account_id, proposed.pk, proposed.amount_fen],
        ),
        sqlstate=TRIGGER,
    )
    assert "is closed" in error


@committed
def test_the_app_role_cannot_reopen_a_closed_account(app_sql, ledger_world):
    proposed = ledger_world["proposed"]
    FundAccount.objects.filter(pk=proposed.from_account_id).update(closed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # as the owner
    error = refused(
        app_sql, ("UPDATE pooling_fundaccount SET closed_at = NULL WHERE id = %s", [proposed.from_account_id]), sqlstate=TRIGGER
    )
    assert "closed for good" in error


@committed
def test_entries_wait_for_an_account_being_closed_and_are_then_refused(app_role, ledger_world):
    """The owner closes the debited account in a transaction still open while the app role posts
    to it: the entries' INSERT waits on the account's row and, once the closing commits, is refused
    (a check made before taking the row would have let the entries through)."""
    people, proposed = ledger_world["people"], ledger_world["proposed"]
    s = connection.settings_dict
    closing = psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, dbname=s["NAME"], user=s["USER"] or None)  # the owner
    closing.execute("UPDATE pooling_fundaccount SET closed_at = now() WHERE id = %s", [proposed.from_account_id])  # as the owner, open
    posting = connect_as(app_role)
    outcome: list[str] = []

    def post() -> None:
        try:
            for statement in (_post_in_one_step(proposed, people.sh_checker.pk), _entries(proposed)):
                posting.execute(*statement)
            posting.commit()
            outcome.append("posted")
        except psycopg.Error as exc:
            posting.rollback()
            outcome.append(f"{exc.sqlstate} {exc}")

    thread = threading.Thread(target=post)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive(), "the entries did not wait for the account's row"
    closing.commit()
    thread.join(10)
    closing.close()
    posting.close()
    assert outcome and outcome[0].startswith(TRIGGER) and "is closed" in outcome[0], outcome
    assert LedgerEntry.objects.filter(transfer=proposed).count() == 0


@committed
def test_the_app_role_cannot_make_a_run_allocate_more_than_its_pot(app_sql, ledger_world):
    from decimal import Decimal

    from apps.pooling.models import AdjustmentRule

    people = ledger_world["people"]
    AdjustmentRule.objects.create(province=None, contribution_share=Decimal("0.1"), effective_from=dt.date(2026, 1, 1))
    services.region_figures_put(
        province=Province.objects.get(code=SH),
        period="2026-01",
        fund_income_fen=1_000,
        fund_expenditure_fen=2_000,
        active_insured=10,
        retirees=5,
        user=people.sh_maker,
    )
    run, _ = services.adjustment_run(period="2026-01")
    refused(app_sql, ("UPDATE pooling_adjustmentrun SET allocations_fen = pot_fen + 1 WHERE id = %s", [run.pk]), sqlstate=CHECK)


@committed
def test_fund_accounts_are_opened_as_the_app_role(app_role, ledger_world):
    with django_connected_as(app_role):
        PoolingRegion.objects.create(code="519900", province=Province.objects.get(code=SC), name="新统筹区")  # on commit: accounts_ensure
    assert FundAccount.objects.get(region__code="519900").balance_fen == 0


@committed
def test_the_app_role_refreshes_statistics_only_through_core_analyze(app_sql):
    with connection.cursor() as cursor:  # as the owner
        cursor.execute("CREATE TABLE analyze_probe AS SELECT g AS id FROM generate_series(1, 100) g")
    reltuples = "SELECT reltuples::bigint FROM pg_class WHERE relname = 'analyze_probe'"
    try:
        app_sql.execute("ANALYZE analyze_probe")  # not the owner: a WARNING, and nothing happens
        skipped = app_sql.execute(reltuples).fetchone()
        app_sql.execute("SELECT core_analyze('analyze_probe')")
        analyzed = app_sql.execute(reltuples).fetchone()
        assert (skipped, analyzed) == ((-1,), (100,))
    finally:
        app_sql.rollback()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE analyze_probe")


def test_core_analyze_refuses_what_is_not_a_table_of_the_schema(app_sql):
    refused(app_sql, "SELECT core_analyze('pg_catalog.pg_authid')", sqlstate=PRIVILEGE, commit=False)


# --- grants -----------------------------------------------------------------------------------------


@committed
def test_tables_created_by_later_migrations_are_open_to_the_app_role(app_sql):
    with connection.cursor() as cursor:  # as the owner, as a migration would
        cursor.execute("CREATE TABLE later_migration_table (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, note text)")
    try:
        app_sql.execute("INSERT INTO later_migration_table (note) VALUES ('written by the app role')")
        app_sql.commit()
        assert app_sql.execute("SELECT count(*) FROM later_migration_table").fetchone() == (1,)
    finally:
        app_sql.rollback()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE later_migration_table")


@committed
def test_migrate_with_migrate_database_url_runs_as_the_owner_and_grants_the_app_role(app_role, settings):
    owner = connection.settings_dict["USER"]
    with connection.cursor() as cursor:
        cursor.execute(f'REVOKE SELECT ON pooling_fundaccount FROM "{app_role}"')
    s = connection.settings_dict
    settings.MIGRATE_DATABASE_URL = f"postgres://{owner}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
    try:
        with django_connected_as(app_role):  # DATABASE_URL's role: owns nothing, could not migrate or grant
            call_command("migrate", verbosity=0)
        with connect_as(app_role) as conn:
            assert conn.execute("SELECT has_table_privilege('pooling_fundaccount', 'SELECT')").fetchone() == (True,)
    finally:
        app_role_grant(role=app_role)


@committed
def test_grant_app_role_command_is_idempotent(app_role):
    call_command("grant_app_role", app_role, "--create", verbosity=0)
    call_command("grant_app_role", app_role, "--create", verbosity=0)
    with connect_as(app_role) as conn:
        assert conn.execute("SELECT has_table_privilege('pooling_transfer', 'INSERT, UPDATE, DELETE')").fetchone() == (True,)


@committed
def test_grant_app_role_refuses_a_superuser():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="superuser"):
        call_command("grant_app_role", connection.settings_dict["USER"], verbosity=0)


# --- trigger functions cannot be fooled by temporary tables ---------------------------------------

CHECK_VIOLATION = "23514"


@pytest.mark.django_db
def test_every_function_of_ours_runs_with_a_pinned_search_path():
    """post_migrate pins them, so a function a later migration adds is covered too."""
    from apps.core.dbroles import unpinned_functions

    assert unpinned_functions() == []


@committed
def test_a_temp_table_named_like_the_participants_does_not_fool_the_two_person_rule(app_sql, catalog_world):
    from apps.catalog import services as catalog

    editor = staff(Role.CATALOG_ADMIN, username="role-editor")
    draft = catalog_world["draft"]
    item = next(iter(draft.items.values()))
    catalog.item_put(release=draft, data={**{k: v for k, v in item.items() if k not in ("id", "release_id")}, "name": "改"}, user=editor)
    catalog.release_submit(release=draft, user=catalog_world["admin"], confirm_removals=True)
    refused(
        app_sql,
        "CREATE TEMP TABLE catalog_releaseparticipant (LIKE public.catalog_releaseparticipant)",
        (
            "UPDATE catalog_catalogrelease SET status = 'approved', approved_by_id = %s, approved_at = now() WHERE id = %s",
            [editor.pk, draft.pk],
        ),
        sqlstate=CHECK_VIOLATION,
    )
