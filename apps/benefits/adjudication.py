"""Cross-province adjudication: "destination catalog, home-province benefits".

Whether a line is payable follows the national catalog release in force on the date of
service plus the destination province's transitional local items (before their sunset);
deductible, ratios, annual cap and the cross-province ratio follow the HOME province's policy
in force on that date.

Arithmetic, per line in ``line_no`` order, all in integer fen:

1. 甲 (01): self-pay share 0. 乙 (02): self-pay share = amount × (the item's self_pay_ratio, else
   the home policy's default_self_pay_ratio), rounded half-up. 丙 (03): not covered.
2. eligible = amount − self-pay share; the remaining deductible is taken from it first.
3. payable = (eligible − deductible taken) × ratio, rounded half-up to a whole fen, where
   ratio = category ratio × cross-province ratio (registered or not) when home ≠ destination.
   The product is formed exactly (Decimal) and rounded once.
4. payable is cut to what is left of the annual cap.
5. patient = amount − payable: every remainder of rounding goes to the patient, so
   payable + patient = amount on every line.

The whole claim costs a constant number of queries (one statement for the
release in force, the items and local items of every code and the home policy; one for the
diagnoses when the claim names any), whatever the number of lines.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F

from apps.catalog.selectors import published_releases
from apps.core.codes import CodeError, catalog_code_kind, normalise_code, validate_icd10
from apps.core.errors import ValidationFailed
from apps.core.money import apply_ratio

from . import sql
from .models import BenefitPolicy, Province
from .selectors import level_meets, policy_in_force_queryset, unknown_diagnoses

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
CODE_FORMAT = "code_format"
DUPLICATE_LINE = "duplicate_line_no"
REASON_CODES = (COVERED, CAP_REACHED, NOT_IN_CATALOG, CATEGORY_C, LOCAL_EXPIRED, LOCAL_NOT_YET, RESTRICTED_LEVEL, CODE_FORMAT)


@dataclass(frozen=True)
class ClaimLine:
    line_no: int
    code: str
    amount_fen: int
    quantity: Decimal = ONE


@dataclass(frozen=True)
class Claim:
    home_province: str
    destination_province: str
    date_of_service: dt.date
    scheme: str
    setting: str
    lines: tuple[ClaimLine, ...]
    hospital_code: str = ""
    hospital_level: str = "unrated"
    registered: bool = False
    diagnoses: tuple[str, ...] = ()
    deductible_used_fen: int = 0
    fund_paid_ytd_fen: int = 0
    # Kept so DRG payment (per group rather than per line) can be added without a redesign.
    drg_group: str = ""
    drg_payment: bool = False


class _Scope(NamedTuple):
    """What the catalog side says about one code."""

    category: str
    self_pay_ratio: Decimal | None
    restriction_level: str
    source: str  # national | local
    reason: str = COVERED


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


_LINE_FIELDS = tuple(f.name for f in fields(LineResult))
_LINE_NO = attrgetter("line_no")


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
            "policy": self.policy,
            "drg_group": self.drg_group,
            "drg_payment": self.drg_payment,
            "totals": self.totals,
            "warnings": self.warnings,
            "lines": [{name: getattr(line, name) for name in _LINE_FIELDS} for line in self.lines],
        }


CODE_SEPARATOR = "\x1f"  # chr(31) in sql.SCOPE_SQL


def _scope(
    *, codes: list[str], destination: str, on_date: dt.date, policy_key: dict[str, Any]
) -> tuple[str | None, dict[str, _Scope], BenefitPolicy | None]:
    """(label of the release in force on ``on_date``, {code: scope} for every code of the claim,
    the home policy in force (selectors.policy_in_force with ``policy_key``)).

    This is ONE statement: the release in force (the catalog's own queryset,
    compiled as a sub-query), its items for the codes, the destination's local items for them
    and the home policy (the benefits queryset, as one JSON value). National items win over a
    local item with the same code.
    """
    statement, template = _scope_statement(bool(policy_key["hospital_level"]))
    # A code holding the separator is malformed anyway: it is left out and refused as code_format.
    joined = CODE_SEPARATOR.join(code for code in codes if CODE_SEPARATOR not in code)
    values = {_ON_DATE: on_date, _CODES: joined, _DESTINATION: destination, **{_SENTINELS[k]: v for k, v in policy_key.items()}}
    with connection.cursor() as cursor:
        cursor.execute(statement, [values.get(p, p) if isinstance(p, _Sentinel) else p for p in template])
        rows = cursor.fetchall()
    label: str | None = None
    policy: BenefitPolicy | None = None
    national: dict[str, _Scope] = {}
    local: dict[str, _Scope] = {}
    by_signature: dict[str, _Scope] = {}
    for source, code, category, ratio, level, starts, sunset, text in rows:
        if source == "national":
            scope = by_signature.get(text)
            if scope is None:
                scope = by_signature[text] = _national_scope_from_signature(text)
            national[code] = scope
        elif source == "local":
            local[code] = _Scope(category, ratio, level or "", "local", _local_reason(on_date=on_date, starts=starts, sunset=sunset))
        elif source == "release":
            label = text
        elif text is not None:
            policy = _policy_from_json(text)
    return label, {**local, **national}, policy


def _national_scope_from_signature(signature: str) -> _Scope:
    category, ratio, level = signature.split("|")
    return _Scope(category, Decimal(ratio) if ratio else None, level, "national")


_POLICY_FIELDS = list(BenefitPolicy._meta.concrete_fields)
_POLICY_COLUMNS = [f.attname for f in _POLICY_FIELDS]


def _policy_from_json(text: str) -> BenefitPolicy:
    """The policy row the scope statement returned as JSON (decimals kept exact)."""
    data = json.loads(text, parse_float=Decimal)
    policy = BenefitPolicy.from_db(
        connection.alias, _POLICY_COLUMNS, [None if data[f.column] is None else f.to_python(data[f.column]) for f in _POLICY_FIELDS]
    )
    policy.province = Province(pk=policy.province_id, code=data["province_code_"])
    return policy


class _Sentinel(str):
    """A stand-in parameter: the scope statement is compiled once from the ORM querysets with
    these, then each claim's values take their places (compiling cost more than the query)."""


_ON_DATE, _CODES, _DESTINATION = _Sentinel("on_date"), _Sentinel("codes"), _Sentinel("destination")
_SENTINELS = {name: _Sentinel(name) for name in ("province_code", "scheme", "setting", "hospital_level")}


@lru_cache(maxsize=2)
def _scope_statement(with_level: bool) -> tuple[str, list[Any]]:
    """(SQL, parameters with sentinels) of the scope statement."""
    # The same rule as catalog.selectors.release_in_force, as a sub-query of the scope statement.
    sentinel_date = dt.date(1, 1, 1)
    in_force = published_releases().filter(effective_from__lte=sentinel_date).order_by("-effective_from").values("id", "label")[:1]
    release_sql, release_params = in_force.query.sql_with_params()
    key = {**_SENTINELS, "hospital_level": _SENTINELS["hospital_level"] if with_level else ""}
    policies = policy_in_force_queryset(on_date=sentinel_date, **key).annotate(province_code_=F("province__code"))
    policy_sql, policy_params = policies.values(*_POLICY_COLUMNS, "province_code_")[:1].query.sql_with_params()
    params = [_ON_DATE if p == sentinel_date else p for p in (*release_params, _CODES, _DESTINATION, *policy_params)]
    return sql.SCOPE_SQL.format(release_sql=release_sql, policy_sql=policy_sql), params


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


def adjudicate(claim: Claim) -> ClaimResult:
    """Decide every line of ``claim``; see the module docstring for the rule and the rounding.

    Raises ValidationFailed ``no_release_in_force`` when no published release covers the date
    and ``no_benefit_policy`` when the home province has no approved policy for it.
    """
    lines = sorted(claim.lines, key=_LINE_NO)
    codes = [_norm(line.code) for line in lines]
    policy_key = {
        "province_code": claim.home_province,
        "scheme": claim.scheme,
        "setting": claim.setting,
        "hospital_level": claim.hospital_level,
    }
    release_label, scopes, policy = _scope(
        codes=sorted(set(codes)), destination=claim.destination_province, on_date=claim.date_of_service, policy_key=policy_key
    )
    if release_label is None:
        raise ValidationFailed(f"no catalog release is in force on {claim.date_of_service}", code="no_release_in_force")
    if policy is None:
        raise ValidationFailed(
            f"province {claim.home_province} has no approved {claim.scheme}/{claim.setting} policy in force on {claim.date_of_service}",
            code="no_benefit_policy",
        )

    cross = claim.home_province != claim.destination_province
    factor = (policy.cross_province_ratio_registered if claim.registered else policy.cross_province_ratio_unregistered) if cross else ONE
    ratio_by_category = {"01": policy.ratio_category_a * factor, "02": policy.ratio_category_b * factor}
    deductible_left = max(policy.deductible_fen - claim.deductible_used_fen, 0)
    cap_left = max(policy.annual_cap_fen - claim.fund_paid_ytd_fen, 0)

    # A plan depends on the code only when the catalog does not know it (its format decides the
    # refusal); otherwise on the scope alone, and codes of one signature share a scope object.
    plans: dict[str | int, _Plan] = {}
    # The money side of a plan depends on (category, item self-pay ratio) only: a handful per claim.
    money: dict[tuple[str, Decimal | None], tuple[Decimal, Decimal, int | None, int | None, str]] = {}

    def plan_of(code: str, scope: _Scope | None) -> _Plan:
        reason = _refusal(code=code, scope=scope, claim=claim)
        if reason is not None or scope is None:
            return _Plan(reason or NOT_IN_CATALOG, scope, ZERO, ZERO, None, None, "0")
        key = (scope.category, scope.self_pay_ratio)
        if key not in money:
            share = scope.self_pay_ratio if scope.self_pay_ratio is not None else policy.default_self_pay_ratio
            share = share if scope.category == "02" else ZERO
            ratio = ratio_by_category[scope.category]
            money[key] = (share, ratio, _scaled(share), _scaled(ratio), str(ratio.normalize()) if ratio else "0")
        return _Plan(None, scope, *money[key])

    results: list[LineResult] = []
    seen: set[int] = set()
    for line, code in zip(lines, codes, strict=True):
        number, amount = line.line_no, line.amount_fen
        scope = scopes.get(code)
        key = code if scope is None else id(scope)
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = plan_of(code, scope)
        reason, scope, self_pay_ratio, ratio, self_pay_scaled, ratio_scaled, ratio_text = plan
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
                )
            )
            seen.add(number)
            continue
        seen.add(number)
        if amount >= 0 and self_pay_scaled is not None and ratio_scaled is not None:
            payable, _, self_pay, deductible, capped = _split(amount, self_pay_scaled, ratio_scaled, deductible_left, cap_left)
        else:
            payable, _, self_pay, deductible, capped = settle_line(
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

    return ClaimResult(
        release=release_label,
        home_province=claim.home_province,
        destination_province=claim.destination_province,
        cross_province=cross,
        hospital_level=claim.hospital_level,
        policy=policy_summary(policy),
        lines=results,
        warnings=_diagnosis_warnings(claim.diagnoses) + _drg_warnings(claim),
        drg_group=claim.drg_group,
        drg_payment=claim.drg_payment,
    )


def _refusal(*, code: str, scope: _Scope | None, claim: Claim) -> str | None:
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
    if not level_meets(hospital_level=claim.hospital_level, required=scope.restriction_level):
        return RESTRICTED_LEVEL
    return None


def _diagnosis_warnings(diagnoses: tuple[str, ...]) -> list[dict[str, str]]:
    """Line-independent warnings: ``diagnosis_code_format`` or ``diagnosis_unknown``."""
    warnings: list[dict[str, str]] = []
    valid: list[str] = []
    for raw in diagnoses:
        try:
            valid.append(validate_icd10(raw))
        except CodeError as exc:
            warnings.append({"code": "diagnosis_code_format", "diagnosis": exc.code, "message": exc.reason})
    unknown = unknown_diagnoses(codes=valid)
    warnings.extend(
        {"code": "diagnosis_unknown", "diagnosis": code, "message": "not in the ICD-10 NHSA national edition reference"}
        for code in valid
        if code in unknown
    )
    return warnings


def _drg_warnings(claim: Claim) -> list[dict[str, str]]:
    if not claim.drg_payment:
        return []
    return [
        {
            "code": "drg_payment_not_adjudicated",
            "diagnosis": "",
            "message": f"DRG group {claim.drg_group or '?'}: lines are pre-checked item by item; DRG payment is settled separately",
        }
    ]
