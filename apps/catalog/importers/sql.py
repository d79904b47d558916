"""Set-based item rules and merge for imports (PostgreSQL).

The rules are those of ``apps.catalog.validation.clean_item`` written as SQL over the whole
file at once: codes normalised (NFKC, white space removed, upper-case) and checked per kind,
display text NFC and trimmed, payment category 01/02/03, numbers and ratio in range, text
within the column lengths. File-level rules on top: a code appears once in the file
(``duplicate_code``), and ``replaces`` must point at a code that is really being succeeded
(``unknown_successor``: the item's own code, or a code that is still an item of the draft as
it will be after the import — merge: the draft's items plus the file; replace: the file).
A replaced code must be well-formed (any national code or a former 20-character drug code;
``code_format`` otherwise, as ``clean_item`` says).
"""

from __future__ import annotations

from typing import Any

from django.db import DataError, IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _

from apps.core import codes
from apps.core.bulk import sql_label, sql_text

from .. import sql as catalog_sql
from ..models import ITEM_CONTENT_FIELDS, HospitalLevel, ItemKind
from ..validation import _MAX_LENGTHS, _TEXT_FIELDS
from .formats import Source

# The checks' messages (``sql_text``), here and not inside the f-strings, where makemessages would miss them.
MESSAGES = {
    "code_is_empty": _("code is empty"),
    "code_contains_non_ascii_characters_look": _("code contains non-ASCII characters (look-alike letters?)"),
    "drug_codes_are_23_characters_xz": _("drug codes are 23 characters: [XZ] + classification + 4-digit spec + 5-digit product"),
    "tcm_decoction_piece_codes_are_10": _("TCM decoction piece codes are 10 characters starting with T"),
    "consumable_codes_are_c_14_19": _("consumable codes are C + 14, 19 or 26 digits with non-zero class digits"),
    "medical_service_item_codes_are_15": _("medical service item codes are 15 digits, optionally -<local suffix>"),
    "unknown_code_prefix_expected_x_z": _("unknown code prefix (expected X/Z drug, T TCM piece, C consumable, digits service)"),
    "code_code_is_a_kind_code": _("code {code} is a {kind} code, not {given_kind}"),
    "code_code_is_also_on_line": _("code {code} is also on line {line}"),
    "payment_category_must_be_01_02": _("payment category must be 01 (甲), 02 (乙) or 03 (丙), not {category!r}"),
    "name_is_longer_than_limit_characters": _("{name} is longer than {limit} characters"),
    "hospital_level_must_be_one_of": _("hospital level must be one of {choices}"),
    "self_pay_ratio_must_be_between": _("self_pay_ratio must be between 0 and 1 with at most 4 decimals, not {value}"),
    "replaced_code_code_reason": _("replaced code {code}: {reason}"),
    "code_cannot_replace_itself": _("{code} cannot replace itself"),
    "code_is_replaced_by_own_but": _("{code} is replaced by {own} but is still an item of the draft"),
}

DRUG_RE = f"^{codes.DRUG_LAYOUT}$"
FORMER_DRUG_RE = f"^{codes.FORMER_DRUG_LAYOUT}$"
TCM_RE = f"^{codes.TCM_PIECE_LAYOUT}$"
SERVICE_RE = f"^{codes.SERVICE_LAYOUT}$"
CONSUMABLE_RE = f"^{codes.CONSUMABLE_LAYOUT}$"
# Characters Python's str.strip() removes that btrim() would not by default.
_TRIM = "E' \\t\\r\\n\\u3000\\u00a0\\ufeff'"
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _code_sql(expr: str) -> str:
    # normalize() costs ~20 µs a value: only codes that are not plain ASCII code characters
    # (the vast majority are) go through NFKC and white-space removal.
    plain = f"coalesce({expr}, '')"
    return f"CASE WHEN {plain} ~ '^[0-9A-Z-]*$' THEN {plain} ELSE upper(regexp_replace(normalize({plain}, NFKC), '\\s+', '', 'g')) END"


# Characters whose NFC form is themselves: ASCII, CJK punctuation, unified ideographs and
# full-width forms. Text made only of these skips normalize() (see _code_sql).
_NFC_STABLE = "'^[\\u0001-\\u007f\\u3000-\\u303f\\u4e00-\\u9fff\\uff00-\\uffef]*$'"
# A row whose cells (joined with U+001F) are each empty or start and end with a character that
# is neither white space nor U+001F, all of them NFC-stable (_NFC_STABLE less the controls): the
# vast majority, kept as they are after one regex; other rows are normalised and trimmed cell by cell.
_STABLE_INNER = "[\\u0020-\\u007e\\u3000-\\u303f\\u4e00-\\u9fff\\uff00-\\uffef]"
_STABLE_EDGE = "[\\u0021-\\u007e\\u3001-\\u303f\\u4e00-\\u9fff\\uff00-\\uffef]"
_CELL = f"({_STABLE_EDGE}({_STABLE_INNER}*{_STABLE_EDGE})?)?"
_CLEAN_ROW = f"'^{_CELL}(\\x1f{_CELL})*$'"


def _kind_sql(code: str) -> str:
    # By first character, so each code meets one pattern (a consumable used to be tried against
    # the three others first: the kind was a quarter of the normalising pass).
    return (
        f"CASE WHEN octet_length({code}) <> char_length({code}) THEN NULL ELSE CASE left({code}, 1) "
        f"WHEN 'X' THEN CASE WHEN {code} ~ '{DRUG_RE}' THEN 'drug' END "
        f"WHEN 'Z' THEN CASE WHEN {code} ~ '{DRUG_RE}' THEN 'drug' END "
        f"WHEN 'T' THEN CASE WHEN {code} ~ '{TCM_RE}' THEN 'tcm_piece' END "
        f"WHEN 'C' THEN CASE WHEN {code} ~ '{CONSUMABLE_RE}' THEN 'consumable' END "
        f"ELSE CASE WHEN {code} ~ '{SERVICE_RE}' THEN 'service' END END END"
    )


def _format_reason_sql(code: str) -> str:
    """The same reasons ``apps.core.codes.catalog_code_kind`` gives, by first character."""
    return (
        f"CASE WHEN {code} = '' THEN {sql_text(MESSAGES['code_is_empty'])} "
        f"WHEN octet_length({code}) <> char_length({code}) THEN {sql_text(MESSAGES['code_contains_non_ascii_characters_look'])} "
        f"WHEN left({code}, 1) IN ('X', 'Z') THEN "
        f"{sql_text(MESSAGES['drug_codes_are_23_characters_xz'])} "
        f"WHEN left({code}, 1) = 'T' THEN {sql_text(MESSAGES['tcm_decoction_piece_codes_are_10'])} "
        f"WHEN left({code}, 1) = 'C' THEN {sql_text(MESSAGES['consumable_codes_are_c_14_19'])} "
        f"WHEN left({code}, 1) ~ '[0-9]' THEN {sql_text(MESSAGES['medical_service_item_codes_are_15'])} "
        f"ELSE {sql_text(MESSAGES['unknown_code_prefix_expected_x_z'])} END"
    )


def items_select(source: Source) -> str:
    """One pass over staging: a row per record with normalised text values, derived kind and
    category path, safe numeric casts (NULL when not a number), replaces as a sorted array
    (``import_items``'s columns)."""
    f = source.fields

    def raw(name: str) -> str:
        return f"{f[name][0]}" if name in f else "NULL"

    plain_names = ("category", "restriction_hospital_level", "kind", "restriction_max_days", "payment_standard_fen", "self_pay_ratio")
    names = (*_TEXT_FIELDS, *plain_names)
    # Level 1 reads staging once and tests all cells of a row with one regex (_CLEAN_ROW; the
    # OFFSET 0 keeps PostgreSQL from inlining the flag into every use); level 2 normalises and
    # trims the cells of the other rows only.
    cells = ", ".join(f"coalesce({raw(name)}, '') AS {name}" for name in names)
    joined_all = "concat_ws(E'\\x1f', " + ", ".join(f"coalesce({raw(n)}, '')" for n in names) + ")"
    replaces = (
        f"CASE WHEN {raw('replaces')} IS NULL OR btrim({raw('replaces')}) = '' THEN '{{}}'::text[] ELSE ARRAY("
        f"SELECT DISTINCT {_code_sql('e')} COLLATE \"C\" FROM unnest(string_to_array({raw('replaces')}, ';')) AS e "
        f"WHERE {_code_sql('e')} <> '' ORDER BY 1) END AS replaces"
    )
    extra = [f"{expr} AS {name}" for name, expr in source.extra.items()]
    level1 = ", ".join(
        [
            f"{source.staging.line_sql} AS line",
            f"{_code_sql(raw('code'))} AS code",
            cells,
            replaces,
            *extra,
            f"{joined_all} ~ {_CLEAN_ROW} AS clean",
        ]
    )

    def level2(name: str) -> str:
        value = f"CASE WHEN {name} ~ {_NFC_STABLE} THEN {name} ELSE normalize({name}, NFC) END" if name in _TEXT_FIELDS else name
        return f"CASE WHEN clean THEN {name} ELSE btrim({value}, {_TRIM}) END AS {name}"

    trimmed = ", ".join(level2(name) for name in names)
    extra_names = "".join(f", {name}" for name in source.extra)
    return f"""
        SELECT line, code, {_kind_sql("code")} AS kind, kind AS given_kind,
               {", ".join(_TEXT_FIELDS)}, category, restriction_hospital_level,
               restriction_max_days, payment_standard_fen, self_pay_ratio,
               CASE WHEN restriction_max_days = '' THEN NULL WHEN restriction_max_days ~ '^[+-]?[0-9]{{1,30}}$' THEN restriction_max_days::numeric END AS max_days_v,
               CASE WHEN payment_standard_fen = '' THEN NULL WHEN payment_standard_fen ~ '^[+-]?[0-9]{{1,30}}$' THEN payment_standard_fen::numeric END AS standard_v,
               CASE WHEN self_pay_ratio = '' THEN NULL WHEN self_pay_ratio ~ '^[+-]?([0-9]{{1,20}}(\\.[0-9]{{0,20}})?|\\.[0-9]{{1,20}})([eE][+-]?[0-9]{{1,2}})?$'
                    THEN self_pay_ratio::numeric END AS ratio_v,
               replaces{extra_names}
        FROM (SELECT line, code, {trimmed}, replaces{extra_names}
              FROM (SELECT {level1} FROM {source.staging.table} AS s OFFSET 0) AS x OFFSET 0) AS y
    """


def build_items(source: Source) -> None:
    """``items_select`` into the temporary table ``import_items``, which the checks and the merge read."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_items")
        cursor.execute(f"CREATE TEMP TABLE import_items ON COMMIT DROP AS {items_select(source)}")
        # Statistics only for what the checks and the merge join or group on: sampling every
        # wide text column cost about a tenth of the import (issue 22's profile).
        cursor.execute("ANALYZE import_items (line, code, kind)")


def _required(name: str) -> str:
    return sql_text(_("{name} is required"), name=_lit(name))


def _not_whole(name: str, minimum: int, maximum: int) -> str:
    return sql_text(
        _("{name} must be a whole number between {minimum} and {maximum}, not {value}"),
        name=_lit(name),
        minimum=str(minimum),
        maximum=str(maximum),
        value=name,
    )


def _one_scan(row_checks: list[tuple[str, str, str, str]]) -> str:
    """Per-row rules (file column literal, error code, message SQL, condition over a row of
    ``import_items``) as one scan of ``import_items``: a file without problems costs one pass with
    the conditions ORed, however many rules there are (a query per rule read the wide table once
    each, a tenth of a 500k import). Only rows breaking some rule reach the VALUES, which give
    one error per rule broken."""
    any_broken = " OR ".join(f"({condition})" for *_, condition in row_checks)
    values = ", ".join(f"(({condition}), {column}, '{code}', {message})" for column, code, message, condition in row_checks)
    return (
        "SELECT import_items.line, e.error_column, e.error_code, e.error_message FROM import_items "
        f"CROSS JOIN LATERAL (VALUES {values}) AS e(broken, error_column, error_code, error_message) WHERE ({any_broken}) AND e.broken"
    )


def _column_literal(source: Source, name: str) -> str:
    """The file's name of an item field, as an SQL literal (errors name the file's column)."""
    return _lit(source.fields[name][1] if name in source.fields else name)


def _row_rules(source: Source, *, release_id: int, mode: str) -> list[tuple[str, str, str, str]]:
    """The rules of one row of ``import_items`` (file column literal, error code, message SQL,
    condition that breaks it)."""

    def c(name: str) -> str:
        return _column_literal(source, name)

    # merge: a blank cell of an item the draft already has keeps the draft's value (see merge),
    # so only new items must bring their name and category; a format's default fills a blank too.
    in_draft = f"EXISTS (SELECT 1 FROM catalog_catalogitem i WHERE i.release_id = {int(release_id)} AND i.code = import_items.code)"
    rules = [(c("code"), "missing_field", _required("code"), "code = ''")]
    rules.extend(
        (c(name), "missing_field", _required(name), f"{name} = ''" + (f" AND NOT {in_draft}" if mode == "merge" else ""))
        for name in ("name", "category")
        if name not in source.defaults
    )
    rules.append((c("code"), "code_format", _format_reason_sql("code"), "kind IS NULL AND code <> ''"))
    if "kind" in source.fields:
        rules.append(
            (
                c("kind"),
                "code_format",
                sql_text(
                    MESSAGES["code_code_is_a_kind_code"],
                    code="code",
                    kind=sql_label("kind", ItemKind),
                    given_kind=sql_label("given_kind", ItemKind),
                ),
                "given_kind <> '' AND kind IS NOT NULL AND given_kind <> kind",
            )
        )
    rules.append(
        (
            c("category"),
            "unknown_category",
            sql_text(MESSAGES["payment_category_must_be_01_02"], category="category"),
            "category <> '' AND category NOT IN ('01', '02', '03')",
        )
    )
    for name in _TEXT_FIELDS:
        limit = _MAX_LENGTHS.get(name)
        if limit:
            rules.append(
                (
                    c(name),
                    "too_long",
                    sql_text(MESSAGES["name_is_longer_than_limit_characters"], name=_lit(name), limit=str(limit)),
                    f"char_length({name}) > {limit}",
                )
            )
    levels = ", ".join(_lit(v) for v in HospitalLevel.values)
    rules.append(
        (
            c("restriction_hospital_level"),
            "invalid",
            sql_text(MESSAGES["hospital_level_must_be_one_of"], choices=_lit(", ".join(HospitalLevel.values))),
            f"restriction_hospital_level <> '' AND restriction_hospital_level NOT IN ({levels})",
        )
    )
    for name, value, minimum, maximum in (
        ("restriction_max_days", "max_days_v", 1, INT_MAX),
        ("payment_standard_fen", "standard_v", 0, BIGINT_MAX),
    ):
        rules.append(
            (
                c(name),
                "invalid",
                _not_whole(name, minimum, maximum),
                f"{name} <> '' AND ({value} IS NULL OR {value} < {minimum} OR {value} > {maximum})",
            )
        )
    rules.append(
        (
            c("self_pay_ratio"),
            "invalid",
            sql_text(MESSAGES["self_pay_ratio_must_be_between"], value="self_pay_ratio"),
            "self_pay_ratio <> '' AND (ratio_v IS NULL OR ratio_v < 0 OR ratio_v > 1 OR ratio_v <> round(ratio_v, 4))",
        )
    )
    return rules


def _replaces_check(*, replaced: str, present: str, column: str) -> str:
    """The rows whose ``replaces`` break a rule (line, col, code, message): over ``replaced``
    (rows of line, own code, one replaced code), ``present`` saying a code is an item of the
    draft after the import."""
    return (
        f"SELECT line, {column}, code, message FROM ("
        "SELECT r.line, CASE "
        f"  WHEN {_kind_sql('r.code')} IS NULL AND r.code !~ '{FORMER_DRUG_RE}' THEN 'code_format' "
        "  ELSE 'unknown_successor' END AS code, CASE "
        f"  WHEN {_kind_sql('r.code')} IS NULL AND r.code !~ '{FORMER_DRUG_RE}' THEN "
        f"{sql_text(MESSAGES['replaced_code_code_reason'], code='r.code', reason=_format_reason_sql('r.code'))} "
        f"  WHEN r.code = r.own THEN {sql_text(MESSAGES['code_cannot_replace_itself'], code='r.code')} "
        f"  ELSE {sql_text(MESSAGES['code_is_replaced_by_own_but'], code='r.code', own='r.own')} END AS message "
        f"FROM ({replaced}) r "
        f"WHERE ({_kind_sql('r.code')} IS NULL AND r.code !~ '{FORMER_DRUG_RE}') OR r.code = r.own OR {present}) AS bad"
    )


def checks(source: Source, *, release_id: int, mode: str) -> tuple[list[str], list[Any]]:
    """Validation queries over ``import_items`` (each: line, col, code, message)."""

    def c(name: str) -> str:
        return _column_literal(source, name)

    q = [_one_scan(_row_rules(source, release_id=release_id, mode=mode))]
    # Codes seen twice: a hash aggregate finds them (none, in a good file: then the join reads nothing more).
    q.append(
        f"SELECT n.line, {c('code')}, 'duplicate_code', {sql_text(MESSAGES['code_code_is_also_on_line'], code='n.code', line='d.first_line')} "
        "FROM (SELECT code, min(line) AS first_line FROM import_items WHERE code <> '' GROUP BY code HAVING count(*) > 1) d "
        "JOIN import_items n ON n.code = d.code AND n.line > d.first_line"
    )
    present = "EXISTS (SELECT 1 FROM import_items o WHERE o.code = r.code)"
    replaced = "SELECT n.line, n.code AS own, unnest(n.replaces) AS code FROM import_items n WHERE cardinality(n.replaces) > 0"
    if mode == "merge":
        # A blank replaces cell keeps the draft's successor mapping: it must still hold.
        replaced += (
            " UNION ALL SELECT n.line, n.code, jsonb_array_elements_text(i.replaces) FROM import_items n "
            f"JOIN catalog_catalogitem i ON i.release_id = {int(release_id)} AND i.code = n.code "
            "WHERE cardinality(n.replaces) = 0 AND i.replaces <> '[]'::jsonb"
        )
        present = f"({present} OR EXISTS (SELECT 1 FROM catalog_catalogitem i WHERE i.release_id = %s AND i.code = r.code))"
    q.append(_replaces_check(replaced=replaced, present=present, column=c("replaces")))
    q.extend(source.checks)
    return q, [release_id] if mode == "merge" else []


_CAST = {
    "restriction_max_days": "n.max_days_v::integer",
    "payment_standard_fen": "n.standard_v::bigint",
    "self_pay_ratio": "n.ratio_v::numeric(5, 4)",
    "replaces": "to_jsonb(n.replaces)",
    "category_path": "CASE n.kind WHEN 'consumable' THEN left(n.code, 15) WHEN 'drug' THEN left(n.code, 6) ELSE '' END",
}
# Fields an item gets from its code, never from a cell.
_DERIVED = ("kind", "category_path")


def _blank(name: str) -> str:
    """The file left this field of a row empty (a blank cell, a missing key or column)."""
    return "cardinality(n.replaces) = 0" if name == "replaces" else f"n.{name} = ''"


def _empty(name: str) -> str:
    """The draft's item has nothing in this field (so keeping it keeps nothing)."""
    if name == "replaces":
        return "i.replaces = '[]'::jsonb"
    if name in ("restriction_max_days", "payment_standard_fen", "self_pay_ratio"):
        return f"i.{name} IS NULL"
    return f"i.{name} = ''"


def _item_values(source: Source, *, merging: bool) -> tuple[list[str], str]:
    """The item's field values from a row ``n`` of ``import_items`` (cast, a format's default for
    a blank cell; with ``merging``, the draft's value ``i`` where the cell is blank) and the SQL
    counting the blank cells that kept a draft value."""
    file_fields = set(source.fields)
    values, kept = [], []
    for name in ITEM_CONTENT_FIELDS:
        value = _CAST.get(name, f"n.{name}")
        if name in source.defaults and name not in _DERIVED:
            default = "'" + source.defaults[name].replace("'", "''") + "'"
            value = f"CASE WHEN {_blank(name)} THEN {default} ELSE {value} END"
        if merging and name not in _DERIVED:
            value = f"CASE WHEN i.id IS NOT NULL AND {_blank(name)} THEN i.{name} ELSE {value} END"
            if name in file_fields:
                kept.append(f"(i.id IS NOT NULL AND {_blank(name)} AND NOT ({_empty(name)}))::int")
        values.append(f"{value} AS {name}")
    return values, " + ".join(kept) if kept else "0"


def merge(*, release_id: int, mode: str, source: Source, fresh: bool = False) -> dict[str, int]:
    """Compare ``import_items`` with the draft into ``import_changes`` (code, change: + ~ -).
    Rows equal to the draft's are left out, so a re-import changes nothing; with
    ``mode='replace'`` codes of the draft missing from the file are '-'.

    ``mode='merge'``: a blank cell (or a column or JSON key the file does not have) of an item
    the draft already has keeps the draft's value; a blank cell of a new item is empty (or the
    format's default, e.g. the consumables list's payment category). ``kept_blank`` counts the
    blank cells of the file that kept a non-empty value, ``kept_blank_items`` their items.
    ``mode='replace'``: the draft becomes the file, blank cells included.

    ``fresh``: the draft has no items (``catalog_sql.items_empty``), so every row is added and
    nothing is compared (``apply_changes`` then writes straight from ``import_items``).
    """
    if fresh:
        return {"added": source.staging.rows, "changed": 0, "removed": 0, "kept_blank": 0, "kept_blank_items": 0}
    merging = mode == "merge"
    values, kept_sql = _item_values(source, merging=merging)
    join = f"LEFT JOIN catalog_catalogitem i ON i.release_id = {int(release_id)} AND i.code = n.code" if merging else ""
    current = ", ".join(f"i.{name}" for name in ITEM_CONTENT_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_new")
        cursor.execute(
            f"CREATE TEMP TABLE import_new ON COMMIT DROP AS SELECT n.code, {', '.join(values)}, "
            f"{kept_sql if merging else '0'} AS kept_blank FROM import_items n {join}"
        )
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_changes")
        new_row = ", ".join(f"n.{name}" for name in ITEM_CONTENT_FIELDS)
        cursor.execute(
            "CREATE TEMP TABLE import_changes ON COMMIT DROP AS "
            "SELECT n.code, CASE WHEN i.id IS NULL THEN '+' ELSE '~' END AS change FROM import_new n "
            "LEFT JOIN catalog_catalogitem i ON i.release_id = %s AND i.code = n.code "
            f"WHERE i.id IS NULL OR ({current}) IS DISTINCT FROM ({new_row})",
            [release_id],
        )
        if mode == "replace":
            cursor.execute(
                "INSERT INTO import_changes (code, change) SELECT i.code, '-' FROM catalog_catalogitem i "
                "WHERE i.release_id = %s AND NOT EXISTS (SELECT 1 FROM import_new n WHERE n.code = i.code)",
                [release_id],
            )
        cursor.execute("SELECT change, count(*) FROM import_changes GROUP BY change")
        counts = {change: int(n) for change, n in cursor.fetchall()}
        cursor.execute("SELECT coalesce(sum(kept_blank), 0), count(*) FILTER (WHERE kept_blank > 0) FROM import_new")
        kept_cells, kept_items = cursor.fetchone()
    return {
        "added": counts.get("+", 0),
        "changed": counts.get("~", 0),
        "removed": counts.get("-", 0),
        "kept_blank": int(kept_cells),
        "kept_blank_items": int(kept_items),
    }


class _RowRefused(Exception):
    """A file loaded by ``load_fresh`` breaks a rule the load checks after its rows."""


def load_fresh(*, release_id: int, source: Source) -> bool:
    """Load the file straight from staging into an empty draft's partition in one statement,
    each row's rules (``_row_rules``) checked in it, the codes' uniqueness by the key built
    after it, then the replaced codes; True when the file is in.

    False when some row breaks a rule: nothing is left of the load (a savepoint), and the caller
    runs the checks over ``import_items`` for the report (line, column, code, message). Files
    without problems, nearly all, skip writing ``import_items``, reading it again for the checks
    and analysing it (about 1 s of a 10 s import of 500,000 rows here, issue 22). A format with
    checks of its own (``source.checks``) takes the checks' way."""
    if source.checks:
        return False
    # Nothing of an empty draft counts: the rules of a replace.
    broken = " OR ".join(f"({condition})" for *_, condition in _row_rules(source, release_id=release_id, mode="replace"))
    insert = _insert_into_empty(
        source,
        rows=f"({items_select(source)} OFFSET 0)",  # OFFSET 0: each value computed once, not again in each rule
        where=f"CASE WHEN {broken} THEN catalog_import_row_refused(n.line) ELSE true END",
    )
    replaced_wrongly = _replaces_check(
        replaced=(
            "SELECT 0 AS line, i.code AS own, jsonb_array_elements_text(i.replaces) AS code FROM catalog_catalogitem i "
            f"WHERE i.release_id = {int(release_id)} AND i.replaces <> '[]'::jsonb"
        ),
        present=f"EXISTS (SELECT 1 FROM catalog_catalogitem o WHERE o.release_id = {int(release_id)} AND o.code = r.code)",
        column="''",
    )
    try:
        with transaction.atomic():
            with catalog_sql.items_unindexed(release_id), connection.cursor() as cursor:
                cursor.execute(insert, [release_id])
            with connection.cursor() as cursor:
                # After the code key: it finds each replaced code.
                cursor.execute(f"SELECT EXISTS ({replaced_wrongly})")
                if cursor.fetchone()[0]:
                    raise _RowRefused
    except (_RowRefused, IntegrityError, DataError):
        return False
    return True


def _values_hashed() -> str:
    """An item row ``n``'s content fields and its content hash, in ITEM_CONTENT_FIELDS order."""
    return f"{', '.join(f'n.{name}' for name in ITEM_CONTENT_FIELDS)}, {catalog_sql.content_hash_sql('n')}"


def _insert_into_empty(source: Source, *, rows: str, where: str = "true") -> str:
    """The INSERT of a file's rows into an empty draft (parameter: the release): from ``rows``
    (a relation with ``import_items``'s columns) where ``where`` holds, cast, a blank cell given
    the format's default, hashed. OFFSET 0: each value is computed once, not again inside the hash."""
    cast, _ = _item_values(source, merging=False)
    values = _values_hashed()
    return (
        f"INSERT INTO catalog_catalogitem (release_id, code, {', '.join(ITEM_CONTENT_FIELDS)}, content_hash) "
        f"SELECT %s, n.code, {values} FROM (SELECT n.code, {', '.join(cast)} FROM {rows} AS n WHERE {where} OFFSET 0) AS n"
    )


# An import changing at least this share of the draft's items (after it) rewrites the draft's
# partition unindexed instead of changing rows in place under six indexes.
REWRITE_SHARE = 0.25


def apply_changes(*, release_id: int, source: Source, fresh: bool = False) -> bool:
    """Write ``import_changes`` to the items table (after '-' history rows were recorded); True
    when the partition was written unindexed (``catalog_sql.items_unindexed``: the readers'
    indexes come after commit), False when rows were changed in place.

    Into a draft with no items yet (``fresh``: a new or empty draft), the rows of
    ``import_items`` are loaded into its partition unindexed and its indexes built after them
    (``catalog_sql.items_unindexed``).
    An import that changes a large share of a draft's items rewrites the partition the same way
    (its items kept, changed and added, ids kept); a few changes are made in place."""
    fields = ", ".join(ITEM_CONTENT_FIELDS)
    values = _values_hashed()
    if fresh:
        with catalog_sql.items_unindexed(release_id), connection.cursor() as cursor:
            cursor.execute(_insert_into_empty(source, rows="import_items"), [release_id])
        return True
    insert = (
        f"INSERT INTO catalog_catalogitem (release_id, code, {fields}, content_hash) "
        f"SELECT %s, n.code, {values} FROM import_new n JOIN import_changes c ON c.code = n.code AND c.change = '+'"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM import_changes")
        changes = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM catalog_catalogitem WHERE release_id = %s", [release_id])
        before = int(cursor.fetchone()[0])
    if changes >= REWRITE_SHARE * max(before, 1):
        _rewrite(release_id, fields=fields, values=values, insert=insert)
        return True
    assignments = ", ".join(f"{name} = n.{name}" for name in ITEM_CONTENT_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM catalog_catalogitem i USING import_changes c WHERE i.release_id = %s AND i.code = c.code AND c.change = '-'",
            [release_id],
        )
        cursor.execute(
            f"UPDATE catalog_catalogitem i SET {assignments} FROM import_new n JOIN import_changes c ON c.code = n.code "
            "WHERE c.change = '~' AND i.release_id = %s AND i.code = n.code",
            [release_id],
        )
        # In code order: the partition's indexes lead with (release, code) or code, so sorted
        # rows append to their B-trees instead of landing on random pages.
        cursor.execute(insert + " ORDER BY n.code", [release_id])
    return False


def _rewrite(release_id: int, *, fields: str, values: str, insert: str) -> None:
    """The draft's items after the import (kept rows as they are, changed rows with the file's
    values and their ids) set aside, the partition emptied and unindexed, then everything
    written back and indexed, with the added rows."""
    kept = ", ".join(f"i.{name}" for name in ITEM_CONTENT_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_rows")
        cursor.execute(
            f"CREATE TEMP TABLE import_rows ON COMMIT DROP AS "
            f"SELECT i.id, i.code, {kept}, i.content_hash FROM catalog_catalogitem i "
            "LEFT JOIN import_changes c ON c.code = i.code WHERE i.release_id = %s AND c.code IS NULL "
            f"UNION ALL SELECT i.id, n.code, {values} FROM import_new n JOIN import_changes c ON c.code = n.code AND c.change = '~' "
            "JOIN catalog_catalogitem i ON i.release_id = %s AND i.code = n.code",
            [release_id, release_id],
        )
        with catalog_sql.items_unindexed(release_id, clear=True):
            cursor.execute(
                f"INSERT INTO catalog_catalogitem (id, release_id, code, {fields}, content_hash) "
                f"SELECT id, %s, code, {fields}, content_hash FROM import_rows",
                [release_id],
            )
            cursor.execute(insert, [release_id])
