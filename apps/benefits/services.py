"""Every write on provincial benefits. One transaction each.

Rules: province staff keep the policies and local items of their own province (403
wrong_province otherwise); a policy goes draft → submitted → approved: whoever drafted it,
edited the draft or submitted it is recorded as a participant in that step's transaction and
never approves (or sends back) it: another province_staff of that province does (409
same_user_cannot_approve, before the role check; also a trigger in the database); an approved
policy is in force over its date range and never changes, except that approving its successor
closes its open end; approved policies of one key never overlap (409 policy_overlap, also a
PostgreSQL exclusion constraint). Local items always carry a sunset.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.catalog.models import HospitalLevel
from apps.core.audit import audit_record, history_save
from apps.core.bulk import BulkFileRejected, CheckedStream, collect_errors, staging_copy_csv, staging_create
from apps.core.codes import ICD10_CODE, ICD10_HELP, CodeError, normalise_code, normalise_text, validate_catalog_code
from apps.core.errors import Conflict, ValidationFailed, require_reason
from apps.core.models import AuditAction
from apps.core.permissions import require_province, require_role
from apps.core.roles import Role

from . import sql
from .models import BenefitPolicy, CareSetting, DiagnosisCode, LocalItem, PolicyParticipant, Province, Scheme
from .selectors import overlapping_approved

POLICY_EDITORS = (Role.PROVINCE_STAFF,)
POLICY_FIELDS = (
    "scheme",
    "setting",
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
    "note",
)


def _field_error(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[{"field": field, "code": code, "message": message}])


def check_policy_values(values: dict[str, Any]) -> None:
    if values["scheme"] not in Scheme.values:
        raise _field_error("scheme", f"one of {', '.join(Scheme.values)}")
    if values["setting"] not in CareSetting.values:
        raise _field_error("setting", f"one of {', '.join(CareSetting.values)}")
    if values.get("hospital_level") and values["hospital_level"] not in HospitalLevel.values:
        raise _field_error("hospital_level", f"blank or one of {', '.join(HospitalLevel.values)}")
    if values.get("effective_to") is not None and values["effective_to"] <= values["effective_from"]:
        raise _field_error("effective_to", "must be after effective_from (exclusive end)")
    for name in ("deductible_fen", "annual_cap_fen"):
        if isinstance(values[name], bool) or not isinstance(values[name], int) or values[name] < 0:
            raise _field_error(name, "a non-negative whole number of fen")
    for name in POLICY_FIELDS:
        if name.startswith(("ratio_", "default_self_pay", "cross_province_ratio")):
            ratio = Decimal(str(values[name]))
            if not (0 <= ratio <= 1) or ratio.as_tuple().exponent < -4:  # type: ignore[operator]
                raise _field_error(name, "a ratio between 0 and 1 with at most 4 decimals")
            values[name] = ratio


def _policy_detail(policy: BenefitPolicy) -> dict[str, Any]:
    return {
        "scheme": policy.scheme,
        "setting": policy.setting,
        "hospital_level": policy.hospital_level,
        "effective_from": policy.effective_from.isoformat(),
        "effective_to": policy.effective_to.isoformat() if policy.effective_to else None,
    }


def _took_part(policy: BenefitPolicy, user: Any, part: str) -> None:
    """Record that ``user`` took ``part`` in ``policy`` (once per part, in the step's transaction)."""
    if getattr(user, "pk", None) is None:
        return
    PolicyParticipant.objects.bulk_create([PolicyParticipant(policy=policy, user=user, role=part)], ignore_conflicts=True)


def _refuse_participant(policy: BenefitPolicy, user: Any, *, verb: str) -> None:
    uid = getattr(user, "pk", None)
    if uid is None:
        return
    if uid in (policy.created_by_id, policy.submitted_by_id) or PolicyParticipant.objects.filter(policy=policy, user_id=uid).exists():
        raise Conflict(f"you drafted, edited or submitted policy {policy.pk}: another person {verb} it", code="same_user_cannot_approve")


@transaction.atomic
def policy_create_draft(*, user: Any, province: Province, **fields: Any) -> BenefitPolicy:
    """Draft a policy for ``province``. Raises Forbidden (role / wrong_province), ValidationFailed."""
    require_role(user, *POLICY_EDITORS)
    require_province(user, province.code)
    values = {
        "hospital_level": "",
        "effective_to": None,
        "default_self_pay_ratio": Decimal(0),
        "cross_province_ratio_registered": Decimal(1),
        "cross_province_ratio_unregistered": Decimal(1),
        "note": "",
        **fields,
    }
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise _field_error(sorted(unknown)[0], "unknown field")
    check_policy_values(values)
    policy = BenefitPolicy(province=province, created_by=user, **values)
    history_save(policy, user=user, reason="drafted")
    _took_part(policy, user, PolicyParticipant.Part.DRAFTED)
    audit_record(action=AuditAction.POLICY_DRAFTED, actor=user, obj=policy, detail=_policy_detail(policy))
    return policy


def _lock(policy: BenefitPolicy) -> BenefitPolicy:
    BenefitPolicy.objects.select_for_update().filter(pk=policy.pk).values_list("pk").get()
    policy.refresh_from_db()
    return policy


def _ensure_draft(policy: BenefitPolicy) -> None:
    if policy.status != BenefitPolicy.Status.DRAFT:
        raise Conflict(f"policy {policy.pk} is {policy.status}; only drafts can be changed", code="policy_not_draft")


@transaction.atomic
def policy_update_draft(*, policy: BenefitPolicy, user: Any, reason: str = "", **fields: Any) -> BenefitPolicy:
    """Change a draft. Raises 409 policy_not_draft, Forbidden, ValidationFailed."""
    require_role(user, *POLICY_EDITORS)
    policy = _lock(policy)
    require_province(user, policy.province.code)
    _ensure_draft(policy)
    values = {name: getattr(policy, name) for name in POLICY_FIELDS}
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise _field_error(sorted(unknown)[0], "unknown field")
    values.update(fields)
    check_policy_values(values)
    for name, value in values.items():
        setattr(policy, name, value)
    history_save(policy, user=user, reason=reason or "draft edited")
    _took_part(policy, user, PolicyParticipant.Part.EDITED)
    audit_record(action=AuditAction.POLICY_CHANGED, actor=user, obj=policy, reason=reason, detail=_policy_detail(policy))
    return policy


@transaction.atomic
def policy_submit(*, policy: BenefitPolicy, user: Any) -> BenefitPolicy:
    """Draft → submitted, by province_staff of the policy's province (who then takes part in it).
    Raises Forbidden (role / wrong_province), 409 policy_not_draft."""
    require_role(user, *POLICY_EDITORS)
    policy = _lock(policy)
    require_province(user, policy.province.code)
    _ensure_draft(policy)
    _took_part(policy, user, PolicyParticipant.Part.SUBMITTED)
    policy.status = BenefitPolicy.Status.SUBMITTED
    policy.submitted_by = user
    policy.submitted_at = timezone.now()
    history_save(policy, user=user, reason="submitted")
    audit_record(action=AuditAction.POLICY_SUBMITTED, actor=user, obj=policy, detail=_policy_detail(policy))
    return policy


def _ensure_submitted(policy: BenefitPolicy) -> None:
    if policy.status != BenefitPolicy.Status.SUBMITTED:
        raise Conflict(f"policy {policy.pk} is {policy.status}; only submitted policies are reviewed", code="policy_not_submitted")


@transaction.atomic
def policy_reject(*, policy: BenefitPolicy, user: Any, reason: str) -> BenefitPolicy:
    """Submitted → back to draft with a reason, by a province_staff of the province who took no
    part in it (409 same_user_cannot_approve before the role check, as for approval)."""
    policy = _lock(policy)
    _refuse_participant(policy, user, verb="reviews")
    require_role(user, *POLICY_EDITORS)
    require_province(user, policy.province.code)
    require_reason(reason, detail="sending a policy back needs a reason")
    _ensure_submitted(policy)
    policy.status = BenefitPolicy.Status.DRAFT
    history_save(policy, user=user, reason=reason)
    audit_record(action=AuditAction.POLICY_REJECTED, actor=user, obj=policy, reason=reason, detail=_policy_detail(policy))
    return policy


@transaction.atomic
def policy_approve(*, policy: BenefitPolicy, user: Any) -> BenefitPolicy:
    """Approve a submitted policy: it is in force over its range from then on.

    Refusals, in this order: the approver drafted, edited or submitted it → 409
    same_user_cannot_approve (before any role check; the database refuses it too); not
    province_staff → 403 permission_denied; of another province → 403 wrong_province; not
    submitted → 409 policy_not_submitted. An approved policy of the same key that starts
    earlier and is open-ended is closed at this one's effective_from; any other overlap is
    refused (409 policy_overlap).
    """
    policy = _lock(policy)
    _refuse_participant(policy, user, verb="approves")
    require_role(user, *POLICY_EDITORS)
    require_province(user, policy.province.code)
    _ensure_submitted(policy)
    for other in overlapping_approved(policy=policy).select_for_update():
        if other.effective_from < policy.effective_from and other.effective_to is None:
            other.effective_to = policy.effective_from
            history_save(
                other, user=user, reason=f"superseded by policy {policy.pk} from {policy.effective_from}", update_fields=["effective_to"]
            )
            continue
        raise Conflict(
            f"policy {other.pk} ({other.effective_from}–{other.effective_to or 'open'}) is approved for the same "
            f"province, scheme, setting and hospital level and overlaps {policy.effective_from}–{policy.effective_to or 'open'}",
            code="policy_overlap",
        )
    policy.status = BenefitPolicy.Status.APPROVED
    policy.approved_by = user
    policy.approved_at = timezone.now()
    try:
        with transaction.atomic():
            history_save(policy, user=user, reason="approved")
    except IntegrityError as exc:
        if "took part" in str(exc):  # the two-person trigger, should a participant appear past the lock
            raise Conflict("a person who took part in a policy cannot approve it", code="same_user_cannot_approve") from exc
        # a concurrent approval won the race; the exclusion constraint says so
        raise Conflict(f"policy {policy.pk} overlaps an approved policy", code="policy_overlap") from exc
    audit_record(action=AuditAction.POLICY_APPROVED, actor=user, obj=policy, detail=_policy_detail(policy))
    return policy


LOCAL_ITEM_FIELDS = (
    "name",
    "category",
    "self_pay_ratio",
    "restriction_hospital_level",
    "effective_from",
    "sunset_date",
    "national_code",
    "note",
)


@transaction.atomic
def local_item_save(*, user: Any, province: Province, code: str, reason: str = "", **fields: Any) -> LocalItem:
    """Create or replace a province's transitional local item (by code).

    ``sunset_date`` is mandatory and after ``effective_from``; ``national_code``, when given,
    must be a valid national code. Raises Forbidden, ValidationFailed.
    """
    require_role(user, *POLICY_EDITORS)
    require_province(user, province.code)
    code = normalise_code(code)
    if not code or len(code) > 32 or not code.isascii():
        raise _field_error("code", "1–32 ASCII characters")
    unknown = set(fields) - set(LOCAL_ITEM_FIELDS)
    if unknown:
        raise _field_error(sorted(unknown)[0], "unknown field")
    if fields.get("sunset_date") is None:
        raise _field_error("sunset_date", "every local item needs a sunset date", code="required")
    if fields.get("effective_from") is None:
        raise _field_error("effective_from", "required", code="required")
    if fields["sunset_date"] <= fields["effective_from"]:
        raise _field_error("sunset_date", "must be after effective_from")
    if fields.get("category", "02") not in ("01", "02"):
        raise _field_error("category", "a local item is 甲 (01) or 乙 (02)")
    if fields.get("restriction_hospital_level") and fields["restriction_hospital_level"] not in HospitalLevel.values:
        raise _field_error("restriction_hospital_level", f"blank or one of {', '.join(HospitalLevel.values)}")
    if fields.get("national_code"):
        try:
            fields["national_code"] = validate_catalog_code(fields["national_code"])
        except CodeError as exc:
            raise _field_error("national_code", exc.reason, code="code_format") from exc
    if fields.get("name"):
        fields["name"] = normalise_text(fields["name"])
    item = LocalItem.objects.filter(province=province, code=code).first() or LocalItem(province=province, code=code)
    for name, value in fields.items():
        setattr(item, name, value)
    created = item.pk is None
    history_save(item, user=user, reason=reason or ("created" if created else "edited"))
    audit_record(
        action=AuditAction.LOCAL_ITEM_SAVED,
        actor=user,
        obj=item,
        reason=reason,
        detail={"code": item.code, "created": created, "sunset_date": item.sunset_date.isoformat()},
    )
    return item


# --- ICD-10 reference --------------------------------------------------------------------


@dataclass
class ReferenceImportResult:
    rows: int
    created: int
    updated: int


@transaction.atomic
def icd10_import(*, stream: IO[bytes]) -> ReferenceImportResult:
    """Load (upsert by code) the ICD-10 NHSA national edition (no header, 11 columns); all-or-nothing.

    The file goes through the bulk loader of apps.core.bulk: encoding detected (UTF-8, with or
    without BOM, or GB18030), COPYed into a staging table, checked set-based and merged with one
    upsert. Raises BulkFileRejected (a ValidationFailed) listing every bad row: ``encoding``,
    ``malformed_row`` (not 11 columns), ``code_format``, ``missing_field`` (empty name),
    ``duplicate_code`` (on the later line), ``too_long``.
    """
    checked = CheckedStream(stream)
    staging = staging_create(table="icd10_staging", columns=list(sql.ICD10_COLUMNS))
    staging.header_lines = 0
    staging_copy_csv(staging=staging, stream=checked, body=checked.chunks())
    columns = {name: str(staging.col(name)) for name in sql.ICD10_COLUMNS}
    lengths = {f.name: int(f.max_length) for f in DiagnosisCode._meta.concrete_fields if f.name in columns and f.max_length}
    errors, error_count = collect_errors(
        sql.icd10_checks(
            table=staging.table,
            line=staging.line_sql,
            columns=columns,
            code_pattern=ICD10_CODE.pattern,
            code_help=ICD10_HELP,
            max_lengths=lengths,
        )
    )
    if error_count:
        raise BulkFileRejected(f"{error_count} bad rows; nothing was imported", errors=errors, error_count=error_count)
    before = DiagnosisCode.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(sql.icd10_upsert(table=staging.table, columns=columns))
    created = DiagnosisCode.objects.count() - before
    return ReferenceImportResult(rows=staging.rows, created=created, updated=staging.rows - created)
