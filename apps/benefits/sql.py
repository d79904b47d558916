"""The benefits app's SQL: the pre-check's one statement, the ICD-10 and ICD-9-CM-3 reference loads,
the DRG table copy and the DRG payment fragment other apps use.

Catalog rows are reached through ``apps.catalog.sql.item_join`` and the catalog's querysets
(compiled into the statement), never by a catalog table name written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.catalog.sql import item_join
from apps.core.bulk import sql_text

# --- pre-check scope ------------------------------------------------------------------------
#
# Everything a claim needs comes back from ONE statement, one row (source, code, number, day,
# text) per fact:
#   national   code, text = "category|self-pay ratio|level|max days|payment standard|units per day|indication"
#              (concat() writes NULL as ''; a claim's items share a handful of such texts, so each
#              is parsed once, not once per row; the indication, free text, comes last so a | in
#              it stays in it)
#   local      code, number = self-pay ratio, day = starts, text = "category|level|sunset|national mapping"
#   release    text = label of the release in force
#   hospital   text = the hospital's level in the registry (no row: not registered)
#   policy     text = a home policy in force as JSON, one row per hospital level it has
#   term       code = disease, number = the term's ratio, text = [policy id, name, kind, cross-province, deductible, cap, prefixes]
#   diagnosis  code = a diagnosis of the claim that the ICD-10 reference knows
#   procedure  code = a procedure of the claim that the ICD-9-CM-3 reference knows
#   drg        code = group (NULL: not in the table), number = weight, day = the area's DRG date,
#              text = [table label, base rate, group name]; only when the area has a rate
# Codes, diagnoses and procedures each travel as ONE text parameter joined by chr(31) (binding
# a 1,000-element array cost the client more than the look-ups cost the server).
# ``{release_sql}``, ``{policy_sql}``, ``{drg_sql}`` and ``{registry_sql}`` are querysets compiled to SQL
# (the registry's is the hospitals app's model, looked up by app label: benefits imports nothing of it).
# The text stays under psycopg's 4 KiB cache of parsed statements (a test says so).
SCOPE_SQL = f"""
WITH release_in_force AS ({{release_sql}}),
     wanted AS (SELECT unnest(string_to_array(%s, chr(31))) AS code),
     home_policy AS ({{policy_sql}}),
     drg_in_force AS ({{drg_sql}}),
     registry AS ({{registry_sql}})
SELECT 'national', item.code, NULL, NULL,
       concat(item.category, '|', item.self_pay_ratio, '|', item.restriction_hospital_level, '|', item.restriction_max_days, '|',
              item.payment_standard_fen, '|', dose.units_per_day, '|', item.restriction_indication)
  FROM wanted {item_join(alias="item", release_id="(SELECT id FROM release_in_force)", code="wanted.code")}
       LEFT JOIN benefits_dailydose dose
              ON item.restriction_max_days IS NOT NULL AND dose.code = item.code AND dose.status = 'approved'
UNION ALL
SELECT 'local', local_item.code, local_item.self_pay_ratio, local_item.effective_from,
       concat(local_item.category, '|', local_item.restriction_hospital_level, '|', local_item.sunset_date, '|', local_item.national_code)
  FROM wanted JOIN benefits_localitem local_item ON local_item.code = wanted.code
       JOIN benefits_province destination ON destination.id = local_item.province_id AND destination.code = %s
UNION ALL
SELECT 'release', NULL, NULL, NULL, release_in_force.label FROM release_in_force
UNION ALL
SELECT 'hospital', NULL, NULL, NULL, registry.level FROM registry
UNION ALL
SELECT 'policy', NULL, NULL, NULL, row_to_json(home_policy)::text FROM home_policy
UNION ALL
SELECT 'term', disease.code, term.ratio, NULL,
       json_build_array(term.policy_id, disease.name, disease.kind, disease.cross_province, term.deductible_fen, term.annual_cap_fen,
                        disease.icd10_prefixes)::text
  FROM benefits_policydiseaseterm term JOIN benefits_disease disease ON disease.id = term.disease_id
 WHERE term.policy_id IN (SELECT id FROM home_policy)
UNION ALL
SELECT 'diagnosis', diagnosis.code, NULL, NULL, NULL
  FROM benefits_diagnosiscode diagnosis WHERE diagnosis.code = ANY (string_to_array(%s, chr(31)))
UNION ALL
SELECT 'procedure', procedure.code, NULL, NULL, NULL
  FROM benefits_procedurecode procedure WHERE procedure.code = ANY (string_to_array(%s, chr(31)))
UNION ALL
SELECT 'drg', drg_group.code, drg_group.weight, rate.out_of_town_from,
       json_build_array(drg_in_force.label, rate.base_rate_fen, drg_group.name)::text
  FROM drg_in_force JOIN benefits_drgarearate rate ON rate.version_id = drg_in_force.id AND rate.area_code = %s
       LEFT JOIN benefits_drggroup drg_group ON drg_group.version_id = drg_in_force.id AND drg_group.code = %s
"""


# --- DRG tables -----------------------------------------------------------------------------

# A new draft's groups and area rates copied from a published table (parameters: new, old).
DRG_COPY_GROUPS_SQL = "INSERT INTO benefits_drggroup (version_id, code, name, weight) SELECT %s, code, name, weight FROM benefits_drggroup WHERE version_id = %s"
DRG_COPY_RATES_SQL = (
    "INSERT INTO benefits_drgarearate (version_id, area_code, base_rate_fen, out_of_town_from) "
    "SELECT %s, area_code, base_rate_fen, out_of_town_from FROM benefits_drgarearate WHERE version_id = %s"
)


def drg_hospital_payment_fen(*, on_date: str, area_code: str, group: str) -> str:
    """SQL expression (bigint, NULL when not paid by DRG) for another app's statement: what the
    pooling area ``area_code`` pays a hospital for DRG ``group`` on ``on_date`` — the group's
    weight × the area's base rate, rounded half-up to a fen, from the DRG table published and in
    force that day, when the area pays out-of-town inpatient claims by DRG by then. The three
    arguments are SQL expressions of the caller's query (the same rule as
    ``selectors.drg_terms``; a test holds the two together)."""
    return (
        "(SELECT round(drg_group.weight * rate.base_rate_fen)::bigint"
        " FROM (SELECT version.id FROM benefits_drgversion version"
        f"       WHERE version.status = 'published' AND version.effective_from <= {on_date}"
        "       ORDER BY version.effective_from DESC LIMIT 1) drg_in_force"
        " JOIN benefits_drgarearate rate ON rate.version_id = drg_in_force.id"
        f"      AND rate.area_code = {area_code} AND rate.out_of_town_from <= {on_date}"
        f" JOIN benefits_drggroup drg_group ON drg_group.version_id = drg_in_force.id AND drg_group.code = {group})"
    )


# --- ICD-10 reference -----------------------------------------------------------------------
#
# The NHSA file has no header and these 11 columns; it is COPYed as written into a staging
# table of text columns (apps.core.bulk), checked set-based and merged with one upsert.
ICD10_COLUMNS = (
    "edition",
    "chapter_range",
    "chapter",
    "section_range",
    "section",
    "category_code",
    "category_name",
    "subcategory_code",
    "subcategory_name",
    "code",
    "name",
)
# What Python's str.strip() removes around display text, after NFC (codes.normalise_text).
_TRIM = (
    "E' \\t\\r\\n\\u3000\\u00a0\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009\\u200a\\u2028\\u2029\\u202f\\u205f'"
)


def icd10_text(column: str) -> str:
    """Display text as codes.normalise_text makes it: NFC, trimmed."""
    return f"btrim(normalize(coalesce({column}, ''), NFC), {_TRIM})"


def icd10_code(column: str) -> str:
    """The code as codes.normalise_icd10 makes it: NFKC, no white space, upper-case, except the
    extension marker after A00.000, which is a lower-case x."""
    upper = f"upper(regexp_replace(normalize(coalesce({column}, ''), NFKC), '\\s+', '', 'g'))"
    return f"regexp_replace({upper}, '^([A-Z][0-9]{{2}}\\.[0-9]{{3}})X', '\\1x')"


def icd9_code(column: str) -> str:
    """The procedure code as codes.normalise_icd9_procedure makes it: NFKC, no white space,
    upper-case, except the extension marker after 36.0601, which is a lower-case x."""
    upper = f"upper(regexp_replace(normalize(coalesce({column}, ''), NFKC), '\\s+', '', 'g'))"
    return f"regexp_replace({upper}, '^([0-9]{{2}}\\.[0-9]{{1,4}})X', '\\1x')"


# The reference checks' messages (``sql_text``), here and not inside the f-strings, where makemessages would miss them.
REFERENCE_MESSAGES = {
    "diagnosis_name_is_empty": _("the diagnosis name is empty"),
    "procedure_name_is_empty": _("the procedure name is empty"),
    "code_repeats_line": _("{code} repeats line {line}"),
    "at_most_limit_characters": _("at most {limit} characters"),
}


def reference_checks(
    *,
    table: str,
    line: str,
    columns: dict[str, str],
    code_sql: Callable[[str], str],
    code_pattern: str,
    code_help: Any,
    name_help: Any,
    max_lengths: dict[str, int],
) -> list[str]:
    """Queries selecting ``(line, column, error code, message)`` for every bad staged row of a
    reference file (ICD-10, ICD-9-CM-3). ``code_sql`` normalises the code as apps.core.codes does;
    ``code_pattern`` is its regular expression (PostgreSQL's regular expressions read it the same way).
    ``code_help`` and ``name_help`` are texts with a translation (``_()``, ``gettext_noop``): every
    message is a ``sql_text``, which ``collect_errors`` turns into English and the site's other languages."""
    code, name = code_sql(columns["code"]), icd10_text(columns["name"])
    pattern = code_pattern.replace("'", "''")
    repeats = sql_text(REFERENCE_MESSAGES["code_repeats_line"], code="code", line="first_line")
    checks = [
        f"SELECT {line}, 'code', 'code_format', {sql_text(code_help)} FROM {table} WHERE {code} !~ '{pattern}'",
        f"SELECT {line}, 'name', 'missing_field', {sql_text(name_help)} FROM {table} WHERE {name} = ''",
        f"SELECT line, 'code', 'duplicate_code', {repeats} FROM ("
        f" SELECT {line} AS line, {code} AS code, min({line}) OVER (PARTITION BY {code}) AS first_line FROM {table}"
        f") AS coded WHERE line > first_line",
    ]
    for field, limit in max_lengths.items():
        value = code_sql(columns[field]) if field == "code" else icd10_text(columns[field])
        too_long = sql_text(REFERENCE_MESSAGES["at_most_limit_characters"], limit=str(int(limit)))
        checks.append(f"SELECT {line}, '{field}', 'too_long', {too_long} FROM {table} WHERE char_length({value}) > {int(limit)}")
    return checks


def reference_upsert(*, target: str, names: tuple[str, ...], table: str, columns: dict[str, str], code_sql: Callable[[str], str]) -> str:
    """Insert or update every staged row of a reference file by code (normalised as the checks read it)."""
    values = ", ".join(code_sql(columns[c]) if c == "code" else icd10_text(columns[c]) for c in names)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c != "code")
    return f"INSERT INTO {target} ({', '.join(names)}) SELECT {values} FROM {table} ON CONFLICT (code) DO UPDATE SET {updates}"


def icd10_checks(
    *, table: str, line: str, columns: dict[str, str], code_pattern: str, code_help: Any, max_lengths: dict[str, int]
) -> list[str]:
    """reference_checks for the ICD-10 file."""
    return reference_checks(
        table=table,
        line=line,
        columns=columns,
        code_sql=icd10_code,
        code_pattern=code_pattern,
        code_help=code_help,
        name_help=REFERENCE_MESSAGES["diagnosis_name_is_empty"],
        max_lengths=max_lengths,
    )


def icd10_upsert(*, table: str, columns: dict[str, str]) -> str:
    """Insert or update every staged ICD-10 row by code."""
    return reference_upsert(target="benefits_diagnosiscode", names=ICD10_COLUMNS, table=table, columns=columns, code_sql=icd10_code)


# --- ICD-9-CM-3 reference -------------------------------------------------------------------
#
# The NHSA procedure edition, as the ICD-10 file: no header, 11 columns, the chapter level
# followed by category (两位), sub-category (一位小数), detail (两位小数) and the edition's own entry.
ICD9_COLUMNS = (
    "edition",
    "chapter_range",
    "chapter",
    "category_code",
    "category_name",
    "subcategory_code",
    "subcategory_name",
    "detail_code",
    "detail_name",
    "code",
    "name",
)


# --- fragments for other apps ---------------------------------------------------------------


def province_exists(code: str) -> str:
    """SQL truth value: a province with GB/T 2260 code ``code`` (an SQL expression) exists."""
    return f"EXISTS (SELECT 1 FROM benefits_province province WHERE province.code = {code})"


def local_item_lapsed(*, province_code: str, code: str, on_date: str) -> str:
    """SQL truth value: ``code`` is a transitional local item of the province ``province_code``
    whose sunset is on or before ``on_date`` (all three SQL expressions): billed after it lapsed."""
    return (
        "EXISTS (SELECT 1 FROM benefits_localitem local_item JOIN benefits_province province ON province.id = local_item.province_id"
        f" WHERE province.code = {province_code} AND local_item.code = {code} AND local_item.sunset_date <= {on_date})"
    )
