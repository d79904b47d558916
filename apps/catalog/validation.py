"""Rules for one catalog item, shared by hand edits, the API and the importers."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from apps.core.codes import (
    KIND_CONSUMABLE,
    KIND_DRUG,
    CodeError,
    catalog_code_kind,
    consumable_category_path,
    is_former_drug_code,
    normalise_code,
    normalise_text,
)

from .models import ITEM_TEXT_FIELDS, CatalogItem, HospitalLevel, PaymentCategory

REQUIRED_FIELDS = ("code", "name", "category")
MAX_DAYS_LIMIT = 2**31 - 1  # the column's (PositiveIntegerField) largest value
_TEXT_FIELDS = ITEM_TEXT_FIELDS
_MAX_LENGTHS = {
    f.name: getattr(f, "max_length", None)
    for f in CatalogItem._meta.get_fields()
    if getattr(f, "max_length", None) and f.name in _TEXT_FIELDS
}


def derived_category_path(code: str, kind: str) -> str:
    if kind == KIND_CONSUMABLE:
        return consumable_category_path(code)
    if kind == KIND_DRUG:
        return code[:6]
    return ""


def clean_item(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Normalise one item's fields; returns (clean values, errors as {field, code, message}).

    ``kind`` is derived from the code (a given kind must agree); ``category_path`` likewise.
    """
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}

    def fail(field: str, code: str, message: str) -> None:
        errors.append({"field": field, "code": code, "message": message})

    for field in REQUIRED_FIELDS:
        value = data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            fail(field, "missing_field", f"{field} is required")
    raw_code = data.get("code") or ""
    code = normalise_code(str(raw_code))
    clean["code"] = code
    if code:
        try:
            kind = catalog_code_kind(code)
            given_kind = data.get("kind")
            if given_kind and given_kind != kind:
                fail("kind", "code_format", f"code {code} is a {kind} code, not {given_kind}")
            clean["kind"] = kind
            clean["category_path"] = derived_category_path(code, kind)
        except CodeError as exc:
            fail("code", "code_format", exc.reason)

    for field in _TEXT_FIELDS:
        value = data.get(field)
        text = normalise_text(str(value)) if value is not None else ""
        limit = _MAX_LENGTHS.get(field)
        if limit and len(text) > limit:
            fail(field, "too_long", f"{field} is longer than {limit} characters")
        clean[field] = text

    category = str(data.get("category") or "").strip()
    if category and category not in PaymentCategory.values:
        fail("category", "unknown_category", f"payment category must be 01 (甲), 02 (乙) or 03 (丙), not {category!r}")
    clean["category"] = category

    level = str(data.get("restriction_hospital_level") or "").strip()
    if level and level not in HospitalLevel.values:
        fail("restriction_hospital_level", "invalid", f"hospital level must be one of {', '.join(HospitalLevel.values)}")
    clean["restriction_hospital_level"] = level

    clean["restriction_max_days"] = _optional_int(
        data.get("restriction_max_days"), "restriction_max_days", fail, minimum=1, maximum=MAX_DAYS_LIMIT
    )
    clean["payment_standard_fen"] = _optional_int(data.get("payment_standard_fen"), "payment_standard_fen", fail, minimum=0)
    clean["self_pay_ratio"] = _optional_ratio(data.get("self_pay_ratio"), fail)
    clean["replaces"] = _replaces(data.get("replaces"), code, fail)
    return clean, errors


def _optional_int(value: Any, field: str, fail: Any, *, minimum: int, maximum: int = 2**63 - 1) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, (bool, float)):
        fail(field, "invalid", f"{field} must be a whole number")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        fail(field, "invalid", f"{field} must be a whole number, not {value!r}")
        return None
    if number < minimum or number > maximum:
        fail(field, "invalid", f"{field} must be between {minimum} and {maximum}")
        return None
    return number


def _optional_ratio(value: Any, fail: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        ratio = Decimal(str(value).strip())
    except InvalidOperation:
        fail("self_pay_ratio", "invalid", f"self_pay_ratio must be a decimal between 0 and 1, not {value!r}")
        return None
    if not ratio.is_finite() or ratio < 0 or ratio > 1 or ratio != ratio.quantize(Decimal("0.0001")):
        fail("self_pay_ratio", "invalid", "self_pay_ratio must be between 0 and 1 with at most 4 decimals")
        return None
    return ratio.quantize(Decimal("0.0001"))


def _replaces(value: Any, own_code: str, fail: Any) -> list[str]:
    if value in (None, ""):
        return []
    raw = value.split(";") if isinstance(value, str) else value
    if not isinstance(raw, list):
        fail("replaces", "invalid", "replaces is a list of codes")
        return []
    codes: list[str] = []
    for entry in raw:
        code = normalise_code(str(entry))
        if not code:
            continue
        if code == own_code:
            fail("replaces", "unknown_successor", f"{code} cannot replace itself")
            continue
        try:
            catalog_code_kind(code)
        except CodeError as exc:
            if not is_former_drug_code(code):
                fail("replaces", "code_format", f"replaced code {code}: {exc.reason}")
                continue
        codes.append(code)
    return sorted(set(codes))
