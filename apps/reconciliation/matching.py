"""The set-based matching of one period in one statement (no Python loop): a narrow GROUP BY
settlement_id over both sides' records, then only the non-clean groups are read again with
both sides' values and become Discrepancy rows.

The release a record should have been coded against is the published catalog release in
force on its date of service (latest effective_from ≤ date, as
apps.catalog.selectors.release_in_force); the few release boundaries are inlined as a CASE
so the check costs no join.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum

from apps.catalog.selectors import published_releases

from . import sql
from .models import SettlementBatch


def expected_release_sql() -> tuple[str, list[Any]]:
    """SQL over record alias ``record`` giving the label of the release in force on its date of
    service (NULL before the first release), and its parameters."""
    releases: list[tuple[dt.date, str]] = list(published_releases().order_by("-effective_from").values_list("effective_from", "label"))
    if not releases:
        return "NULL::text", []
    whens = " ".join("WHEN record.date_of_service >= %s THEN %s" for _ in releases)
    params: list[Any] = []
    for effective_from, label in releases:
        params += [effective_from, label]
    return f"(CASE {whens} END)", params


# Past this many records in a month, both sides are streamed in index order and merged (the
# single hash aggregation keeps ~190 bytes per claim and spills once a month outgrows
# work_mem × hash_mem_multiplier = 512 MB, about 2.7 M claims); below it, hashing is faster.
STREAMING_ABOVE_RECORDS = 4_000_000


def active_batch_ids(period: str) -> list[int]:
    """The batches of ``period`` a run reads: the active ones (not superseded, not withdrawn)."""
    return list(
        SettlementBatch.objects.filter(period=period, state=SettlementBatch.State.ACTIVE).order_by("pk").values_list("pk", flat=True)
    )


def streaming_plan(period: str) -> bool:
    """True when the period is large enough for the streaming plan (RECONCILIATION_STREAMING_ABOVE_RECORDS)."""
    records = SettlementBatch.objects.filter(period=period, state=SettlementBatch.State.ACTIVE).aggregate(n=Sum("rows"))["n"] or 0
    return bool(records > getattr(settings, "RECONCILIATION_STREAMING_ABOVE_RECORDS", STREAMING_ABOVE_RECORDS))


def match_period(
    *,
    run_id: int,
    period: str,
    streaming: bool | None = None,
    batch_ids: list[int] | None = None,
    settled_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Write the period's discrepancies for ``run_id``; return ``{"kinds": {kind: n},
    "matched": n, "pairs": [(home, destination, matched count, matched fund fen)], "settled":
    [(home, destination, settlement id, fund fen)]}``.

    Only the records of ``batch_ids`` (default: the period's active batches) are read, so a
    superseded batch's rows give way to its correction and a withdrawn batch's rows are gone.
    Matched = exactly one record per side with equal total, fund and patient amounts (a
    release_not_in_force flag does not unmatch it). Duplicated ids are reported and left out.
    A matched claim among ``settled_ids`` (claims already settled by a decision on one of their
    discrepancies) is not counted in its pair but listed under ``settled``: it never nets again.

    One statement, two passes: a narrow GROUP BY over every record of the period finds the
    matched claims and the few that are not clean; only those are read again (by index) with
    both sides' values to write their Discrepancy rows. The first pass hashes both sides at once
    or, for a large month (``streaming``; by default chosen by ``streaming_plan``), groups each
    side in index order and merges the two. Call inside a transaction: JIT's
    expensive passes are kept for large months only and work_mem is raised.
    """
    if streaming is None:
        streaming = streaming_plan(period)
    batches = active_batch_ids(period) if batch_ids is None else batch_ids
    expected, eparams = expected_release_sql()
    lean = sql.lean_streaming_sql(expected) if streaming else sql.lean_hash_sql(expected)
    detail = sql.claim_detail_sql(expected)
    lean_params = [*eparams, period, batches, *eparams, period, batches] if streaming else [*eparams, period, batches]
    settled = sorted(set(settled_ids or ()))
    params: list[Any] = [
        *([settled] if settled else []),
        *lean_params,
        *(eparams * detail.count(expected)),
        period,
        batches,
        run_id,
        period,
    ]
    with connection.cursor() as cursor:
        for setting in sql.MATCH_SETTINGS + (sql.STREAMING_SETTINGS if streaming else ()):
            cursor.execute(setting)
        match_only = sql.STREAMING_MATCH_ONLY_SETTINGS if streaming else ()
        for name in match_only:
            cursor.execute(f"SET LOCAL {name} = off")
        cursor.execute(sql.match_period_sql(lean=lean, detail=detail, settled=bool(settled)), params)
        rows = cursor.fetchall()
        for name in match_only:
            cursor.execute(f"SET LOCAL {name} TO DEFAULT")
    kinds = dict.fromkeys(("amount_mismatch", "missing_home", "missing_destination", "duplicate", "release_not_in_force"), 0)
    pairs = []
    settled_claims = []
    for what, a, b, n, amount, claim in rows:
        if what == "kind":
            kinds[a] = int(n)
        elif what == "settled":
            settled_claims.append((a, b, claim, int(amount)))
        else:
            pairs.append((a, b, int(n), int(amount)))
    pairs.sort()
    settled_claims.sort(key=lambda c: c[2])
    return {"kinds": kinds, "matched": sum(p[2] for p in pairs), "pairs": pairs, "settled": settled_claims}


def baseline_group_by(*, period: str) -> tuple[int, int]:
    """The bare GROUP BY of the same rows (the benchmark's yardstick): (groups, fund fen).

    In its own transaction (a savepoint inside one) so that its work_mem holds as it does for
    the match: ``SET LOCAL`` outside a transaction is ignored (PostgreSQL warns and keeps 4 MB),
    and the yardstick then spilled its hash table to disk while the match did not."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(sql.BASELINE_GROUP_BY_SQL, [period])
        groups, fund = cursor.fetchone()
    return int(groups), int(fund or 0)
