"""The reconciliation app's SQL: settlement-file checks and insert, and the matching of a period.

Rows of other apps are reached through their fragments and querysets (``apps.benefits.sql``,
``apps.catalog.selectors``), never by their table names written here. Column aliases name what
they hold: ``home_count`` records on the home side, ``home_total_fen`` its total, and so on.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.benefits.sql import drg_hospital_payment_fen, local_item_lapsed, province_exists
from apps.core.bulk import Staging, sql_text

# The checks' messages (``sql_text``), here and not inside the f-strings, where makemessages would miss them.
MESSAGES = {
    "name_is_empty": _("line {line}: {name} is empty"),
    "name_is_longer_than": _("line {line}: {name} is longer than {limit} characters"),
    "not_a_province_code": _("line {line}: {value} is not a 6-digit GB/T 2260 province code"),
    "not_a_date": _("line {line}: {value} is not a date YYYY-MM-DD"),
    "not_fen": _("line {line}: {value} is not a whole, non-negative number of fen"),
    "no_province_value": _("line {line}: no province {value}"),
    "home_and_destination_are": _("line {line}: home and destination are both {value}"),
    "total_fen_value_is": _("line {line}: total_fen {value} is not fund_fen + patient_fen"),
    "drg_flag_value_is": _("line {line}: drg_flag {value} is not 0/1"),
    "setting_value_is_not": _("line {line}: setting {value} is not inpatient, outpatient or chronic_outpatient"),
}

# --- settlement files -----------------------------------------------------------------------

COLUMNS = (
    "settlement_id",
    "home_province",
    "destination_province",
    "hospital_code",
    "patient_id_hash",
    "date_of_service",
    "release_label",
    "drg_group",
    "total_fen",
    "fund_fen",
    "patient_fen",
)
OPTIONAL = ("drg_flag", "setting", "local_codes")
SETTINGS = ("inpatient", "outpatient", "chronic_outpatient")
MAX_LENGTH = {"local_codes": 1000, "settlement_id": 64, "hospital_code": 32, "patient_id_hash": 64, "release_label": 32, "drg_group": 16}
AMOUNTS = ("total_fen", "fund_fen", "patient_fen")
FLAG_TRUE = ("1", "true", "t", "y", "yes")
FLAG_VALUES = ("", "0", "false", "f", "n", "no", *FLAG_TRUE)
DATE_RE = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def _btrim(column: str | None) -> str:
    return f"btrim({column})"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def settlement_checks(staging: Staging) -> list[str]:
    """Queries selecting ``(line, column, error code, message)`` for every bad staged record."""
    t, line = staging.table, staging.line_sql
    col = {name: staging.col(name) for name in COLUMNS + OPTIONAL}
    checks = []
    for name in COLUMNS:
        c = col[name]
        if name != "drg_group":
            checks.append(
                f"SELECT {line}, {_lit(name)}, 'missing_field', {sql_text(MESSAGES['name_is_empty'], line=line, name=_lit(name))} "
                f"FROM {t} WHERE coalesce(btrim({c}), '') = ''"
            )
    for name, limit in MAX_LENGTH.items():
        if col[name] is None:  # an optional column the file lacks
            continue
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'too_long', "
            f"{sql_text(MESSAGES['name_is_longer_than'], line=line, name=_lit(name), limit=str(limit))} "
            f"FROM {t} WHERE length(btrim({col[name]})) > {limit}"
        )
    for name in ("home_province", "destination_province"):
        c = col[name]
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'code_format', "
            f"{sql_text(MESSAGES['not_a_province_code'], line=line, value=f'btrim({c})')} "
            f"FROM {t} WHERE btrim({c}) !~ '^[0-9]{{6}}$' AND coalesce(btrim({c}), '') <> ''"
        )
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'unknown_province', {sql_text(MESSAGES['no_province_value'], line=line, value=f'btrim({c})')} "
            f"FROM {t} staged WHERE btrim({c}) ~ '^[0-9]{{6}}$' AND NOT {province_exists(f'btrim(staged.{c})')}"
        )
    home, dest = col["home_province"], col["destination_province"]
    checks.append(
        f"SELECT {line}, 'destination_province', 'not_cross_province', "
        f"{sql_text(MESSAGES['home_and_destination_are'], line=line, value=f'btrim({home})')} "
        f"FROM {t} WHERE btrim({home}) = btrim({dest})"
    )
    d = col["date_of_service"]
    checks.append(
        f"SELECT {line}, 'date_of_service', 'date_format', {sql_text(MESSAGES['not_a_date'], line=line, value=f'btrim({d})')} "
        f"FROM {t} WHERE coalesce(btrim({d}), '') <> '' AND CASE WHEN btrim({d}) !~ '{DATE_RE}' OR btrim({d}) LIKE '0000-%%' THEN true ELSE substr(btrim({d}), 9, 2)::int > "
        f"extract(day FROM make_date(substr(btrim({d}), 1, 4)::int, substr(btrim({d}), 6, 2)::int, 1) + interval '1 month - 1 day') END"
    )
    for name in AMOUNTS:
        c = col[name]
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'not_fen', "
            f"{sql_text(MESSAGES['not_fen'], line=line, value=f'btrim({c})')} "
            f"FROM {t} WHERE coalesce(btrim({c}), '') <> '' AND btrim({c}) !~ '^[0-9]{{1,15}}$'"
        )
    ok = " AND ".join(f"btrim({col[n]}) ~ '^[0-9]{{1,15}}$'" for n in AMOUNTS)
    checks.append(
        f"SELECT {line}, 'total_fen', 'amounts_disagree', "
        f"{sql_text(MESSAGES['total_fen_value_is'], line=line, value=_btrim(col['total_fen']))} "
        f"FROM {t} WHERE CASE WHEN {ok} THEN btrim({col['total_fen']})::bigint <> "
        f"btrim({col['fund_fen']})::bigint + btrim({col['patient_fen']})::bigint ELSE false END"
    )
    if col["drg_flag"]:
        values = ", ".join(_lit(v) for v in FLAG_VALUES)
        checks.append(
            f"SELECT {line}, 'drg_flag', 'invalid', "
            f"{sql_text(MESSAGES['drg_flag_value_is'], line=line, value=_btrim(col['drg_flag']))} "
            f"FROM {t} WHERE lower(coalesce(btrim({col['drg_flag']}), '')) NOT IN ({values})"
        )
    if col["setting"]:
        values = ", ".join(_lit(v) for v in ("", *SETTINGS))
        checks.append(
            f"SELECT {line}, 'setting', 'invalid', "
            f"{sql_text(MESSAGES['setting_value_is_not'], line=line, value=_btrim(col['setting']))} "
            f"FROM {t} WHERE coalesce(btrim({col['setting']}), '') NOT IN ({values})"
        )
    return checks


def owner_column(side: str) -> str:
    """The column naming the province a side's rows belong to (whose batch they are)."""
    return "home_province" if side == "home" else "destination_province"


def settlement_provinces(staging: Staging, *, side: str) -> str:
    """(province, rows) of the staged records, by the side's owner column."""
    c = staging.col(owner_column(side))
    return f"SELECT btrim({c}), count(*) FROM {staging.table} GROUP BY 1 ORDER BY 1"


def settlement_province_wall(staging: Staging, *, side: str, province: str) -> str:
    """A province-bound importer files her own side only: with ``side=home`` every row's
    home_province, with ``side=destination`` every row's destination_province is hers."""
    column = owner_column(side)
    c = staging.col(column)
    return (
        f"SELECT {staging.line_sql}, {_lit(column)}, 'wrong_province', "
        + sql_text(
            _("line {line}: {column} {value} is not {province}, the province you import for"),
            line=staging.line_sql,
            column=_lit(column),
            value=f"btrim({c})",
            province=_lit(province),
        )
        + f" FROM {staging.table} "
        f"WHERE btrim({c}) ~ '^[0-9]{{6}}$' AND btrim({c}) <> {_lit(province)}"
    )


def settlement_insert(staging: Staging, *, side: str, batches: int) -> str:
    """INSERT the staged records as SettlementRecord rows, each into its province's batch
    (parameters: period, side, then ``batches`` pairs of province code and batch id).

    Rows go in settlement_id order: the matching of a large month reads each side through the
    (period, side, settlement_id) index, and then reads the table in order too.
    """
    c = {name: staging.col(name) for name in COLUMNS + OPTIONAL}
    flag = (
        f"lower(coalesce(btrim({c['drg_flag']}), '')) IN ({', '.join(_lit(v) for v in FLAG_TRUE)})"
        if c["drg_flag"]
        else f"coalesce(btrim({c['drg_group']}), '') <> ''"
    )
    setting = f"coalesce(btrim({c['setting']}), '')" if c["setting"] else "''"
    local_codes = f"coalesce(btrim({c['local_codes']}), '')" if c["local_codes"] else "''"
    owners = ", ".join(["(%s, %s::bigint)"] * batches)
    return (
        "INSERT INTO reconciliation_settlementrecord (batch_id, period, side, settlement_id, home_province, destination_province,"
        " hospital_code, patient_id_hash, date_of_service, release_label, drg_group, drg_flag, setting, local_codes, total_fen, fund_fen,"
        " patient_fen)"
        f" SELECT owner.batch_id, %s, %s, btrim({c['settlement_id']}), btrim({c['home_province']}), btrim({c['destination_province']}),"
        f" btrim({c['hospital_code']}), btrim({c['patient_id_hash']}), btrim({c['date_of_service']})::date, btrim({c['release_label']}),"
        f" coalesce(btrim({c['drg_group']}), ''), {flag}, {setting}, {local_codes}, btrim({c['total_fen']})::bigint, btrim({c['fund_fen']})::bigint,"
        f" btrim({c['patient_fen']})::bigint FROM {staging.table}"
        f" JOIN (VALUES {owners}) AS owner(province, batch_id) ON owner.province = btrim({c[owner_column(side)]}) ORDER BY 4, _ord"
    )


# A period's partition of settlement records, created if missing (migration 0006; SECURITY
# DEFINER). Returns the partition's name. Parameter: the period.
SETTLEMENT_PARTITION_ENSURE_SQL = "SELECT reconciliation_settlement_partition_ensure(%s)"


# Fresh statistics for the run that follows: autovacuum may not have looked at a table that
# just grew by millions of rows, and the matching plan depends on them.
# Fresh statistics for the run that follows (autovacuum may not have looked at a table that just
# grew by millions of rows, and the matching plan depends on them); through core_analyze, which
# runs as the owner, since the application's role owns no table (core migration 0004).
ANALYZE_RECORDS_SQL = "SELECT core_analyze('reconciliation_settlementrecord')"


# --- matching a period ------------------------------------------------------------------------
#
# ``expected`` below is an SQL expression over the record alias ``record`` giving the label of
# the release in force on its date of service (matching.expected_release_sql).


def _side_value(column: str, side: str) -> str:
    return f"min(record.{column}) FILTER (WHERE record.side = '{side}')"


def claim_detail_sql(expected: str) -> str:
    """Both sides' values of the non-clean claims (ids from the ``pairs`` CTE), one row per claim.

    Parameters: ``expected``'s for each time it appears (six), then the period and the active batch ids.
    """
    off = f"record.release_label IS DISTINCT FROM {expected}"
    return (
        "SELECT record.settlement_id AS settlement_id,"
        " count(*) FILTER (WHERE record.side = 'home') AS home_count,"
        " count(*) FILTER (WHERE record.side = 'destination') AS destination_count,"
        f" coalesce({_side_value('home_province', 'destination')}, min(record.home_province)) AS home_province,"
        f" coalesce({_side_value('destination_province', 'destination')}, min(record.destination_province)) AS destination_province,"
        f" coalesce({_side_value('hospital_code', 'destination')}, min(record.hospital_code)) AS hospital_code,"
        f" coalesce({_side_value('setting', 'destination')}, min(record.setting)) AS setting,"
        f" coalesce({_side_value('drg_group', 'destination')}, min(record.drg_group)) AS drg_group,"
        f" {_side_value('total_fen', 'home')} AS home_total_fen,"
        f" {_side_value('fund_fen', 'home')} AS home_fund_fen,"
        f" {_side_value('patient_fen', 'home')} AS home_patient_fen,"
        f" {_side_value('total_fen', 'destination')} AS destination_total_fen,"
        f" {_side_value('fund_fen', 'destination')} AS destination_fund_fen,"
        f" {_side_value('patient_fen', 'destination')} AS destination_patient_fen,"
        f" min(record.release_label) FILTER (WHERE record.side = 'home' AND {off}) AS home_label_off,"
        f" min(coalesce({expected}, '')) FILTER (WHERE record.side = 'home' AND {off}) AS home_label_expected,"
        f" min(record.release_label) FILTER (WHERE record.side = 'destination' AND {off}) AS destination_label_off,"
        f" min(coalesce({expected}, '')) FILTER (WHERE record.side = 'destination' AND {off}) AS destination_label_expected"
        " FROM reconciliation_settlementrecord record"
        " WHERE record.period = %s AND record.batch_id = ANY(%s) AND record.side IN ('home', 'destination')"
        " AND record.settlement_id = ANY(ARRAY(SELECT unnest(pair.unclean_ids) FROM pairs pair WHERE pair.unclean_ids IS NOT NULL))"
        " GROUP BY record.settlement_id"
    )


# Every finding a non-clean claim can give, as (kind, side, field, home value, destination value,
# delta, expected release, count, applies): the rows whose ``applies`` holds become Discrepancy rows.
_FINDINGS = """
    ('duplicate', 'home', '', NULL, NULL, NULL::bigint, NULL, claim.home_count::int, claim.home_count > 1),
    ('duplicate', 'destination', '', NULL, NULL, NULL::bigint, NULL, claim.destination_count::int, claim.destination_count > 1),
    ('missing_home', 'home', '', NULL, claim.destination_total_fen::text, NULL::bigint, NULL, 1, claim.home_count = 0),
    ('missing_destination', 'destination', '', claim.home_total_fen::text, NULL, NULL::bigint, NULL, 1, claim.destination_count = 0),
    ('amount_mismatch', '', 'total_fen', claim.home_total_fen::text, claim.destination_total_fen::text,
     claim.destination_total_fen - claim.home_total_fen, NULL, 1,
     claim.home_count = 1 AND claim.destination_count = 1 AND claim.home_total_fen <> claim.destination_total_fen),
    ('amount_mismatch', '', 'fund_fen', claim.home_fund_fen::text, claim.destination_fund_fen::text,
     claim.destination_fund_fen - claim.home_fund_fen, NULL, 1,
     claim.home_count = 1 AND claim.destination_count = 1 AND claim.home_fund_fen <> claim.destination_fund_fen),
    ('amount_mismatch', '', 'patient_fen', claim.home_patient_fen::text, claim.destination_patient_fen::text,
     claim.destination_patient_fen - claim.home_patient_fen, NULL, 1,
     claim.home_count = 1 AND claim.destination_count = 1 AND claim.home_patient_fen <> claim.destination_patient_fen),
    ('release_not_in_force', 'home', 'release_label', claim.home_label_off, NULL, NULL::bigint, claim.home_label_expected, 1,
     claim.home_label_off IS NOT NULL),
    ('release_not_in_force', 'destination', 'release_label', NULL, claim.destination_label_off, NULL::bigint,
     claim.destination_label_expected, 1, claim.destination_label_off IS NOT NULL)
"""
CLEAN = (
    "claim.home_count = 1 AND claim.destination_count = 1 AND claim.home_total_fen = claim.destination_total_fen"
    " AND claim.home_fund_fen = claim.destination_fund_fen AND claim.home_patient_fen = claim.destination_patient_fen"
    " AND claim.home_label_off IS NULL AND claim.destination_label_off IS NULL"
)


# Pass 1 keeps only narrow, fixed-width aggregates so the GROUP BY stays a HashAggregate in
# memory (the wide text aggregates of the detail pass made PostgreSQL sort 2 rows per claim to
# disk first). Both provinces are packed into one bigint, the destination side's row first
# (its leading digit 0 sorts before the home side's 1); codes are 6-digit (importer-checked).
_PACK = (
    "min(CASE WHEN record.side = 'destination' THEN 0 ELSE 1000000000000 END"
    " + record.home_province::int8 * 1000000 + record.destination_province::int8)"
)
_UNPACK_HOME = "lpad(((provinces_packed %% 1000000000000) / 1000000)::text, 6, '0')"
_UNPACK_DESTINATION = "lpad((provinces_packed %% 1000000)::text, 6, '0')"
# total = fund + patient is a table constraint, so total and fund decide patient too.
LEAN_MATCHED = "home_count = 1 AND record_count = 2 AND home_total_fen = destination_total_fen AND home_fund_fen = destination_fund_fen"


def lean_hash_sql(expected: str) -> str:
    """Pass 1, one GROUP BY over both sides (hashed in memory). Parameters: ``expected``'s, the period, the active batch ids."""
    return (
        "SELECT record.settlement_id AS settlement_id, count(*) FILTER (WHERE record.side = 'home') AS home_count,"
        f" count(*) AS record_count, {_PACK} AS provinces_packed,"
        f" {_side_value('total_fen', 'home')} AS home_total_fen, {_side_value('fund_fen', 'home')} AS home_fund_fen,"
        f" {_side_value('total_fen', 'destination')} AS destination_total_fen,"
        f" {_side_value('fund_fen', 'destination')} AS destination_fund_fen,"
        f" count(*) FILTER (WHERE record.release_label IS DISTINCT FROM {expected}) AS off_release_count"
        " FROM reconciliation_settlementrecord record WHERE record.period = %s AND record.batch_id = ANY(%s) GROUP BY record.settlement_id"
    )


def lean_streaming_sql(expected: str) -> str:
    """``lean_hash_sql``'s columns from each side grouped on its own, in index order, and the
    two sides merged on settlement_id: memory stays flat however large the month (the one hash
    aggregation of both sides spills to disk once the month outgrows work_mem).
    Parameters: ``expected``'s, the period and the active batch ids, for the home side, then again for the destination."""

    def one_side(side: str) -> str:
        return (
            "SELECT record.settlement_id AS settlement_id, count(*) AS records, min(record.total_fen) AS total_fen,"
            " min(record.fund_fen) AS fund_fen,"
            " min(record.home_province::int8 * 1000000 + record.destination_province::int8) AS provinces_packed,"
            f" count(*) FILTER (WHERE record.release_label IS DISTINCT FROM {expected}) AS off_release_count"
            f" FROM reconciliation_settlementrecord record WHERE record.period = %s AND record.batch_id = ANY(%s) AND record.side = '{side}'"
            " GROUP BY record.settlement_id"
        )

    return (
        "SELECT coalesce(home_side.settlement_id, destination_side.settlement_id) AS settlement_id,"
        " coalesce(home_side.records, 0) AS home_count,"
        " coalesce(home_side.records, 0) + coalesce(destination_side.records, 0) AS record_count,"
        " coalesce(destination_side.provinces_packed, 1000000000000 + home_side.provinces_packed) AS provinces_packed,"
        " home_side.total_fen AS home_total_fen, home_side.fund_fen AS home_fund_fen,"
        " destination_side.total_fen AS destination_total_fen, destination_side.fund_fen AS destination_fund_fen,"
        " coalesce(home_side.off_release_count, 0) + coalesce(destination_side.off_release_count, 0) AS off_release_count"
        f" FROM ({one_side('home')}) home_side FULL JOIN ({one_side('destination')}) destination_side"
        " ON destination_side.settlement_id = home_side.settlement_id"
    )


def match_period_sql(*, lean: str, detail: str, settled: bool = False) -> str:
    """The whole match of a period as one statement; returns rows ('kind', kind, '', count, NULL,
    NULL), ('pair', home province, destination province, matched claims, matched fund fen, NULL)
    and, with ``settled``, ('settled', home, destination, 1, fund fen, settlement id) for each
    claim that matches but was already settled by a decision on one of its discrepancies: such a
    claim is left out of the pair's matched count and fund (it is paid by its resolution, or not
    at all when written off, never again as matched).

    Parameters: with ``settled`` first the settled claims' ids (text[]); then ``lean``'s,
    ``detail``'s, then run id and period of the Discrepancy rows.
    """
    # Without settled claims the statement is exactly the benchmarked one (no extra test per claim).
    netted = f"{LEAN_MATCHED} AND NOT settlement_id = ANY((SELECT ids FROM settled_claims)::text[])" if settled else LEAN_MATCHED
    settled_cte = "settled_claims AS (SELECT %s::text[] AS ids), " if settled else ""
    settled_columns = (
        f", array_agg(settlement_id) FILTER (WHERE {LEAN_MATCHED} AND settlement_id = ANY((SELECT ids FROM settled_claims)::text[])) AS settled_ids"
        f", array_agg(destination_fund_fen) FILTER (WHERE {LEAN_MATCHED} AND settlement_id = ANY((SELECT ids FROM settled_claims)::text[]))"
        " AS settled_fund_fen"
        if settled
        else ""
    )
    settled_rows = (
        f" UNION ALL SELECT 'settled', {_UNPACK_HOME}, {_UNPACK_DESTINATION}, 1, claim.fund_fen, claim.settlement_id FROM pairs"
        " CROSS JOIN LATERAL unnest(settled_ids, settled_fund_fen) AS claim(settlement_id, fund_fen) WHERE settled_ids IS NOT NULL"
        if settled
        else ""
    )
    return (
        # The per-claim groups stream straight into the per-pair totals (a materialised CTE of
        # every claim spilled to disk at 10 M claims); the few non-clean ids ride along as arrays.
        f"WITH {settled_cte}pairs AS MATERIALIZED (SELECT provinces_packed, count(*) FILTER (WHERE {netted}) AS matched,"
        f" sum(destination_fund_fen) FILTER (WHERE {netted}) AS matched_fund_fen,"
        f" array_agg(settlement_id) FILTER (WHERE NOT ({LEAN_MATCHED} AND off_release_count = 0)) AS unclean_ids{settled_columns}"
        f" FROM ({lean}) claims GROUP BY provinces_packed),"
        f" unclean AS MATERIALIZED ({detail}),"
        " inserted AS (INSERT INTO reconciliation_discrepancy (run_id, period, kind, settlement_id, side, field, home_province,"
        " destination_province, hospital_code, setting, drg_group, home_value, destination_value, home_fund_fen, destination_fund_fen,"
        " delta_fen, expected, count, state, resolution, reason, proposed_province)"
        " SELECT %s, %s, finding.kind, claim.settlement_id, finding.side, finding.field, claim.home_province,"
        " claim.destination_province, claim.hospital_code, claim.setting, claim.drg_group, coalesce(finding.home_value, ''),"
        " coalesce(finding.destination_value, ''), claim.home_fund_fen, claim.destination_fund_fen, finding.delta,"
        " coalesce(finding.expected, ''), finding.count, 'open', '', '', '' FROM unclean claim"
        f" CROSS JOIN LATERAL (VALUES {_FINDINGS})"
        " AS finding(kind, side, field, home_value, destination_value, delta, expected, count, applies)"
        f" WHERE NOT ({CLEAN}) AND finding.applies RETURNING kind)"
        " SELECT 'kind', kind, '', count(*), NULL::numeric, NULL::text FROM inserted GROUP BY kind"
        f" UNION ALL SELECT 'pair', {_UNPACK_HOME}, {_UNPACK_DESTINATION}, matched, matched_fund_fen, NULL FROM pairs WHERE matched > 0"
        f"{settled_rows}"
    )


# A run's state, its row locked FOR SHARE (parameter: run id): a step on a discrepancy holds it
# so that a rerun superseding the run (an UPDATE of the row) and the step are serialised.
RUN_STATE_FOR_SHARE_SQL = "SELECT run.state FROM reconciliation_reconciliationrun run WHERE run.id = %s FOR SHARE"


# JIT's optimise + inline passes cost ~0.4 s (a fifth of a 1M-row month) but pay back at 10M
# rows (~12%); the plan costs are ~0.9M and ~5M, so only the large month gets them.
MATCH_SETTINGS = (
    "SET LOCAL jit_optimize_above_cost = 2000000",
    "SET LOCAL jit_inline_above_cost = 2000000",
    "SET LOCAL work_mem = '256MB'",
)
# Planner settings of the streaming plan: index pages of a month being matched are cached (an
# SSD's random reads cost about a sequential one), and a merge join, not a hash join, of the
# two sides' per-claim rows (the planner cannot know each side has about one row per claim).
STREAMING_SETTINGS = ("SET LOCAL random_page_cost = 1.1", "SET LOCAL enable_hashjoin = off")
# ... and each side grouped in index order: at national volume (33M records a side) the planner
# estimates 4.3M claims where there are 33M and picks a hash aggregate that spills, then sorts for
# the merge join: 4.0x the bare GROUP BY of the partition, 0.95x in index order (issue 22). Only
# for the match statement: reset to the session's values after it.
STREAMING_MATCH_ONLY_SETTINGS = ("enable_hashagg", "enable_sort")

# The bare GROUP BY of the same rows (the benchmark's yardstick). Parameter: the period.
BASELINE_GROUP_BY_SQL = (
    "SELECT count(*), sum(claim_fund_fen) FROM (SELECT settlement_id, count(*) AS records, sum(fund_fen) AS claim_fund_fen"
    " FROM reconciliation_settlementrecord WHERE period = %s GROUP BY settlement_id) claims"
)


# --- DRG claims against the DRG tables (issue 20) ----------------------------------------------
#
# A destination's DRG-settled claim (drg_flag) should have the fund pay what its pooling area
# pays a hospital for the group (weight × base rate, benefits' fragment) less the patient's
# item-level share; the area is the city of the hospital code's region (H + 2 + 4 digits).
# Parameters: the period, the active batch ids.
_AREA_OF_HOSPITAL = "substr(record.hospital_code, 2, 4) || '00'"
DRG_MISMATCH_SQL = (
    "SELECT record.settlement_id, record.home_province, record.destination_province, record.hospital_code, record.drg_group,"
    " record.date_of_service, record.fund_fen AS destination_fund_fen, record.patient_fen AS destination_patient_fen,"
    " drg.hospital_payment_fen, greatest(drg.hospital_payment_fen - record.patient_fen, 0) AS expected_fund_fen"
    " FROM reconciliation_settlementrecord record"
    f" CROSS JOIN LATERAL (SELECT {drg_hospital_payment_fen(on_date='record.date_of_service', area_code=_AREA_OF_HOSPITAL, group='record.drg_group')}"
    " AS hospital_payment_fen) drg"
    " WHERE record.period = %s AND record.batch_id = ANY(%s) AND record.side = 'destination' AND record.drg_flag AND drg.hospital_payment_fen IS NOT NULL"
    " AND record.fund_fen <> greatest(drg.hospital_payment_fen - record.patient_fen, 0)"
    " ORDER BY record.settlement_id"
)


# --- hospital accountability (issue 18) ---------------------------------------------------------
#
# Destination-side claims of the active batches that bill a transitional local item (the
# optional ``local_codes`` column, codes separated by ``;``) on or after its sunset, counted per
# destination province and hospital. Parameters: the period, the active batch ids, the province
# ('' for every one).
LAPSED_LOCAL_ITEMS_SQL = (
    "SELECT record.destination_province, record.hospital_code, count(DISTINCT record.settlement_id)"
    " FROM reconciliation_settlementrecord record"
    " CROSS JOIN LATERAL unnest(string_to_array(record.local_codes, ';')) AS billed(code)"
    " WHERE record.period = %s AND record.batch_id = ANY(%s) AND record.side = 'destination' AND record.local_codes <> ''"
    " AND (%s = '' OR record.destination_province = %s)"
    f" AND {local_item_lapsed(province_code='record.destination_province', code='btrim(billed.code)', on_date='record.date_of_service')}"
    " GROUP BY 1, 2"
)
