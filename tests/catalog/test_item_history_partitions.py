"""Item history (issue 22, migration 0014) and a release's stored diff (0015), partitioned by
release. Item history: a release's partition appears with its first history row; the history of
a load into a new draft is written into a table of its own that ATTACH indexes and checks (the
key to the user included), and every other history row goes through the parent. A first
release's diff goes into a table of its own too, a renewal's through the parent. Partitions are
reached through the parent only."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.catalog import services
from apps.catalog import sql as catalog_sql
from apps.catalog.importers.services import release_import
from apps.catalog.models import CatalogItem, CatalogRelease, ReleaseChange
from apps.core.models import AuditAction, AuditEvent
from apps.core.partitioning import partitions_of
from tests.factories import draft_release, publish, published_release
from tests.security.test_db_invariants_as_app_role import PRIVILEGE, committed, django_connected_as, refused

JAN = dt.date(2026, 1, 1)
PARENT = "catalog_historicalcatalogitem"
CSV = (
    "code,name,category\n"
    "XA02BCA211A001010101445,奥美拉唑肠溶胶囊,01\n"
    "XA02BCA211A001010101446,奥美拉唑肠溶片,02\n"
    "001201000010000,一般诊疗费,01\n"
).encode()


def partition(release: CatalogRelease) -> str:
    return f"{PARENT}_r{release.pk}"


def attached(release: CatalogRelease) -> bool:
    return partition(release) in [name for name, _ in partitions_of(PARENT)]


def shape(release: CatalogRelease) -> tuple[set[str], set[str]]:
    """The partition's index columns and its constraint kinds (c check, f foreign key, p primary key)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM pg_index x "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum WHERE x.indrelid = %s::regclass GROUP BY x.indexrelid",
            [partition(release)],
        )
        columns = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT contype::text || ':' || conname FROM pg_constraint WHERE conrelid = %s::regclass", [partition(release)])
        constraints = {row[0] for row in cursor.fetchall()}
    return columns, constraints


@pytest.mark.django_db
def test_a_new_drafts_first_import_writes_its_history_into_a_partition_of_its_own(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    assert not attached(draft)  # made with the first history row, not with the release
    # Rows written through the parent would meet this trigger: the load's go into their own table.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'through the parent'; END $$"
        )
        cursor.execute(f"CREATE TRIGGER through_parent BEFORE INSERT ON {PARENT} FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.refuse()")
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    assert attached(draft)
    with pytest.raises(Exception, match="through the parent"), transaction.atomic():  # once attached, rows go through it
        catalog_sql.item_history_load(release_id=draft.pk, history_type="~", reason="x", user_id=catalog_admin.pk, at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER through_parent ON {PARENT}")
    history = CatalogItem.history.filter(release_id=draft.pk)
    assert sorted(history.values_list("history_type", "history_user_id")) == [("+", catalog_admin.pk)] * 3
    assert set(history.values_list("code", flat=True)) == set(CatalogItem.objects.filter(release=draft).values_list("code", flat=True))
    columns, constraints = shape(draft)
    # the parent's key, built by ATTACH (no index on the release or the date: see migration 0014)
    assert columns == {"history_id,release_id"}
    # the key to the user came with ATTACH; the CHECK that spared its scan is gone
    assert {kind for kind, _ in (c.split(":", 1) for c in constraints)} == {"c", "f", "p"}
    assert not any(c.endswith("_release") for c in constraints)
    # the readers' indexes (an item's history, a user's rows) come after commit, with the items' (0018)
    services.items_finish(draft)
    assert shape(draft)[0] == {"history_id,release_id", "history_user_id", "id"}
    # the load's rows take minus the item's id; a row saved next takes the sequence's positive ids
    ids = dict(CatalogItem.objects.filter(release=draft).values_list("code", "id"))
    assert sorted(history.values_list("history_id", flat=True)) == sorted(-item for item in ids.values())
    services.item_put(release=draft, data={"code": "001201000010000", "name": "诊疗费", "category": "01"}, user=catalog_admin)
    edit = history.filter(history_type="~").get()
    assert edit.history_id > 0
    assert [row.history_type for row in CatalogItem.history.filter(id=ids["001201000010000"])] == ["~", "+"]  # newest first


@pytest.mark.django_db
def test_a_draft_edited_item_by_item_gets_its_partition_at_the_first_edit(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    services.item_put(release=draft, data={"code": "001201000010000", "name": "一般诊疗费", "category": "01"}, user=catalog_admin)
    assert attached(draft)
    services.item_delete(release=draft, code="001201000010000", user=catalog_admin)
    # the draft is empty again: the next import loads unindexed, and its history goes through the parent
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    history = CatalogItem.history.filter(release_id=draft.pk)
    assert sorted(history.values_list("history_type", flat=True)) == ["+", "+", "+", "+", "-"]
    assert shape(draft)[0] == {"history_id,release_id", "history_user_id", "id"}


@pytest.mark.django_db
def test_a_load_naming_a_user_who_does_not_exist_is_refused_at_attach(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    other = draft_release(label="2026.02", effective_from=dt.date(2026, 2, 1), user=catalog_admin)
    with connection.cursor() as cursor:  # items without history: copied in by SQL
        cursor.execute(
            "INSERT INTO catalog_catalogitem (release_id, code, kind, name, generic_name, dosage_form, specification, manufacturer, "
            "unit, pricing_unit, category, restriction_text, restriction_indication, restriction_hospital_level, category_path, replaces) "
            "SELECT %s, code, kind, name, generic_name, dosage_form, specification, manufacturer, unit, pricing_unit, category, "
            "restriction_text, restriction_indication, restriction_hospital_level, category_path, replaces "
            "FROM catalog_catalogitem WHERE release_id = %s",
            [other.pk, draft.pk],
        )
    with pytest.raises(IntegrityError, match="history_user"), transaction.atomic():
        catalog_sql.item_history_load(release_id=other.pk, history_type="+", reason="x", user_id=2_000_000_000, at=timezone.now())
    assert not attached(other) and not CatalogItem.history.filter(release_id=other.pk).exists()
    with pytest.raises(IntegrityError, match="history type"), transaction.atomic():
        catalog_sql.item_history_load(release_id=other.pk, history_type="x", reason="x", user_id=catalog_admin.pk, at=timezone.now())
    assert (
        catalog_sql.item_history_load(release_id=other.pk, history_type="+", reason="x", user_id=catalog_admin.pk, at=timezone.now()) == 3
    )
    assert attached(other)


@pytest.mark.django_db
def test_a_draft_copied_from_a_published_release_gets_its_partition_with_its_items(catalog_admin, reviewer):
    base = published_release(label="2025.12", effective_from=dt.date(2025, 12, 1), admin=catalog_admin, reviewer=reviewer)
    draft = services.release_create_draft(label="2026.01", effective_from=JAN, user=catalog_admin, based_on=base)
    assert attached(draft) and not CatalogItem.history.filter(release_id=draft.pk).exists()


@pytest.mark.django_db
def test_a_release_that_does_not_exist_gets_no_partition(catalog_admin):
    with pytest.raises(IntegrityError, match="no catalog release"), transaction.atomic():
        catalog_sql.item_history_partition_ensure(2_000_000_000)
    with pytest.raises(IntegrityError, match="no catalog release"), transaction.atomic():
        catalog_sql.item_history_load(release_id=-43, history_type="+", reason="x", user_id=catalog_admin.pk, at=timezone.now())
    assert f"{PARENT}_r2000000000" not in [name for name, _ in partitions_of(PARENT)]


def _connect() -> psycopg.Connection[Any]:
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, dbname=s["NAME"], user=s["USER"])


@committed
def test_two_sessions_making_one_partition_at_once_both_succeed(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    first, second = _connect(), _connect()
    try:
        first.execute("SELECT catalog_item_history_partition_ensure(%s)", [draft.pk])  # made, not committed
        outcome: list[object] = []
        waiter = threading.Thread(
            target=lambda: outcome.append(_outcome(second, "SELECT catalog_item_history_partition_ensure(%s)", [draft.pk]))
        )
        waiter.start()
        pid = second.info.backend_pid
        deadline = time.monotonic() + 10
        while not first.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid]).fetchone()[0]:
            assert time.monotonic() < deadline, "the second session never waited for the first"
            time.sleep(0.05)
        first.commit()
        waiter.join(10)
        assert outcome == [f"{PARENT}_r{draft.pk}"]  # it found the first one's table
    finally:
        first.close()
        second.close()
    assert attached(draft)


def _outcome(conn: psycopg.Connection[Any], sql: str, params: list[Any]) -> object:
    try:
        value = conn.execute(sql, params).fetchone()[0]
        conn.commit()
        return value
    except psycopg.Error as exc:
        conn.rollback()
        return exc


@committed
def test_the_app_role_imports_and_edits_history_through_the_parent_only(app_role, app_sql, catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    with django_connected_as(app_role):
        release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
        services.item_put(release=draft, data={"code": "001201000010000", "name": "诊疗费", "category": "01"}, user=catalog_admin)
        edited = draft_release(label="2026.02", effective_from=dt.date(2026, 2, 1), user=catalog_admin)
        services.item_put(release=edited, data={"code": "001201000010000", "name": "诊疗费", "category": "01"}, user=catalog_admin)
    assert CatalogItem.history.filter(release_id=draft.pk).count() == 4
    assert attached(edited) and CatalogItem.history.filter(release_id=edited.pk).count() == 1
    for table in (partition(draft), partition(edited)):
        error = refused(app_sql, f"DELETE FROM {table}", sqlstate=PRIVILEGE, commit=False)
        assert "permission denied" in error
    # nor may the app role make a partition itself, or attach one
    refused(app_sql, f"CREATE TABLE {PARENT}_r999999 PARTITION OF {PARENT} FOR VALUES IN (999999)", sqlstate=PRIVILEGE, commit=False)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_sql.execute("SELECT catalog_item_history_partition_attach(%s)", [draft.pk])
    app_sql.rollback()
    # nor have the functions make tables for releases that do not exist
    refused(app_sql, "SELECT catalog_item_history_partition_ensure(-42)", sqlstate="23503", commit=False)
    refused(app_sql, "SELECT catalog_item_history_load(-43, '+', 'forged', NULL, now())", sqlstate="23503", commit=False)


# --- a release's stored diff, partitioned by release (migration 0015) ------------------------------------

CHANGES = "catalog_releasechange"


def changes_partition(release: CatalogRelease) -> str:
    return f"{CHANGES}_r{release.pk}"


@pytest.mark.django_db
def test_a_first_releases_diff_is_written_into_its_own_partition_and_a_renewals_through_the_parent(catalog_admin, reviewer):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    with connection.cursor() as cursor:  # rows through the parent would meet this trigger
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'through the parent'; END $$"
        )
        cursor.execute(f"CREATE TRIGGER through_parent BEFORE INSERT ON {CHANGES} FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.refuse()")
    first = publish(draft, admin=catalog_admin, reviewer=reviewer)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER through_parent ON {CHANGES}")
        cursor.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", [changes_partition(first)])
        assert len(cursor.fetchall()) == 3  # the parent's three, built by ATTACH
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'", [changes_partition(first)])
        assert cursor.fetchone() == (0,)  # the CHECK that spared ATTACH its scan is gone
    assert changes_partition(first) in [name for name, _ in partitions_of(CHANGES)]
    assert sorted(ReleaseChange.objects.filter(release=first).values_list("change", flat=True)) == ["added"] * 3
    renewal = services.release_create_draft(label="2026.02", effective_from=dt.date(2026, 2, 1), user=catalog_admin, based_on=first)
    services.item_delete(release=renewal, code="001201000010000", user=catalog_admin)
    second = publish(renewal, admin=catalog_admin, reviewer=reviewer)
    assert list(ReleaseChange.objects.filter(release=second).values_list("code", "change")) == [("001201000010000", "removed")]
    assert changes_partition(second) in [name for name, _ in partitions_of(CHANGES)]


@pytest.mark.django_db
def test_only_a_release_being_published_gets_its_diff_partition(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    for statement in ("SELECT catalog_release_changes_load_all_added(%s)", "SELECT catalog_release_changes_partition_ensure(%s)"):
        for release in (draft.pk, 2_000_000_000):
            with pytest.raises(IntegrityError, match="not approved"), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [release])
    assert changes_partition(draft) not in [name for name, _ in partitions_of(CHANGES)]


@committed
def test_the_app_role_publishes_and_reaches_the_diff_through_the_parent_only(app_role, app_sql, catalog_admin, reviewer):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    with django_connected_as(app_role):
        first = publish(draft, admin=catalog_admin, reviewer=reviewer)
    assert ReleaseChange.objects.filter(release=first).count() == 3
    error = refused(app_sql, f"DELETE FROM {changes_partition(first)}", sqlstate=PRIVILEGE, commit=False)
    assert "permission denied" in error
    refused(app_sql, "UPDATE catalog_releasechange SET change = 'removed'", sqlstate="23000")
    refused(app_sql, ("SELECT catalog_release_changes_load_all_added(%s)", [first.pk]), sqlstate="23000", commit=False)


def _delete_draft(release: CatalogRelease, user: Any) -> object:
    try:
        services.release_delete_draft(release=release, user=user, reason="abandoned")
        return None
    except Exception as exc:  # reported to the test's thread
        return exc
    finally:
        connection.close()


@committed
def test_deleting_a_draft_queues_on_its_release_before_it_touches_its_items(catalog_admin):
    """The bulk worker's items_finish_locked holds the release's row, then builds the draft's
    indexes (a SHARE lock on its items). A delete that took the items' locks first and waited for
    the release row last (Django's cascade) deadlocked with it: the delete must wait first."""
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    pk = draft.pk  # the delete clears the instance's
    with connection.cursor() as cursor:  # as if the bulk worker had not come by yet
        cursor.execute(f"DROP INDEX {PARENT}_r{pk}_id, {PARENT}_r{pk}_user")
    task = _connect()
    try:
        task.execute("SELECT id FROM catalog_catalogrelease WHERE id = %s FOR UPDATE", [draft.pk])
        outcome: list[object] = []
        deleter = threading.Thread(target=lambda: outcome.append(_delete_draft(draft, catalog_admin)))
        deleter.start()
        deadline = time.monotonic() + 10
        while not task.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid <> pg_backend_pid() AND NOT granted)").fetchone()[0]:
            assert time.monotonic() < deadline, "the delete never waited for the release"
            time.sleep(0.05)
        # the task's next lock: the delete holds nothing on the items yet
        task.execute(f"LOCK TABLE catalog_catalogitem_r{draft.pk} IN SHARE MODE NOWAIT")
        task.commit()
        deleter.join(10)
        assert outcome == [None]
    finally:
        task.close()
    assert not CatalogRelease.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.RELEASE_DELETED, object_id=str(pk))
    assert (event.actor_id, event.reason, event.detail["items"]) == (catalog_admin.pk, "abandoned", 3)
    # its history stays, and the bulk worker's task still gives it its readers' indexes
    assert CatalogItem.history.filter(release_id=pk, history_type="+").count() == 3
    draft.pk = pk
    assert shape(draft)[0] == {"history_id,release_id"}
    assert services.items_finish_locked(release_id=pk) is True
    assert shape(draft)[0] == {"history_id,release_id", "history_user_id", "id"}
