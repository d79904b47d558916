"""Cross-province adjudication: "destination catalog, home-province benefits".

Whether a line is payable follows the national catalog release in force on the date of
service plus the destination province's transitional local items (before their sunset);
deductible, ratios, annual cap and the cross-province ratio follow the HOME province's policy
in force on that date, or the policy's terms for a listed disease the claim's diagnoses name.

A line is refused (covered false, the fund pays 0) when its code is malformed or not in scope,
its local item lapsed or is not yet in force, it is 丙 (03), a ``chronic_outpatient`` claim names
no disease the home policy lists (``disease_not_listed``; across provinces only diseases settled
across provinces count), the hospital's level is below the item's restriction, or the item's
structured indication (ICD-10 prefixes in ``restriction_indication``) matches none of the
claim's diagnoses (``restriction_indication``). A free-text indication is for people: not applied.

Arithmetic, per line in ``line_no`` order, all in integer fen:

0. Cuts (only for items with a maximum days or a payment standard):
   - days used = the line's ``days``, else quantity ÷ the item's approved daily dose (when it has
     one); above the item's maximum days, the fund considers max days ÷ days used of the line:
     allowed = amount × that share, rounded half-up once; ``over_max_days_fen`` = amount − allowed.
   - standard = payment standard × quantity × that share, rounded half-up once;
     ``over_standard_fen`` = allowed − standard when positive (the price above the standard is the
     patient's). What is left is the line's eligible amount.
   Each cut is formed exactly (fractions) and rounded once; its remainder goes to the patient.
1. 甲 (01): self-pay share 0. 乙 (02): self-pay share = eligible × (the item's self_pay_ratio, else
   the home policy's default_self_pay_ratio), rounded half-up. 丙 (03): not covered.
2. eligible − self-pay share; the remaining deductible is taken from it first.
3. payable = (that − deductible taken) × ratio, rounded half-up to a whole fen, where
   ratio = category ratio (or the disease term's ratio) × cross-province ratio (registered or not)
   when home ≠ destination. The product is formed exactly (Decimal) and rounded once.
4. payable is cut to what is left of the annual cap.
5. patient = amount − payable: every remainder of rounding and every cut goes to the patient, so
   payable + patient = amount on every line.

``reason_code`` of a covered line names the first rule that cut it: ``restriction_max_days``,
``over_payment_standard``, ``annual_cap_reached``, else ``covered``.

DRG: an out-of-town (cross-province) inpatient claim with a ``drg_group``, treated in a pooling
area that pays such claims by DRG on that date (the published DRG table in force), also gets
``drg``: the hospital is paid weight × base rate (rounded half-up, ``hospital_payment_fen``), of
which the patient pays the item-level patient share computed above and the fund the rest
(``fund_payment_fen`` = hospital payment − patient share, never below 0).

The whole claim costs ONE statement, whatever the number of lines:
the release in force, the items and local items of every code, the hospital's registered level
(which wins over the level the caller gives), the home policies in force and their disease
terms, the diagnoses and procedures the references know and the DRG terms of the area.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple

from django.db import connection
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.catalog.selectors import published_releases
from apps.core.codes import (
    CodeError,
    catalog_code_kind,
    icd10_matches,
    normalise_code,
    parse_icd10_prefixes,
    validate_icd9_procedure,
    validate_icd10,
)
from apps.core.errors import ValidationFailed
from apps.core.money import apply_ratio
from apps.core.prepared import prepared_cursor
from apps.core.reasons import CODE_LABELS

from . import sql
from .models import BenefitPolicy, CareSetting
from .selectors import (
    drg_version_in_force_queryset,
    level_meets,
    policies_in_force_queryset,
    pooling_area_of,
    registered_level_queryset,
    unknown_diagnoses,
)

ONE = Decimal(1)
ZERO = Decimal(0)

# Stable reason codes (API contract: add, never rename).
COVERED = "covered"
CAP_REACHED = "annual_cap_reached"
NOT_IN_CATALOG = "not_in_catalog"
CATEGORY_C = "category_c_not_covered"
LOCAL_EXPIRED = "local_item_expired"
LOCAL_NOT_YET = "local_item_not_yet_effective"
RESTRICTED_LEVEL = "restriction_hospital_level"
RESTRICTED_INDICATION = "restriction_indication"
RESTRICTED_MAX_DAYS = "restriction_max_days"
OVER_STANDARD = "over_payment_standard"
DISEASE_NOT_LISTED = "disease_not_listed"
CODE_FORMAT = "code_format"
DUPLICATE_LINE = "duplicate_line_no"
REASON_CODES = (
    COVERED,
    CAP_REACHED,
    NOT_IN_CATALOG,
    CATEGORY_C,
    LOCAL_EXPIRED,
    LOCAL_NOT_YET,
    RESTRICTED_LEVEL,
    RESTRICTED_INDICATION,
    RESTRICTED_MAX_DAYS,
    OVER_STANDARD,
    DISEASE_NOT_LISTED,
    CODE_FORMAT,
    DUPLICATE_LINE,
)
# For people (pages, admin): the codes above stay the contract; their labels live in the one
# mapping of codes to labels (apps/core/reasons.py).
REASON_LABELS = {code: CODE_LABELS[code] for code in REASON_CODES}


@dataclass(frozen=True)
class ClaimLine:
    line_no: int
    code: str
    amount_fen: int
    quantity: Decimal = ONE
    days: int | None = None


@dataclass(frozen=True)
class Claim:
    home_province: str
    destination_province: str
    date_of_service: dt.date
    scheme: str
    setting: str
    lines: tuple[ClaimLine, ...]
    hospital_code: str = ""
    # The level used when the registry has none for ``hospital_code`` (the registry's wins).
    hospital_level: str = "unrated"
    registered: bool = False
    diagnoses: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    deductible_used_fen: int = 0
    fund_paid_ytd_fen: int = 0
    drg_group: str = ""
    drg_payment: bool = False
    # The city-level pooling area where treated; default: the hospital code's (selectors.pooling_area_of).
    pooling_area: str = ""


class _Scope(NamedTuple):
    """What the catalog side says about one code."""

    category: str
    self_pay_ratio: Decimal | None
    restriction_level: str
    source: str  # national | local
    reason: str = COVERED
    indication: tuple[str, ...] | None = None  # structured ICD-10 prefixes; None: none or free text
    max_days: int | None = None
    standard_fen: int | None = None
    units_per_day: Decimal | None = None
    suggested_code: str | None = None  # a local item's national mapping


@dataclass(slots=True)
class LineResult:
    line_no: int
    code: str
    covered: bool
    reason_code: str
    category: str | None
    amount_fen: int
    payable_fen: int
    patient_fen: int
    self_pay_fen: int = 0
    deductible_fen: int = 0
    ratio: str = "0"
    item_source: str | None = None
    release: str | None = None
    over_standard_fen: int = 0
    over_max_days_fen: int = 0
    suggested_code: str | None = None


_LINE_FIELDS = tuple(f.name for f in fields(LineResult))
_LINE_VALUES = attrgetter(*_LINE_FIELDS)
_LINE_NO = attrgetter("line_no")


@dataclass(frozen=True)
class DiseaseTerm:
    """A listed disease of the home policy with what the policy pays for it (None: the policy's own)."""

    code: str
    name: str
    kind: str
    cross_province: bool
    prefixes: tuple[str, ...]
    ratio: Decimal | None
    deductible_fen: int | None
    annual_cap_fen: int | None


@dataclass
class ClaimResult:
    release: str
    home_province: str
    destination_province: str
    cross_province: bool
    hospital_level: str
    policy: dict[str, Any]
    lines: list[LineResult]
    warnings: list[dict[str, str]] = field(default_factory=list)
    drg_group: str = ""
    drg_payment: bool = False
    disease: dict[str, Any] | None = None
    drg: dict[str, Any] | None = None
    pooling_area: str = ""

    @property
    def totals(self) -> dict[str, int]:
        return {
            "amount_fen": sum(line.amount_fen for line in self.lines),
            "payable_fen": sum(line.payable_fen for line in self.lines),
            "patient_fen": sum(line.patient_fen for line in self.lines),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "home_province": self.home_province,
            "destination_province": self.destination_province,
            "cross_province": self.cross_province,
            "hospital_level": self.hospital_level,
            "pooling_area": self.pooling_area,
            "policy": self.policy,
            "disease": self.disease,
            "drg_group": self.drg_group,
            "drg_payment": self.drg_payment,
            "drg": self.drg,
            "totals": self.totals,
            "warnings": self.warnings,
            "lines": [dict(zip(_LINE_FIELDS, _LINE_VALUES(line), strict=True)) for line in self.lines],
        }


SEPARATOR = "\x1f"  # chr(31) in sql.SCOPE_SQL


class _Facts(NamedTuple):
    """What the one statement returned for a claim."""

    release: str | None
    scopes: dict[str, _Scope]
    registered_level: str | None
    policies: dict[str, PolicyTerms]  # by hospital level ('' = every level without its own)
    terms: dict[int, list[DiseaseTerm]]  # by policy id
    known_diagnoses: set[str]
    known_procedures: set[str]
    drg: tuple[str | None, Decimal | None, dt.date, str, int, str] | None  # group, weight, from, table, base rate, name


def _joined(values: list[str]) -> str:
    # A value holding the separator is malformed anyway: it is left out (and refused or warned).
    return SEPARATOR.join(value for value in values if SEPARATOR not in value)


def _run(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run the claim's statement — prepared unless settings.PRECHECK_PREPARED_STATEMENT is off
    (behind PgBouncer in transaction mode before 1.21, say). The statement is long and the same
    for every claim: prepared, PostgreSQL parses, rewrites and (with its generic plan) plans it
    once per connection instead of once per claim — measured here 1.0 ms against 5.7 ms a
    20-line claim (medians of interleaved runs, loaded machine)."""
    with prepared_cursor(connection, setting="PRECHECK_PREPARED_STATEMENT") as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall())


def _facts(
    *,
    codes: list[str],
    destination: str,
    on_date: dt.date,
    policy_key: dict[str, Any],
    hospital_code: str,
    diagnoses: list[str],
    procedures: list[str],
    area: str,
    drg_group: str,
) -> _Facts:
    """Run the claim's one statement (sql.SCOPE_SQL) and sort its rows. National items win over
    a local item with the same code."""
    statement, template = _scope_statement()
    values = {
        _ON_DATE: on_date,
        _CODES: _joined(codes),
        _DESTINATION: destination,
        _HOSPITAL: hospital_code,
        _DIAGNOSES: _joined(diagnoses),
        _PROCEDURES: _joined(procedures),
        _AREA: area,
        _DRG_GROUP: drg_group,
        **{_SENTINELS[k]: v for k, v in policy_key.items()},
    }
    rows = _run(statement, [values.get(p, p) if isinstance(p, _Sentinel) else p for p in template])
    label: str | None = None
    registered: str | None = None
    policies: dict[str, PolicyTerms] = {}
    national: dict[str, _Scope] = {}
    local: dict[str, _Scope] = {}
    by_signature: dict[str, _Scope] = {}
    terms: dict[int, list[DiseaseTerm]] = {}
    known_diagnoses: set[str] = set()
    known_procedures: set[str] = set()
    drg = None
    for source, code, number, day, text in rows:
        if source == "national":
            scope = by_signature.get(text)
            if scope is None:
                scope = by_signature[text] = _national_scope_from_signature(text)
            national[code] = scope
        elif source == "local":
            category, level, sunset, mapping = text.split("|", 3)
            reason = _local_reason(on_date=on_date, starts=day, sunset=dt.date.fromisoformat(sunset))
            local[code] = _Scope(category, number, level, "local", reason, suggested_code=mapping or None)
        elif source == "release":
            label = text
        elif source == "hospital":
            registered = text
        elif source == "policy":
            policy = _policy_from_json(text, key=policy_key)
            policies[policy.hospital_level] = policy
        elif source == "term":
            policy_id, name, kind, cross, deductible, cap, prefixes = json.loads(text)
            terms.setdefault(policy_id, []).append(DiseaseTerm(code, name, kind, cross, tuple(prefixes), number, deductible, cap))
        elif source == "diagnosis":
            known_diagnoses.add(code)
        elif source == "procedure":
            known_procedures.add(code)
        elif source == "drg":
            table, base_rate, group_name = json.loads(text)
            drg = (code, number, day, table, int(base_rate), group_name or "")
    for listed in terms.values():
        listed.sort(key=attrgetter("code"))
    return _Facts(label, {**local, **national}, registered, policies, terms, known_diagnoses, known_procedures, drg)


def _national_scope_from_signature(signature: str) -> _Scope:
    category, ratio, level, max_days, standard, dose, indication = signature.split("|", 6)
    return _Scope(
        category,
        Decimal(ratio) if ratio else None,
        level,
        "national",
        COVERED,
        parse_icd10_prefixes(indication) if indication else None,
        int(max_days) if max_days else None,
        int(standard) if standard else None,
        Decimal(dose) if dose else None,
    )


# The policy's fields the pre-check reads (the rest stay deferred on the instance; province,
# scheme and setting are the claim's, which chose the policies): fewer columns keep the
# statement short enough for psycopg to cache its parsed form (4 KiB).
_POLICY_READ = (
    "id",
    "hospital_level",
    "effective_from",
    "effective_to",
    "deductible_fen",
    "ratio_category_a",
    "ratio_category_b",
    "default_self_pay_ratio",
    "annual_cap_fen",
    "cross_province_ratio_registered",
    "cross_province_ratio_unregistered",
)
_POLICY_RATIOS = (
    "ratio_category_a",
    "ratio_category_b",
    "default_self_pay_ratio",
    "cross_province_ratio_registered",
    "cross_province_ratio_unregistered",
)


class PolicyTerms(NamedTuple):
    """What the pre-check reads of a home policy in force, and its summary for the answer (the
    same as ``policy_summary`` of the model row: a test holds the two together). A model
    instance cost a fifth of the claim's own CPU in Django's model machinery."""

    pk: int
    hospital_level: str
    deductible_fen: int
    ratio_category_a: Decimal
    ratio_category_b: Decimal
    default_self_pay_ratio: Decimal
    annual_cap_fen: int
    cross_province_ratio_registered: Decimal
    cross_province_ratio_unregistered: Decimal
    summary: dict[str, Any]


def _policy_from_json(text: str, *, key: dict[str, Any]) -> PolicyTerms:
    """A policy row the statement returned as JSON (decimals kept exact); its province, scheme
    and setting are the claim's (``key``), by which the statement chose it."""
    data = json.loads(text, parse_float=Decimal)
    ratios = {name: Decimal(data[name]) for name in _POLICY_RATIOS}
    effective_to = data["effective_to"]
    summary = {
        "id": data["id"],
        "province": key["province_code"],
        "scheme": key["scheme"],
        "setting": key["setting"],
        "hospital_level": data["hospital_level"],
        "effective_from": dt.date.fromisoformat(data["effective_from"]).isoformat(),
        "effective_to": dt.date.fromisoformat(effective_to).isoformat() if effective_to else None,
        "deductible_fen": data["deductible_fen"],
        "ratio_category_a": str(ratios["ratio_category_a"]),
        "ratio_category_b": str(ratios["ratio_category_b"]),
        "default_self_pay_ratio": str(ratios["default_self_pay_ratio"]),
        "annual_cap_fen": data["annual_cap_fen"],
        "cross_province_ratio_registered": str(ratios["cross_province_ratio_registered"]),
        "cross_province_ratio_unregistered": str(ratios["cross_province_ratio_unregistered"]),
    }
    return PolicyTerms(
        data["id"], data["hospital_level"], data["deductible_fen"], **ratios, annual_cap_fen=data["annual_cap_fen"], summary=summary
    )


class _Sentinel(str):
    """A stand-in parameter: the scope statement is compiled once from the ORM querysets with
    these, then each claim's values take their places (compiling cost more than the query)."""


_ON_DATE, _CODES, _DESTINATION = _Sentinel("on_date"), _Sentinel("codes"), _Sentinel("destination")
_DIAGNOSES, _PROCEDURES, _AREA, _DRG_GROUP = _Sentinel("diagnoses"), _Sentinel("procedures"), _Sentinel("area"), _Sentinel("drg_group")
_HOSPITAL = _Sentinel("hospital")
_SENTINELS = {name: _Sentinel(name) for name in ("province_code", "scheme", "setting")}


@lru_cache(maxsize=1)
def _scope_statement() -> tuple[str, list[Any]]:
    """(SQL, parameters with sentinels) of the claim's statement."""
    # The same rules as catalog.selectors.release_in_force, selectors.policies_in_force_queryset,
    # selectors.drg_version_in_force_queryset and selectors.hospital_level, compiled as
    # sub-queries of the one statement.
    sentinel_date = dt.date(1, 1, 1)
    in_force = published_releases().filter(effective_from__lte=sentinel_date).order_by("-effective_from").only("id", "label")[:1]
    release_sql, release_params = in_force.query.sql_with_params()
    # A model queryset (not values()) compiles its columns without aliases: a shorter statement.
    policies = policies_in_force_queryset(on_date=sentinel_date, **_SENTINELS).only(*_POLICY_READ).order_by()
    policy_sql, policy_params = policies.query.sql_with_params()
    drg_sql, drg_params = drg_version_in_force_queryset(on_date=sentinel_date).only("id", "label")[:1].query.sql_with_params()
    registry = registered_level_queryset(institution_code=_HOSPITAL)
    registry_sql, registry_params = (
        registry.query.sql_with_params() if registry is not None else ("SELECT NULL::text AS level WHERE false", ())
    )
    params = [
        _ON_DATE if p == sentinel_date else p
        for p in (
            *release_params,
            _CODES,
            *policy_params,
            *drg_params,
            *registry_params,
            _DESTINATION,
            _DIAGNOSES,
            _PROCEDURES,
            _AREA,
            _DRG_GROUP,
        )
    ]
    statement = sql.SCOPE_SQL.format(release_sql=release_sql, policy_sql=policy_sql, drg_sql=drg_sql, registry_sql=registry_sql)
    # One line: the text is sent with every claim, and psycopg caches the parsed form of
    # statements up to 4 KiB only (parsing 5 KiB again cost about 0.15 ms a claim).
    return " ".join(statement.split()), params


def _local_reason(*, on_date: dt.date, starts: dt.date, sunset: dt.date) -> str:
    if on_date >= sunset:
        return LOCAL_EXPIRED
    if on_date < starts:
        return LOCAL_NOT_YET
    return COVERED


def policy_summary(policy: BenefitPolicy) -> dict[str, Any]:
    return {
        "id": policy.pk,
        "province": policy.province.code,
        "scheme": policy.scheme,
        "setting": policy.setting,
        "hospital_level": policy.hospital_level,
        "effective_from": policy.effective_from.isoformat(),
        "effective_to": policy.effective_to.isoformat() if policy.effective_to else None,
        "deductible_fen": policy.deductible_fen,
        "ratio_category_a": str(policy.ratio_category_a),
        "ratio_category_b": str(policy.ratio_category_b),
        "default_self_pay_ratio": str(policy.default_self_pay_ratio),
        "annual_cap_fen": policy.annual_cap_fen,
        "cross_province_ratio_registered": str(policy.cross_province_ratio_registered),
        "cross_province_ratio_unregistered": str(policy.cross_province_ratio_unregistered),
    }


class LineSplit(NamedTuple):
    payable_fen: int
    patient_fen: int
    self_pay_fen: int
    deductible_fen: int
    capped: bool


_SCALE = 10**8  # ratios here have at most 8 decimals (4-decimal ratio × 4-decimal cross-province ratio)


@lru_cache(maxsize=256)
def _scaled(ratio: Decimal) -> int | None:
    scaled = ratio * _SCALE
    return int(scaled) if scaled == scaled.to_integral_value() else None


def ratio_of(fen: int, ratio: Decimal) -> int:
    """fen × ratio rounded half-up to a whole fen: apps.core.money.apply_ratio, in integers.

    Integer arithmetic keeps a 1,000-line claim cheap; the result is the same (a property test
    checks it) and falls back to apply_ratio for a ratio with more than 8 decimals.
    """
    scaled = _scaled(ratio)
    if scaled is None or fen < 0:
        return apply_ratio(fen, ratio)
    return (2 * fen * scaled + _SCALE) // (2 * _SCALE)


def split_scaled(*, amount_fen: int, self_pay_scaled: int, ratio_scaled: int, deductible_left_fen: int, cap_left_fen: int) -> LineSplit:
    """settle_line for a non-negative amount with both ratios given × 10**8 as integers (the
    per-line path of a claim: the ratios are scaled once per claim, not once per line)."""
    return LineSplit(*_split(amount_fen, self_pay_scaled, ratio_scaled, deductible_left_fen, cap_left_fen))


def _split(amount: int, self_pay_scaled: int, ratio_scaled: int, deductible_left: int, cap_left: int) -> tuple[int, int, int, int, bool]:
    # split_scaled as a plain tuple, positional: it runs once per line.
    self_pay = (2 * amount * self_pay_scaled + _SCALE) // (2 * _SCALE) if self_pay_scaled else 0
    eligible = amount - self_pay
    deductible = min(eligible, max(deductible_left, 0))
    payable = (2 * (eligible - deductible) * ratio_scaled + _SCALE) // (2 * _SCALE)
    capped = payable > cap_left
    if capped:
        payable = max(cap_left, 0)
    return payable, amount - payable, self_pay, deductible, capped


def settle_line(*, amount_fen: int, self_pay_ratio: Decimal, ratio: Decimal, deductible_left_fen: int, cap_left_fen: int) -> LineSplit:
    """Split one covered line between fund and patient (steps 1-5 of the module docstring)."""
    self_scaled, ratio_scaled = _scaled(self_pay_ratio), _scaled(ratio)
    if amount_fen >= 0 and self_scaled is not None and ratio_scaled is not None:
        return split_scaled(
            amount_fen=amount_fen,
            self_pay_scaled=self_scaled,
            ratio_scaled=ratio_scaled,
            deductible_left_fen=deductible_left_fen,
            cap_left_fen=cap_left_fen,
        )
    self_pay = ratio_of(amount_fen, self_pay_ratio) if self_pay_ratio else 0
    eligible = amount_fen - self_pay
    deductible = min(eligible, max(deductible_left_fen, 0))
    payable = ratio_of(eligible - deductible, ratio)
    capped = payable > cap_left_fen
    if capped:
        payable = max(cap_left_fen, 0)
    return LineSplit(payable, amount_fen - payable, self_pay, deductible, capped)


def _half_up(value: Fraction) -> int:
    """A non-negative fraction rounded half-up to a whole fen."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


class LineCuts(NamedTuple):
    eligible_fen: int
    over_max_days_fen: int
    over_standard_fen: int


def line_cuts(
    *,
    amount_fen: int,
    quantity: Decimal,
    days: int | None,
    max_days: int | None,
    units_per_day: Decimal | None,
    standard_fen: int | None,
) -> LineCuts:
    """Step 0 of the module docstring: what of a line's amount the fund considers at all."""
    share = Fraction(1)
    if max_days is not None:
        used = Fraction(days) if days is not None else (Fraction(quantity) / Fraction(units_per_day) if units_per_day else None)
        if used is not None and used > max_days:
            share = Fraction(max_days) / used
    allowed = _half_up(amount_fen * share) if share < 1 else amount_fen
    over_standard = 0
    if standard_fen is not None:
        over_standard = max(allowed - _half_up(standard_fen * Fraction(quantity) * share), 0)
    return LineCuts(allowed - over_standard, amount_fen - allowed, over_standard)


def _norm(raw: str) -> str:
    # ASCII letters and digits only: NFKC and the white-space strip change nothing.
    return raw.upper() if raw.isascii() and raw.isalnum() else normalise_code(raw)


class _Plan(NamedTuple):
    """What every line of one code gets: a refusal, or the ratios of a covered line."""

    reason: str | None
    scope: _Scope | None
    self_pay_ratio: Decimal
    ratio: Decimal
    self_pay_scaled: int | None
    ratio_scaled: int | None
    ratio_text: str
    cuts: bool  # the item has a maximum days or a payment standard: line-level cuts apply


def _warning(kind: str, code: str, message: str, subject: str) -> dict[str, str]:
    """A claim-level warning; ``diagnosis`` (the contract's field) or ``procedure`` names the code."""
    if subject == "procedure":
        return {"code": f"procedure_{kind}", "diagnosis": "", "procedure": code, "message": message}
    return {"code": f"diagnosis_{kind}", "diagnosis": code, "message": message}


def _checked(raw: tuple[str, ...], validate: Any, subject: str) -> tuple[list[str], list[dict[str, str]]]:
    """(valid normalised codes in the claim's order, format warnings) of diagnoses or procedures."""
    valid: list[str] = []
    warnings: list[dict[str, str]] = []
    for value in raw:
        try:
            valid.append(validate(value))
        except CodeError as exc:
            warnings.append(_warning("code_format", exc.code, exc.reason, subject))
    return valid, warnings


def matching_term(*, terms: list[DiseaseTerm], diagnoses: list[str], cross_province: bool, chronic: bool) -> tuple[DiseaseTerm, str] | None:
    """The term of the first diagnosis (in the claim's order) that a listed disease covers, with
    that diagnosis; the longest matching prefix wins between diseases. Across provinces a
    chronic outpatient claim counts only diseases settled across provinces."""
    usable = [t for t in terms if t.cross_province or not (chronic and cross_province)]
    for diagnosis in diagnoses:
        best: tuple[int, DiseaseTerm] | None = None
        for term in usable:
            matched = [p for p in term.prefixes if icd10_matches(diagnosis, (p,))]
            if matched and (best is None or max(map(len, matched)) > best[0]):
                best = (max(map(len, matched)), term)
        if best is not None:
            return best[1], diagnosis
    return None


def adjudicate(claim: Claim) -> ClaimResult:
    """Decide every line of ``claim``; see the module docstring for the rules and the rounding.

    Raises ValidationFailed ``no_release_in_force`` when no published release covers the date
    and ``no_benefit_policy`` when the home province has no approved policy for it.
    """
    lines = sorted(claim.lines, key=_LINE_NO)
    codes = [_norm(line.code) for line in lines]
    diagnoses, warnings = _checked(claim.diagnoses, validate_icd10, "diagnosis")
    procedures, procedure_warnings = _checked(claim.procedures, validate_icd9_procedure, "procedure")
    policy_key = {"province_code": claim.home_province, "scheme": claim.scheme, "setting": claim.setting}
    cross = claim.home_province != claim.destination_province
    area = claim.pooling_area or pooling_area_of(institution_code=claim.hospital_code)
    drg_wanted = bool(claim.drg_group) and cross and claim.setting == CareSetting.INPATIENT
    facts = _facts(
        codes=sorted(set(codes)),
        destination=claim.destination_province,
        on_date=claim.date_of_service,
        policy_key=policy_key,
        hospital_code=claim.hospital_code,
        diagnoses=diagnoses,
        procedures=procedures,
        area=area if drg_wanted else "",
        drg_group=normalise_code(claim.drg_group) if drg_wanted else "",
    )
    release_label, scopes = facts.release, facts.scopes
    level = facts.registered_level or claim.hospital_level
    policy = facts.policies.get(level) or facts.policies.get("")
    if release_label is None:
        raise ValidationFailed(
            format_lazy(_("no catalog release is in force on {date_of_service}"), date_of_service=claim.date_of_service),
            code="no_release_in_force",
        )
    if policy is None:
        raise ValidationFailed(
            format_lazy(
                _("province {home_province} has no approved {scheme}/{setting} policy in force on {date_of_service}"),
                home_province=claim.home_province,
                scheme=claim.scheme,
                setting=claim.setting,
                date_of_service=claim.date_of_service,
            ),
            code="no_benefit_policy",
        )

    chronic = claim.setting == CareSetting.CHRONIC_OUTPATIENT
    found = matching_term(terms=facts.terms.get(policy.pk, []), diagnoses=diagnoses, cross_province=cross, chronic=chronic)
    term = found[0] if found else None
    not_listed = chronic and term is None
    factor = (policy.cross_province_ratio_registered if claim.registered else policy.cross_province_ratio_unregistered) if cross else ONE
    ratio_a, ratio_b = policy.ratio_category_a, policy.ratio_category_b
    deductible_fen, cap_fen = policy.deductible_fen, policy.annual_cap_fen
    if term is not None:
        if term.ratio is not None:
            ratio_a = ratio_b = term.ratio
        deductible_fen = term.deductible_fen if term.deductible_fen is not None else deductible_fen
        cap_fen = term.annual_cap_fen if term.annual_cap_fen is not None else cap_fen
    ratio_by_category = {"01": ratio_a * factor, "02": ratio_b * factor}
    deductible_left = max(deductible_fen - claim.deductible_used_fen, 0)
    cap_left = max(cap_fen - claim.fund_paid_ytd_fen, 0)

    # A plan depends on the code only when the catalog does not know it (its format decides the
    # refusal); otherwise on the scope alone, and codes of one signature share a scope object.
    plans: dict[str | int, _Plan] = {}
    # The money side of a plan depends on (category, item self-pay ratio) only: a handful per claim.
    money: dict[tuple[str, Decimal | None], tuple[Decimal, Decimal, int | None, int | None, str]] = {}

    def plan_of(code: str, scope: _Scope | None) -> _Plan:
        reason = _refusal(code=code, scope=scope, level=level, diagnoses=diagnoses, not_listed=not_listed)
        if reason is not None or scope is None:
            return _Plan(reason or NOT_IN_CATALOG, scope, ZERO, ZERO, None, None, "0", False)
        key = (scope.category, scope.self_pay_ratio)
        if key not in money:
            share = scope.self_pay_ratio if scope.self_pay_ratio is not None else policy.default_self_pay_ratio
            share = share if scope.category == "02" else ZERO
            ratio = ratio_by_category[scope.category]
            money[key] = (share, ratio, _scaled(share), _scaled(ratio), str(ratio.normalize()) if ratio else "0")
        return _Plan(None, scope, *money[key], scope.max_days is not None or scope.standard_fen is not None)

    results: list[LineResult] = []
    seen: set[int] = set()
    for line, code in zip(lines, codes, strict=True):
        number, amount = line.line_no, line.amount_fen
        scope = scopes.get(code)
        key = code if scope is None else id(scope)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = plan_of(code, scope)
        reason, scope, self_pay_ratio, ratio, self_pay_scaled, ratio_scaled, ratio_text, cuts = plan
        if reason is not None or number in seen:
            results.append(
                LineResult(
                    line_no=number,
                    code=code,
                    covered=False,
                    reason_code=DUPLICATE_LINE if number in seen else reason,  # type: ignore[arg-type]
                    category=scope.category if scope else None,
                    amount_fen=amount,
                    payable_fen=0,
                    patient_fen=amount,
                    item_source=scope.source if scope else None,
                    release=release_label,
                    suggested_code=scope.suggested_code if scope and reason == LOCAL_EXPIRED else None,
                )
            )
            seen.add(number)
            continue
        seen.add(number)
        if cuts:
            results.append(_cut_line(line, code, scope, plan, release_label, deductible_left, cap_left))  # type: ignore[arg-type]
            deductible_left -= results[-1].deductible_fen
            cap_left -= results[-1].payable_fen
            continue
        if amount >= 0 and self_pay_scaled is not None and ratio_scaled is not None:
            payable, _unused, self_pay, deductible, capped = _split(amount, self_pay_scaled, ratio_scaled, deductible_left, cap_left)
        else:
            payable, _unused, self_pay, deductible, capped = settle_line(
                amount_fen=amount,
                self_pay_ratio=self_pay_ratio,
                ratio=ratio,
                deductible_left_fen=deductible_left,
                cap_left_fen=cap_left,
            )
        deductible_left -= deductible
        cap_left -= payable
        # Positional, in LineResult's field order (a covered line fills every field): this line
        # runs once per claim line, and keyword passing measurably slowed a 1,000-line claim.
        results.append(
            LineResult(
                number,
                code,
                True,
                CAP_REACHED if capped else COVERED,
                scope.category,  # type: ignore[union-attr]
                amount,
                payable,
                amount - payable,
                self_pay,
                deductible,
                ratio_text,
                scope.source,  # type: ignore[union-attr]
                release_label,
            )
        )

    result = ClaimResult(
        release=release_label,
        home_province=claim.home_province,
        destination_province=claim.destination_province,
        cross_province=cross,
        hospital_level=level,
        policy=policy.summary,
        lines=results,
        warnings=warnings
        + _unknown_warnings(diagnoses, facts.known_diagnoses, "diagnosis")
        + procedure_warnings
        + _unknown_warnings(procedures, facts.known_procedures, "procedure"),
        drg_group=claim.drg_group,
        drg_payment=claim.drg_payment,
        disease=_disease_summary(found),
        pooling_area=area,
    )
    _apply_drg(result, claim=claim, drg=facts.drg if drg_wanted else None)
    return result


def _cut_line(line: ClaimLine, code: str, scope: _Scope, plan: _Plan, release: str, deductible_left: int, cap_left: int) -> LineResult:
    """A covered line of an item with a maximum days or a payment standard (step 0, then 1-5)."""
    amount = line.amount_fen
    eligible, over_days, over_standard = line_cuts(
        amount_fen=amount,
        quantity=line.quantity,
        days=line.days,
        max_days=scope.max_days,
        units_per_day=scope.units_per_day,
        standard_fen=scope.standard_fen,
    )
    split = settle_line(
        amount_fen=eligible,
        self_pay_ratio=plan.self_pay_ratio,
        ratio=plan.ratio,
        deductible_left_fen=deductible_left,
        cap_left_fen=cap_left,
    )
    if over_days:
        reason = RESTRICTED_MAX_DAYS
    elif over_standard:
        reason = OVER_STANDARD
    else:
        reason = CAP_REACHED if split.capped else COVERED
    return LineResult(
        line.line_no,
        code,
        True,
        reason,
        scope.category,
        amount,
        split.payable_fen,
        amount - split.payable_fen,
        split.self_pay_fen,
        split.deductible_fen,
        plan.ratio_text,
        scope.source,
        release,
        over_standard,
        over_days,
    )


def _refusal(*, code: str, scope: _Scope | None, level: str, diagnoses: list[str], not_listed: bool) -> str | None:
    """Why every line of ``code`` is refused (None: covered)."""
    if scope is None:
        try:
            catalog_code_kind(code)
        except CodeError:
            return CODE_FORMAT
        return NOT_IN_CATALOG
    if scope.reason != COVERED:
        return scope.reason
    if scope.category == "03":
        return CATEGORY_C
    if not_listed:
        return DISEASE_NOT_LISTED
    if not level_meets(hospital_level=level, required=scope.restriction_level):
        return RESTRICTED_LEVEL
    if scope.indication is not None and not any(icd10_matches(diagnosis, scope.indication) for diagnosis in diagnoses):
        return RESTRICTED_INDICATION
    return None


def _disease_summary(found: tuple[DiseaseTerm, str] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    term, diagnosis = found
    return {
        "code": term.code,
        "name": term.name,
        "kind": term.kind,
        "diagnosis": diagnosis,
        "ratio": str(term.ratio) if term.ratio is not None else None,
        "deductible_fen": term.deductible_fen,
        "annual_cap_fen": term.annual_cap_fen,
    }


def _apply_drg(result: ClaimResult, *, claim: Claim, drg: tuple[str | None, Decimal | None, dt.date, str, int, str] | None) -> None:
    """The DRG block of an out-of-town inpatient claim in an area that pays them by DRG."""
    if drg is not None and drg[2] <= claim.date_of_service:
        group, weight, _starts, table, base_rate, name = drg
        if group is None or weight is None:
            result.warnings.append(
                {
                    "code": "drg_group_unknown",
                    "diagnosis": "",
                    "message": f"DRG group {claim.drg_group} is not in DRG table {table}; lines are decided item by item",
                }
            )
            return
        hospital_payment = apply_ratio(base_rate, weight)
        result.drg = {
            "group": group,
            "name": name,
            "weight": str(weight),
            "base_rate_fen": base_rate,
            "hospital_payment_fen": hospital_payment,
            "fund_payment_fen": max(hospital_payment - result.totals["patient_fen"], 0),
            "table": table,
            "area": result.pooling_area,
        }
        return
    if claim.drg_payment:
        result.warnings.append(
            {
                "code": "drg_payment_not_adjudicated",
                "diagnosis": "",
                "message": f"DRG group {claim.drg_group or '?'}: area {result.pooling_area or '?'} does not pay this claim by DRG "
                f"on {claim.date_of_service}; lines are decided item by item",
            }
        )


def _unknown_warnings(codes: list[str], known: set[str], subject: str) -> list[dict[str, str]]:
    reference = "ICD-10 NHSA national edition" if subject == "diagnosis" else "ICD-9-CM-3 NHSA edition"
    return [_warning("unknown", code, f"not in the {reference} reference", subject) for code in dict.fromkeys(codes) if code not in known]


def _diagnosis_warnings(diagnoses: tuple[str, ...]) -> list[dict[str, str]]:
    """Line-independent warnings: ``diagnosis_code_format`` or ``diagnosis_unknown`` (one query;
    the pre-check itself reads the reference inside its one statement)."""
    valid, warnings = _checked(diagnoses, validate_icd10, "diagnosis")
    unknown = unknown_diagnoses(codes=valid)
    return warnings + _unknown_warnings(valid, set(valid) - unknown, "diagnosis")
