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
from django.db import connection
from django.db.models import Sum

from apps.catalog.selectors import published_releases

from .models import SettlementBatch

CLEAN = "a.hn = 1 AND a.dn = 1 AND a.ht = a.dt AND a.hf = a.df AND a.hpt = a.dpt"


def expected_release_sql() -> tuple[str, list[Any]]:
    """SQL over record alias ``r`` giving the label of the release in force on its date of
    service (NULL before the first release), and its parameters."""
    releases: list[tuple[dt.date, str]] = list(published_releases().order_by("-effective_from").values_list("effective_from", "label"))
    if not releases:
        return "NULL::text", []
    whens = " ".join("WHEN r.date_of_service >= %s THEN %s" for _ in releases)
    params: list[Any] = []
    for effective_from, label in releases:
        params += [effective_from, label]
    return f"(CASE {whens} END)", params


def _agg_sql(expected: str) -> str:
    def side(column: str, s: str) -> str:
        return f"min(r.{column}) FILTER (WHERE r.side = '{s}')"

    bad = f"r.release_label IS DISTINCT FROM {expected}"
    return (
        "SELECT r.settlement_id AS sid,"
        " count(*) FILTER (WHERE r.side = 'home') AS hn, count(*) FILTER (WHERE r.side = 'destination') AS dn,"
        f" coalesce({side('home_province', 'destination')}, min(r.home_province)) AS hp,"
        f" coalesce({side('destination_province', 'destination')}, min(r.destination_province)) AS dp,"
        f" {side('total_fen', 'home')} AS ht, {side('fund_fen', 'home')} AS hf, {side('patient_fen', 'home')} AS hpt,"
        f" {side('total_fen', 'destination')} AS dt, {side('fund_fen', 'destination')} AS df, {side('patient_fen', 'destination')} AS dpt,"
        f" min(r.release_label) FILTER (WHERE r.side = 'home' AND {bad}) AS hbad,"
        f" min(coalesce({expected}, '')) FILTER (WHERE r.side = 'home' AND {bad}) AS hexp,"
        f" min(r.release_label) FILTER (WHERE r.side = 'destination' AND {bad}) AS dbad,"
        f" min(coalesce({expected}, '')) FILTER (WHERE r.side = 'destination' AND {bad}) AS dexp"
        " FROM reconciliation_settlementrecord r WHERE r.period = %s GROUP BY r.settlement_id"
    )


_KINDS = """
    ('duplicate', 'home', '', NULL, NULL, NULL::bigint, NULL, a.hn::int, a.hn > 1),
    ('duplicate', 'destination', '', NULL, NULL, NULL::bigint, NULL, a.dn::int, a.dn > 1),
    ('missing_home', 'home', '', NULL, a.dt::text, NULL::bigint, NULL, 1, a.hn = 0),
    ('missing_destination', 'destination', '', a.ht::text, NULL, NULL::bigint, NULL, 1, a.dn = 0),
    ('amount_mismatch', '', 'total_fen', a.ht::text, a.dt::text, a.dt - a.ht, NULL, 1, a.hn = 1 AND a.dn = 1 AND a.ht <> a.dt),
    ('amount_mismatch', '', 'fund_fen', a.hf::text, a.df::text, a.df - a.hf, NULL, 1, a.hn = 1 AND a.dn = 1 AND a.hf <> a.df),
    ('amount_mismatch', '', 'patient_fen', a.hpt::text, a.dpt::text, a.dpt - a.hpt, NULL, 1, a.hn = 1 AND a.dn = 1 AND a.hpt <> a.dpt),
    ('release_not_in_force', 'home', 'release_label', a.hbad, NULL, NULL::bigint, a.hexp, 1, a.hbad IS NOT NULL),
    ('release_not_in_force', 'destination', 'release_label', NULL, a.dbad, NULL::bigint, a.dexp, 1, a.dbad IS NOT NULL)
"""


# Pass 1 keeps only narrow, fixed-width aggregates so the GROUP BY stays a HashAggregate in
# memory (the wide text aggregates of the detail pass made PostgreSQL sort 2 rows per claim to
# disk first). Both provinces are packed into one bigint, the destination side's row first
# (its leading digit 0 sorts before the home side's 1); codes are 6-digit (importer-checked).
_PACK = (
    "min(CASE WHEN r.side = 'destination' THEN 0 ELSE 1000000000000 END + r.home_province::int8 * 1000000 + r.destination_province::int8)"
)
_UNPACK_HOME = "lpad(((pp %% 1000000000000) / 1000000)::text, 6, '0')"
_UNPACK_DEST = "lpad((pp %% 1000000)::text, 6, '0')"
# total = fund + patient is a table constraint, so total and fund decide patient too.
LEAN_MATCHED = "hn = 1 AND n = 2 AND ht = dt AND hf = df"


def _lean_sql(expected: str) -> str:
    def side(column: str, s: str) -> str:
        return f"min(r.{column}) FILTER (WHERE r.side = '{s}')"

    return (
        "SELECT r.settlement_id AS sid, count(*) FILTER (WHERE r.side = 'home') AS hn, count(*) AS n,"
        f" {_PACK} AS pp, {side('total_fen', 'home')} AS ht, {side('fund_fen', 'home')} AS hf,"
        f" {side('total_fen', 'destination')} AS dt, {side('fund_fen', 'destination')} AS df,"
        f" count(*) FILTER (WHERE r.release_label IS DISTINCT FROM {expected}) AS nb"
        " FROM reconciliation_settlementrecord r WHERE r.period = %s GROUP BY r.settlement_id"
    )


def _lean_streaming_sql(expected: str) -> str:
    """``_lean_sql``'s columns from each side grouped on its own, in index order, and the two
    sides merged on settlement_id: memory stays flat however large the month (the one hash
    aggregation of both sides spills to disk once the month outgrows work_mem)."""

    def side(s: str) -> str:
        return (
            "SELECT r.settlement_id AS sid, count(*) AS n, min(r.total_fen) AS t, min(r.fund_fen) AS f,"
            " min(r.home_province::int8 * 1000000 + r.destination_province::int8) AS p,"
            f" count(*) FILTER (WHERE r.release_label IS DISTINCT FROM {expected}) AS b"
            f" FROM reconciliation_settlementrecord r WHERE r.period = %s AND r.side = '{s}' GROUP BY r.settlement_id"
        )

    return (
        "SELECT coalesce(h.sid, d.sid) AS sid, coalesce(h.n, 0) AS hn, coalesce(h.n, 0) + coalesce(d.n, 0) AS n,"
        " coalesce(d.p, 1000000000000 + h.p) AS pp, h.t AS ht, h.f AS hf, d.t AS dt, d.f AS df,"
        " coalesce(h.b, 0) + coalesce(d.b, 0) AS nb"
        f" FROM ({side('home')}) h FULL JOIN ({side('destination')}) d ON d.sid = h.sid"
    )


# Planner settings of the streaming plan: index pages of a month being matched are cached (an
# SSD's random reads cost about a sequential one), and a merge join, not a hash join, of the
# two sides' per-claim rows (the planner cannot know each side has about one row per claim).
STREAMING_SETTINGS = ("SET LOCAL random_page_cost = 1.1", "SET LOCAL enable_hashjoin = off")


# Past this many records in a month, both sides are streamed in index order and merged (the
# single hash aggregation keeps ~190 bytes per claim and spills once a month outgrows
# work_mem × hash_mem_multiplier = 512 MB, about 2.7 M claims); below it, hashing is faster.
STREAMING_ABOVE_RECORDS = 4_000_000


def streaming_plan(period: str) -> bool:
    """True when the period is large enough for the streaming plan (RECONCILIATION_STREAMING_ABOVE_RECORDS)."""
    records = SettlementBatch.objects.filter(period=period).aggregate(n=Sum("rows"))["n"] or 0
    return bool(records > getattr(settings, "RECONCILIATION_STREAMING_ABOVE_RECORDS", STREAMING_ABOVE_RECORDS))


def match_period(*, run_id: int, period: str, streaming: bool | None = None) -> dict[str, Any]:
    """Write the period's discrepancies for ``run_id``; return ``{"kinds": {kind: n},
    "matched": n, "pairs": [(home, destination, matched count, matched fund fen)]}``.

    Matched = exactly one record per side with equal total, fund and patient amounts (a
    release_not_in_force flag does not unmatch it). Duplicated ids are reported and left out.

    One statement, two passes: a narrow GROUP BY over every record of the period finds the
    matched claims and the few that are not clean; only those are read again (by index) with
    both sides' values to write their Discrepancy rows. The first pass hashes both sides at once
    or, for a large month (``streaming``; by default chosen by ``streaming_plan``), groups each
    side in index order and merges the two. Call inside a transaction: JIT's
    expensive passes are kept for large months only and work_mem is raised.
    """
    if streaming is None:
        streaming = streaming_plan(period)
    expected, eparams = expected_release_sql()
    lean = _lean_streaming_sql(expected) if streaming else _lean_sql(expected)
    detail = _agg_sql(expected).replace(
        "WHERE r.period = %s",
        "WHERE r.period = %s AND r.side IN ('home', 'destination')"
        " AND r.settlement_id = ANY(ARRAY(SELECT unnest(p.bad) FROM pairs p WHERE p.bad IS NOT NULL))",
    )
    lean_params = [*eparams, period, *eparams, period] if streaming else [*eparams, period]
    params: list[Any] = [*lean_params, *(eparams * detail.count(expected)), period, run_id, period]
    sql = (
        # The per-claim groups stream straight into the per-pair totals (a materialised CTE of
        # every claim spilled to disk at 10 M claims); the few non-clean ids ride along as arrays.
        f"WITH pairs AS MATERIALIZED (SELECT pp, count(*) FILTER (WHERE {LEAN_MATCHED}) AS n,"
        f" sum(df) FILTER (WHERE {LEAN_MATCHED}) AS f, array_agg(sid) FILTER (WHERE NOT ({LEAN_MATCHED} AND nb = 0)) AS bad"
        f" FROM ({lean}) agg GROUP BY pp),"
        f" bad AS MATERIALIZED ({detail}),"
        f" ins AS (INSERT INTO reconciliation_discrepancy (run_id, period, kind, settlement_id, side, field, home_province,"
        " destination_province, home_value, destination_value, delta_fen, expected, count)"
        " SELECT %s, %s, x.kind, a.sid, x.side, x.field, a.hp, a.dp, coalesce(x.hv, ''), coalesce(x.dv, ''), x.delta,"
        f" coalesce(x.exp, ''), x.cnt FROM bad a CROSS JOIN LATERAL (VALUES {_KINDS}) AS x(kind, side, field, hv, dv, delta, exp, cnt, hit)"
        f" WHERE NOT ({CLEAN} AND a.hbad IS NULL AND a.dbad IS NULL) AND x.hit RETURNING kind)"
        " SELECT 'kind', kind, '', count(*), NULL::numeric FROM ins GROUP BY kind"
        f" UNION ALL SELECT 'pair', {_UNPACK_HOME}, {_UNPACK_DEST}, n, f FROM pairs WHERE n > 0"
    )
    with connection.cursor() as cursor:
        # JIT's optimise + inline passes cost ~0.4 s (a fifth of a 1M-row month) but pay back at
        # 10M rows (~12%); the plan costs are ~0.9M and ~5M, so only the large month gets them.
        cursor.execute("SET LOCAL jit_optimize_above_cost = 2000000")
        cursor.execute("SET LOCAL jit_inline_above_cost = 2000000")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        for setting in STREAMING_SETTINGS if streaming else ():
            cursor.execute(setting)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    kinds = dict.fromkeys(("amount_mismatch", "missing_home", "missing_destination", "duplicate", "release_not_in_force"), 0)
    pairs = []
    for what, a, b, n, amount in rows:
        if what == "kind":
            kinds[a] = int(n)
        else:
            pairs.append((a, b, int(n), int(amount)))
    pairs.sort()
    return {"kinds": kinds, "matched": sum(p[2] for p in pairs), "pairs": pairs}


def baseline_group_by(*, period: str) -> tuple[int, int]:
    """The bare GROUP BY of the same rows (the benchmark's yardstick): (groups, fund fen)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            "SELECT count(*), sum(f) FROM (SELECT settlement_id, count(*) AS n, sum(fund_fen) AS f"
            " FROM reconciliation_settlementrecord WHERE period = %s GROUP BY settlement_id) g",
            [period],
        )
        groups, fund = cursor.fetchone()
    return int(groups), int(fund or 0)
