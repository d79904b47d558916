"""SQL fragments the catalog exports to statements written in higher apps (code validation,
hospital code mappings), so they reach catalog rows through the catalog's own text rather than
by naming its tables: if the item storage changes, these change with it.

Each fragment takes the SQL of its inputs (a code expression, a parameter placeholder) and
returns text to splice into a statement; parameters stay parameters.
"""

from __future__ import annotations

from .models import CANONICAL_COLUMNS

ITEMS = "catalog_catalogitem"


def item_json(alias: str, *, release_label_sql: str) -> str:
    """The item of row ``alias`` as the hospital API renders it (``HospitalItemSerializer``):
    the canonical columns, the decimal ratio as text ("0.1000") and ``release``."""
    pairs = [f"'{c}', {alias}.{c}::text" if c == "self_pay_ratio" else f"'{c}', {alias}.{c}" for c in CANONICAL_COLUMNS]
    return f"json_build_object({', '.join(pairs)}, 'release', {release_label_sql})"


def item_in_release(alias: str, *, release_sql: str, code_sql: str) -> str:
    """LEFT JOIN of the release's item with that code (the (release, code) unique index)."""
    return f"LEFT JOIN {ITEMS} {alias} ON {alias}.release_id = {release_sql} AND {alias}.code = {code_sql}"


def item_probe(alias: str, *, release_sql: str, code_sql: str) -> str:
    """LEFT JOIN LATERAL of the release's item with that code, probed by index row by row: for a
    bounded list of codes (validation, one hospital's page) this keeps one plan whatever the
    count, where a join may switch to hashing the whole release (500,000 rows) for 10,000 codes."""
    return f"LEFT JOIN LATERAL (SELECT * FROM {ITEMS} WHERE release_id = {release_sql} AND code = {code_sql} LIMIT 1) {alias} ON true"


def successor_map(*, release_sql: str) -> str:
    """A query of (old_code, codes): for every code items of the release replace, the jsonb array
    of those items' codes. It reads only the items that replace something (a partial index), so a
    statement builds it once instead of probing ``replaces`` per code."""
    return (
        f"SELECT r.old_code, jsonb_agg(s.code ORDER BY s.code) AS codes FROM {ITEMS} s "
        "CROSS JOIN LATERAL jsonb_array_elements_text(s.replaces) AS r(old_code) "
        f"WHERE s.release_id = {release_sql} AND s.replaces <> '[]'::jsonb GROUP BY r.old_code"
    )


def successors_in_release(alias: str, *, release_sql: str, code_sql: str, when: str = "true") -> str:
    """LEFT JOIN LATERAL giving ``{alias}.codes``: a jsonb array of the codes of the release's
    items that replace ``code_sql`` (NULL when none), looked up only for rows where ``when``
    holds (the GIN index on ``replaces``)."""
    return (
        f"LEFT JOIN LATERAL (SELECT jsonb_agg(s.code ORDER BY s.code) AS codes FROM {ITEMS} s "
        f"WHERE {when} AND s.release_id = {release_sql} AND s.replaces @> jsonb_build_array({code_sql})) {alias} ON true"
    )


def seen_in_releases(alias: str, *, releases_sql: str, code_sql: str, when: str = "true") -> str:
    """LEFT JOIN LATERAL giving ``{alias}.seen`` (true or NULL): the code is an item of one of
    the releases (an array of ids), looked up only for rows where ``when`` holds."""
    return (
        f"LEFT JOIN LATERAL (SELECT true AS seen FROM {ITEMS} e "
        f"WHERE {when} AND e.code = {code_sql} AND e.release_id = ANY({releases_sql}) LIMIT 1) {alias} ON true"
    )


def national_code(expr: str) -> str:
    """A cell normalised as a code (NFKC, white space removed, upper case), as imports do."""
    from .importers.sql import _code_sql

    return _code_sql(expr)


def national_code_problem(code: str) -> str:
    """NULL when the normalised ``code`` is a national code or a former 20-character drug code,
    else the reason people read (the reasons ``apps.core.codes.catalog_code_kind`` gives)."""
    from .importers.sql import FORMER_DRUG_RE, _format_reason_sql, _kind_sql

    return f"CASE WHEN {_kind_sql(code)} IS NOT NULL OR {code} ~ '{FORMER_DRUG_RE}' THEN NULL ELSE {_format_reason_sql(code)} END"
