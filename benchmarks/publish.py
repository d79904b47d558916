"""Publish and diff of a 500,000-item release, against raw PostgreSQL baselines in the same run.

- publish of a first release / its bare limit (issue 22): ``CREATE TABLE AS`` of the same rows
  from an unindexed table of the same columns with the same md5 content hash per row (goal <= 5x)
- publish / plain COPY FROM of the same rows into the items table (earlier baseline, goal <= 3x)
- diff / a bare SQL FULL JOIN of the two item sets (goal <= 1.5x)

A publish is timed as production runs it: the tasks its commit sends (the release's search
index on the bulk queue, the mapping re-check) go to a real Redis broker (BENCH_REDIS_URL, keys
prefixed ``bench-publish:`` and deleted afterwards) instead of running inside the call, as the
test settings' eager Celery would do. The search index, which a bulk worker builds after the
publish has committed, is timed on its own and printed beside, not counted in the publish.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import drop_item_partitions, judged, print_table, row, setup_django, tasks_queued_as_in_production, timed


def _csv_rows(count: int) -> bytes:
    from apps.catalog.demo import generate_canonical_items
    from apps.catalog.models import ITEM_CONTENT_FIELDS

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for item in generate_canonical_items(count, seed=500):
        values = {**item, "replaces": "[]"}
        writer.writerow([item["code"], *(values.get(f, "") for f in ITEM_CONTENT_FIELDS)])
    return buffer.getvalue().encode()


def _copy_items(release_id: int, payload: bytes) -> None:
    from django.db import connection

    from apps.catalog.models import ITEM_CONTENT_FIELDS

    columns = ", ".join(("code", *ITEM_CONTENT_FIELDS))
    nullable = {"restriction_max_days", "self_pay_ratio", "payment_standard_fen"}
    not_null = ", ".join(f for f in ITEM_CONTENT_FIELDS if f not in nullable)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE catalog_catalogitem ALTER COLUMN release_id SET DEFAULT {int(release_id)}")
        try:
            with cursor.cursor.copy(
                f"COPY catalog_catalogitem ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))"
            ) as copy:
                for start in range(0, len(payload), 1 << 20):
                    copy.write(payload[start : start + (1 << 20)])
        finally:
            cursor.execute("ALTER TABLE catalog_catalogitem ALTER COLUMN release_id DROP DEFAULT")


def _bare_ctas_with_hash(payload: bytes) -> float:
    """The bare limit of publishing: CREATE TABLE AS of the rows with the items' md5 content hash,
    from an unindexed table of the same columns (loaded by COPY first, not timed)."""
    import importlib
    import time

    from django.db import connection

    from apps.catalog.models import ITEM_CONTENT_FIELDS

    hash_sql = importlib.import_module("apps.catalog.migrations.0003_item_content_hash")._expression()
    columns = ", ".join(("code", *ITEM_CONTENT_FIELDS))
    nullable = {"restriction_max_days", "self_pay_ratio", "payment_standard_fen"}
    not_null = ", ".join(f for f in ("code", *ITEM_CONTENT_FIELDS) if f not in nullable)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_items, bench_bare_release")
        cursor.execute(f"CREATE TABLE bench_bare_items AS SELECT {columns} FROM catalog_catalogitem WITH NO DATA")
        with cursor.cursor.copy(f"COPY bench_bare_items ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))") as copy:
            for start in range(0, len(payload), 1 << 20):
                copy.write(payload[start : start + (1 << 20)])
        cursor.execute("VACUUM ANALYZE bench_bare_items")
        start = time.perf_counter()
        cursor.execute(f"CREATE TABLE bench_bare_release AS SELECT *, {hash_sql} AS content_hash FROM bench_bare_items")
        seconds = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_bare_items, bench_bare_release")
    return seconds


def _reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # TRUNCATE skips the immutability triggers (they guard UPDATE/DELETE); CASCADE empties the
        # notices, acknowledgements and reconciliation rows that point at releases in this bench database.
        cursor.execute(
            "TRUNCATE catalog_releasechange, catalog_catalogitem, catalog_historicalcatalogitem,"
            " catalog_historicalcatalogrelease, catalog_catalogrelease CASCADE"
        )
        drop_item_partitions(cursor)


def run(quick: bool = False) -> list[dict[str, Any]]:
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apps.catalog import search, services
    from apps.catalog.selectors import compute_diff_rows
    from apps.core.roles import Role
    from apps.core.services import staff_create

    count = 50_000 if quick else 500_000
    _reset()
    User = get_user_model()
    admin = User.objects.filter(username="bench-admin").first() or staff_create(username="bench-admin", role=Role.CATALOG_ADMIN)
    reviewer = User.objects.filter(username="bench-reviewer").first() or staff_create(username="bench-reviewer", role=Role.CATALOG_REVIEWER)
    payload = _csv_rows(count)

    # Baseline: plain COPY FROM of the same rows into the same (indexed) table.
    baseline_release = services.release_create_draft(label="bench-copy", effective_from=dt.date(2000, 1, 1), user=admin, based_on=None)
    copy_seconds = timed(lambda: _copy_items(baseline_release.pk, payload))
    bare_seconds = min(_bare_ctas_with_hash(payload) for _ in range(2))

    first = services.release_create_draft(label="bench-1", effective_from=dt.date(2025, 1, 1), user=admin, based_on=None)
    _copy_items(first.pk, payload)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_catalogitem")
    services.release_submit(release=first, user=admin, confirm_removals=True)
    services.release_approve(release=first, user=reviewer)
    with tasks_queued_as_in_production():
        publish_seconds = timed(lambda: services.release_publish(release=first, user=admin))
    # What a bulk worker does after that commit (not part of the publisher's wait).
    index_seconds = timed(lambda: search.release_index_locked(release_id=first.pk))

    # A second release: 5% changed, 1% removed, 1% added, as yearly renewals look.
    second = services.release_create_draft(label="bench-2", effective_from=dt.date(2026, 1, 1), user=admin, based_on=first)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_catalogitem SET name = name || '（新规格）' WHERE release_id = %s AND id %% 20 = 0", [second.pk])
        cursor.execute("DELETE FROM catalog_catalogitem WHERE release_id = %s AND id %% 100 = 1", [second.pk])
        cursor.execute(
            "INSERT INTO catalog_catalogitem (release_id, code, kind, name, generic_name, dosage_form, specification, manufacturer, unit,"
            " pricing_unit, category, restriction_text, restriction_indication, restriction_hospital_level, category_path, replaces)"
            " SELECT %s, 'T' || lpad((900000000 + id)::text, 9, '0'), 'tcm_piece', '新增饮片', '', '', '', '', '克', '克', '02', '', '', '', '',"
            " '[]'::jsonb FROM catalog_catalogitem WHERE release_id = %s AND id %% 100 = 2",
            [second.pk, second.pk],
        )
        cursor.execute("ANALYZE catalog_catalogitem")

    def bare_full_join() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT o.code, n.code FROM (SELECT * FROM catalog_catalogitem WHERE release_id = %s) o"
                " FULL JOIN (SELECT * FROM catalog_catalogitem WHERE release_id = %s) n ON o.code = n.code",
                [first.pk, second.pk],
            )
            cursor.fetchall()

    # Interleaved, best of 3 each: the machine may be busy with other work.
    join_runs, diff_runs = [], []
    for _ in range(3):
        join_runs.append(timed(bare_full_join))
        diff_runs.append(timed(lambda: compute_diff_rows(old_id=first.pk, new_id=second.pk)))
    join_seconds, diff_seconds = min(join_runs), min(diff_runs)
    services.release_submit(release=second, user=admin, confirm_removals=True)
    services.release_approve(release=second, user=reviewer)
    with tasks_queued_as_in_production():
        publish2_seconds = timed(lambda: services.release_publish(release=second, user=admin))

    n = f"{count // 1000}k"
    return [
        judged(f"publish first release ({n} items) / bare CTAS + md5", publish_seconds, bare_seconds, limit=5, goal="<= 5x (issue 22)"),
        row(f"publish first release ({n} items) / COPY FROM into the items table", publish_seconds, copy_seconds, "<= 3x (issue 4)"),
        row(
            "search index of that release (bulk worker, after commit; not in the publish) / bare CTAS + md5",
            index_seconds,
            bare_seconds,
            "— (no goal set)",
        ),
        row(f"publish renewal ({n}, 7% diff) / bare CTAS + md5", publish2_seconds, bare_seconds, "— (no goal set)"),
        row(f"publish renewal ({n}, 7% diff) / COPY FROM into the items table", publish2_seconds, copy_seconds, "<= 3x (issue 4)"),
        row(f"diff {n} vs {n} / bare SQL FULL JOIN", diff_seconds, join_seconds, "<= 1.5x"),
    ]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
