"""Items partitioned by release (issue 22, migration 0010): each release's partition with its own
indexes, a bulk load into an empty draft built unindexed and its keys built afterwards in the
same transaction (nothing half-written when it fails), the readers' indexes after commit by the
bulk worker or at the latest by the submit (0016), the content hash written by the writers or
the trigger, and a published release's partition refusing every write, however it is reached."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import IntegrityError, connection, transaction

from apps.catalog import services
from apps.catalog import sql as catalog_sql
from apps.catalog.importers.services import release_import
from apps.catalog.models import CatalogItem, CatalogRelease
from apps.catalog.search_models import SearchTerm
from apps.core.models import AuditAction, AuditEvent
from tests.factories import draft_release, published_release
from tests.security.test_db_invariants_as_app_role import committed, connect_as

pytestmark = pytest.mark.django_db
JAN = dt.date(2026, 1, 1)
INDEXES = {"_pkey", "_code", "_kind", "_path", "_replaces", "_has_replaces"}
KEYS = {"_pkey", "_code"}  # what a bulk load builds before it commits

CSV = (
    "code,name,category,payment_standard_fen,self_pay_ratio,replaces\n"
    "XA02BCA211A001010101445,奥美拉唑肠溶胶囊,01,1234,0.1000,\n"
    "XA02BCA211A001010101446,奥美拉唑肠溶片,02,,,\n"
    "001201000010000,一般诊疗费,01,1000,,001201000010001\n"
).encode()


def partition(release: CatalogRelease) -> str:
    return f"catalog_catalogitem_r{release.pk}"


def indexes(release: CatalogRelease) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [partition(release)])
        return {name.removeprefix(partition(release)) for (name,) in cursor.fetchall()}


def sql_refused(statement: str, params: list[object] | None = None) -> None:
    with pytest.raises(IntegrityError, match="published catalog release"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def stale_hashes(release: CatalogRelease) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM catalog_catalogitem i WHERE release_id = %s AND content_hash IS DISTINCT FROM {catalog_sql.content_hash_sql('i')}",
            [release.pk],
        )
        return int(cursor.fetchone()[0])


def test_a_release_gets_a_partition_of_its_own_with_its_indexes(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'catalog_catalogitem'::regclass AND c.relname = %s",
            [partition(draft)],
        )
        assert cursor.fetchone() == (f"FOR VALUES IN ('{draft.pk}')",)
    assert indexes(draft) == INDEXES


def analysed(release: CatalogRelease) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = %s AND attname IN ('release_id', 'code')", [partition(release)])
        return cursor.fetchone() == (2,)


def test_an_import_into_an_empty_draft_is_loaded_then_indexed(catalog_admin, django_capture_on_commit_callbacks):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    with django_capture_on_commit_callbacks() as after_commit:
        result = release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    assert (result["added"], CatalogItem.objects.filter(release=draft).count()) == (3, 3)
    # committed with the keys that hold its rules; the readers' indexes come after commit
    assert indexes(draft) == KEYS and not analysed(draft)
    assert stale_hashes(draft) == 0
    assert CatalogItem.history.filter(release_id=draft.pk, history_type="+").count() == 3
    assert not SearchTerm.objects.filter(text="奥美拉唑肠溶胶囊").exists()
    for callback in after_commit:  # the bulk worker's catalog.items_finish (eager in tests)
        callback()
    # indexed, analysed (without column statistics a reader plans the release as a hundred
    # rows) and its texts in the search dictionary
    assert indexes(draft) == INDEXES and analysed(draft)
    assert SearchTerm.objects.filter(text="奥美拉唑肠溶胶囊").exists()
    assert services.items_finish_locked(release_id=draft.pk) is False  # a redelivered task: nothing to do
    # a second file into the now non-empty draft changes rows in place (ids kept)
    before = dict(CatalogItem.objects.filter(release=draft).values_list("code", "id"))
    changed = CSV.replace("奥美拉唑肠溶片,02".encode(), "奥美拉唑肠溶片,03".encode())
    result = release_import(release=draft, file=io.BytesIO(changed), fmt="canonical-csv", user=catalog_admin, mode="replace")
    assert (result["added"], result["changed"], result["removed"]) == (0, 1, 0)
    assert dict(CatalogItem.objects.filter(release=draft).values_list("code", "id")) == before
    assert item_category(draft, "XA02BCA211A001010101446") == "03" and stale_hashes(draft) == 0


def services_csv(count: int, *, category_of: dict[int, str] | None = None) -> bytes:
    rows = [f"{1201000010000 + n:015d},诊疗项目{n},{(category_of or {}).get(n, '01')}" for n in range(count)]
    return ("code,name,category\n" + "\n".join(rows) + "\n").encode()


def index_oid(release: CatalogRelease) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::regclass::oid", [f"{partition(release)}_code"])
        return int(cursor.fetchone()[0])


def test_a_few_changes_are_made_in_place_and_many_rewrite_the_partition(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(services_csv(8)), fmt="canonical-csv", user=catalog_admin, mode="merge")
    ids, built = dict(CatalogItem.objects.filter(release=draft).values_list("code", "id")), index_oid(draft)
    # one item of eight changed: in place (the indexes are the same ones)
    result = release_import(
        release=draft, file=io.BytesIO(services_csv(8, category_of={0: "02"})), fmt="canonical-csv", user=catalog_admin, mode="merge"
    )
    assert (result["changed"], index_oid(draft), stale_hashes(draft)) == (1, built, 0)
    # half of them changed, one removed, one added (replace): rewritten and indexed anew, ids kept
    file = services_csv(9, category_of=dict.fromkeys(range(4), "03")).replace(f"{1201000010000:015d},".encode(), b"gone,", 1)
    file = b"\n".join(line for line in file.split(b"\n") if not line.startswith(b"gone,"))
    result = release_import(release=draft, file=io.BytesIO(file), fmt="canonical-csv", user=catalog_admin, mode="replace")
    assert (result["added"], result["changed"], result["removed"]) == (1, 3, 1)
    after = dict(CatalogItem.objects.filter(release=draft).values_list("code", "id"))
    assert {code: after[code] for code in ids if code in after} == {code: ids[code] for code in ids if code in after}
    assert len(after) == 8 and index_oid(draft) != built and indexes(draft) == KEYS and stale_hashes(draft) == 0
    assert CatalogItem.objects.get(release=draft, code=f"{1201000010003:015d}").category == "03"
    history = CatalogItem.history.filter(release_id=draft.pk)
    assert (history.filter(history_type="-").count(), history.filter(history_type="~").count()) == (1, 4)


def item_category(release: CatalogRelease, code: str) -> str:
    return CatalogItem.objects.get(release=release, code=code).category


def test_a_bulk_load_that_fails_after_its_rows_leaves_the_draft_as_it_was(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    # A real failure after the rows are loaded and indexed and their history attached: the audit
    # event, the import's last write, is refused.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'event refused'; END $$"
        )
        cursor.execute("CREATE TRIGGER refuse_event BEFORE INSERT ON core_auditevent FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.refuse()")
    with pytest.raises(Exception, match="event refused"), transaction.atomic():
        release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin, mode="merge")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_event ON core_auditevent")
        cursor.execute("SELECT to_regclass(%s)", [f"catalog_historicalcatalogitem_r{draft.pk}"])
        assert cursor.fetchone() == (None,)  # the history's partition went with the rollback
    assert CatalogItem.objects.filter(release=draft).count() == 0
    assert indexes(draft) == INDEXES


def test_a_published_partition_refuses_writes_however_reached(catalog_admin, reviewer):
    release = published_release(label="2025.12", effective_from=dt.date(2025, 12, 1), admin=catalog_admin, reviewer=reviewer)
    table = partition(release)
    columns = "code, kind, name, generic_name, dosage_form, specification, manufacturer, unit, pricing_unit, category, " + (
        "restriction_text, restriction_indication, restriction_hospital_level, category_path, replaces"
    )
    sql_refused(f"UPDATE {table} SET name = 'tampered'")
    sql_refused(f"DELETE FROM {table}")
    sql_refused(
        f"INSERT INTO {table} (release_id, {columns}) SELECT release_id, code || '9', kind, name, generic_name, dosage_form, "
        "specification, manufacturer, unit, pricing_unit, category, restriction_text, restriction_indication, "
        f"restriction_hospital_level, category_path, replaces FROM {table} LIMIT 1"
    )
    sql_refused("UPDATE catalog_catalogitem SET name = 'tampered' WHERE release_id = %s", [release.pk])
    # nor may its indexes be dropped for a bulk load
    with pytest.raises(IntegrityError, match="not a draft"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT catalog_item_partition_unindex(%s)", [release.pk])
    assert indexes(release) == INDEXES


def test_the_trigger_keeps_the_hash_of_items_written_one_by_one(catalog_admin):
    draft = draft_release(
        label="2026.01",
        effective_from=JAN,
        user=catalog_admin,
        items=[{"code": "XA02BCA211A001010101445", "name": "奥美拉唑肠溶胶囊", "category": "01"}],
    )
    before = content_hash(draft)
    assert stale_hashes(draft) == 0
    services.item_put(release=draft, data={"code": "XA02BCA211A001010101445", "name": "奥美拉唑", "category": "02"}, user=catalog_admin)
    assert stale_hashes(draft) == 0 and content_hash(draft) != before


def content_hash(release: CatalogRelease) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT content_hash FROM catalog_catalogitem WHERE release_id = %s", [release.pk])
        return str(cursor.fetchone()[0])


def test_a_draft_based_on_a_release_copies_its_items_and_their_indexes(catalog_admin, reviewer, django_capture_on_commit_callbacks):
    base = published_release(label="2025.12", effective_from=dt.date(2025, 12, 1), admin=catalog_admin, reviewer=reviewer)
    with django_capture_on_commit_callbacks(execute=True):  # and the bulk worker's task after it
        draft = services.release_create_draft(label="2026.01", effective_from=JAN, user=catalog_admin, based_on=base)
    assert CatalogItem.objects.filter(release=draft).count() == CatalogItem.objects.filter(release=base).count() > 0
    assert indexes(draft) == INDEXES and stale_hashes(draft) == 0


def test_a_submit_builds_the_readers_indexes_when_the_bulk_task_was_lost(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin)  # its task never runs
    assert indexes(draft) == KEYS
    services.release_submit(release=draft, user=catalog_admin, confirm_removals=True)
    assert indexes(draft) == INDEXES and analysed(draft)
    assert SearchTerm.objects.filter(text="一般诊疗费").exists()


def history_indexed(release: CatalogRelease) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"catalog_historicalcatalogitem_r{release.pk}_id"])
        return bool(cursor.fetchone()[0])


def test_the_bulk_workers_sweep_finishes_a_draft_whose_task_was_lost(catalog_admin, reviewer):
    from apps.catalog.tasks import items_finish_due

    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin)  # its task never runs
    deleted = draft_release(label="2026.02", effective_from=dt.date(2026, 2, 1), user=catalog_admin)
    release_import(release=deleted, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin)
    deleted_id = deleted.pk
    services.release_delete_draft(release=deleted, user=catalog_admin)  # its item history stays, unindexed
    deleted.pk = deleted_id
    # copied from a published release: its items unindexed, its item history indexed at once
    base = published_release(label="2025.12", effective_from=dt.date(2025, 12, 1), admin=catalog_admin, reviewer=reviewer)
    copied = services.release_create_draft(label="2026.03", effective_from=dt.date(2026, 3, 1), user=catalog_admin, based_on=base)
    untouched = draft_release(label="2026.04", effective_from=dt.date(2026, 4, 1), user=catalog_admin)
    assert indexes(draft) == KEYS and not history_indexed(draft) and not history_indexed(deleted)
    assert indexes(copied) == KEYS and history_indexed(copied)
    due = catalog_sql.releases_to_finish()
    assert {draft.pk, deleted.pk, copied.pk} <= set(due) and not {untouched.pk, base.pk} & set(due)
    with connection.cursor() as cursor:
        # the deletion's history rows' deferred key checks, which the worker's own transaction would not have pending
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert items_finish_due() >= 3  # the beat's task (and the bulk worker's start), run here in-process
    for release in (draft, copied):
        assert indexes(release) == INDEXES and analysed(release) and history_indexed(release)
    assert history_indexed(deleted)
    assert SearchTerm.objects.filter(text="一般诊疗费").exists()
    assert not {draft.pk, deleted.pk, copied.pk} & set(catalog_sql.releases_to_finish())
    assert services.items_finish_due() == 0  # the next sweep finds nothing to do


def _as_if_the_task_was_lost(release: CatalogRelease) -> None:
    """Back to the state a bulk load commits in: the items' keys only, item history unindexed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT catalog_item_partition_unindex(%s), catalog_item_partition_index_keys(%s)", [release.pk, release.pk])
        cursor.execute(f"DROP INDEX catalog_historicalcatalogitem_r{release.pk}_id, catalog_historicalcatalogitem_r{release.pk}_user")


@committed
def test_a_release_the_sweep_cannot_finish_does_not_keep_the_others_unfinished(catalog_admin):
    first = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    second = draft_release(label="2026.02", effective_from=dt.date(2026, 2, 1), user=catalog_admin)
    for release in (first, second):
        release_import(release=release, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin)
        _as_if_the_task_was_lost(release)  # (tests run the task at once)
    writer = connect_as(connection.settings_dict["USER"])
    try:
        # a long write into the first draft: its index builds wait for it, the sweep's patience runs out
        writer.execute(f"LOCK TABLE catalog_catalogitem_r{first.pk} IN ROW EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            with pytest.raises(services.ReleasesNotFinished, match=rf"\[{first.pk}\]"):
                services.items_finish_due()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        # the first rolled back whole (its history's indexes too), the second finished all the same
        assert indexes(first) == KEYS and not history_indexed(first)
        assert indexes(second) == INDEXES and history_indexed(second)
    finally:
        writer.close()
    assert services.items_finish_due() >= 1  # the next sweep, the write over
    assert indexes(first) == INDEXES and history_indexed(first)


@committed
def test_two_builders_of_a_history_partitions_indexes_take_turns(catalog_admin):
    """Two sweeps (or a sweep and a late task) on a deleted draft's history, which no release row
    serialises: the second waits for the first's lock and finds its indexes (catalog 0019), where
    it used to CREATE them again and fail on the catalog's unique names."""
    import threading
    import time

    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin)
    _as_if_the_task_was_lost(draft)
    first = connect_as(connection.settings_dict["USER"])
    outcome: list[object] = []

    def second() -> None:
        try:
            outcome.append(catalog_sql.item_history_index(draft.pk))
        except Exception as exc:  # reported to the test's thread
            outcome.append(exc)
        finally:
            connection.close()

    try:
        assert first.execute("SELECT catalog_item_history_partition_index(%s)", [draft.pk]).fetchone() == (True,)  # not committed yet
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 10
        while not first.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid <> pg_backend_pid() AND NOT granted)").fetchone()[0]:
            assert time.monotonic() < deadline, "the second builder never waited for the first"
            time.sleep(0.05)
        first.commit()
        thread.join(10)
    finally:
        first.close()
    assert outcome == [False] and history_indexed(draft)


def test_deleting_a_draft_drops_its_partition(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    CatalogRelease.objects.filter(pk=draft.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partition(draft)])
        assert cursor.fetchone() == (None,)


def test_a_category_path_prefix_is_a_range_of_the_path_index(catalog_admin):
    """Hospitals filter by a category path prefix (LIKE 'XA02BC%'): the path index must serve it
    as a range in the database's collation (migration 0013), not only find the release's rows."""
    from apps.hospitals.selectors import release_items

    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin)
    services.items_finish(draft)  # the bulk worker's, after the import commits
    query = release_items(release_id=draft.pk, category_path="XA02BC")
    sql, params = query.order_by().values("category_path").query.sql_with_params()  # what the path index holds
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # three rows: only a usable index is a plan
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"{partition(draft)}_path" in plan and "~>=~" in plan, plan
    assert sorted(query.values_list("code", flat=True)) == ["XA02BCA211A001010101445", "XA02BCA211A001010101446"]


def test_the_admin_deletes_a_draft_through_the_service(client, catalog_admin):
    draft = draft_release(label="2026.01", effective_from=JAN, user=catalog_admin)
    client.force_login(catalog_admin)
    response = client.post(f"/admin/catalog/catalogrelease/{draft.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not CatalogRelease.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.RELEASE_DELETED, object_id=str(draft.pk), reason="deleted in admin").exists()
