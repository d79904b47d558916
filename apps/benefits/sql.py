"""The benefits app's SQL: the pre-check's one scope statement and the ICD-10 reference load.

Catalog rows are reached through ``apps.catalog.sql.item_join`` and the catalog's querysets
(compiled into the statement), never by a catalog table name written here.
"""

from __future__ import annotations

from apps.catalog.sql import item_join

# --- pre-check scope ------------------------------------------------------------------------
#
# The codes travel as ONE text parameter joined by chr(31) (binding a 1,000-element array cost
# the client more than the look-ups cost the server), and a national item comes back as one
# "category|self-pay ratio|level" text: a claim's items share a handful of such scopes, so each
# is parsed once instead of once per row. Every row is (source, code, local category, local
# self-pay ratio, local level, local starts, local sunset, text); ``{release_sql}`` and
# ``{policy_sql}`` are the catalog's and this app's querysets compiled to SQL.
SCOPE_SQL = f"""
WITH release_in_force AS ({{release_sql}}),
     wanted AS (SELECT unnest(string_to_array(%s, chr(31))) AS code)
SELECT 'national', item.code, NULL, NULL, NULL, NULL::date, NULL::date,
       item.category || '|' || coalesce(item.self_pay_ratio::text, '') || '|' || coalesce(item.restriction_hospital_level, '')
  FROM wanted {item_join(alias="item", release_id="(SELECT id FROM release_in_force)", code="wanted.code")}
UNION ALL
SELECT 'local', local_item.code, local_item.category, local_item.self_pay_ratio, local_item.restriction_hospital_level,
       local_item.effective_from, local_item.sunset_date, NULL
  FROM wanted JOIN benefits_localitem local_item ON local_item.code = wanted.code
       JOIN benefits_province destination ON destination.id = local_item.province_id AND destination.code = %s
UNION ALL
SELECT 'release', NULL, NULL, NULL, NULL, NULL, NULL, release_in_force.label FROM release_in_force
UNION ALL
SELECT 'policy', NULL, NULL, NULL, NULL, NULL, NULL, (SELECT row_to_json(home_policy)::text FROM ({{policy_sql}}) home_policy)
"""


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


def icd10_checks(
    *, table: str, line: str, columns: dict[str, str], code_pattern: str, code_help: str, max_lengths: dict[str, int]
) -> list[str]:
    """Queries selecting ``(line, column, error code, message)`` for every bad staged row.

    ``columns`` maps ICD10_COLUMNS to staging columns; ``code_pattern`` is the ICD-10 regular
    expression of apps.core.codes (PostgreSQL's regular expressions read it the same way).
    """
    code, name = icd10_code(columns["code"]), icd10_text(columns["name"])
    pattern, help_text = code_pattern.replace("'", "''"), code_help.replace("'", "''")
    checks = [
        f"SELECT {line}, 'code', 'code_format', '{help_text}' FROM {table} WHERE {code} !~ '{pattern}'",
        f"SELECT {line}, 'name', 'missing_field', 'the diagnosis name is empty' FROM {table} WHERE {name} = ''",
        f"SELECT line, 'code', 'duplicate_code', code || ' repeats line ' || first_line FROM ("
        f" SELECT {line} AS line, {code} AS code, min({line}) OVER (PARTITION BY {code}) AS first_line FROM {table}"
        f") AS coded WHERE line > first_line",
    ]
    for field, limit in max_lengths.items():
        value = icd10_code(columns[field]) if field == "code" else icd10_text(columns[field])
        checks.append(
            f"SELECT {line}, '{field}', 'too_long', 'at most {int(limit)} characters' FROM {table} WHERE char_length({value}) > {int(limit)}"
        )
    return checks


def icd10_upsert(*, table: str, columns: dict[str, str]) -> str:
    """Insert or update every staged row by code (normalised as the checks read it)."""
    names = ", ".join(ICD10_COLUMNS)
    values = ", ".join(icd10_code(columns[c]) if c == "code" else icd10_text(columns[c]) for c in ICD10_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in ICD10_COLUMNS if c != "code")
    return f"INSERT INTO benefits_diagnosiscode ({names}) SELECT {values} FROM {table} ON CONFLICT (code) DO UPDATE SET {updates}"


# --- fragments for other apps ---------------------------------------------------------------


def province_exists(code: str) -> str:
    """SQL truth value: a province with GB/T 2260 code ``code`` (an SQL expression) exists."""
    return f"EXISTS (SELECT 1 FROM benefits_province province WHERE province.code = {code})"
