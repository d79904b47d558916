"""Every write on provincial benefits. One transaction each.

Rules: province staff keep the policies and local items of their own province (403
wrong_province otherwise); a policy goes draft → submitted → approved: whoever drafted it,
edited the draft or submitted it is recorded as a participant in that step's transaction and
never approves (or sends back) it: another province_staff of that province does (409
same_user_cannot_approve, before the role check; also a trigger in the database); an approved
policy is in force over its date range and never changes, except that approving its successor
closes its open end; approved policies of one key never overlap (409 policy_overlap, also a
PostgreSQL exclusion constraint). Local items always carry a sunset.

The pre-check's rules (issue 20) keep two people on every yuan as well: a policy's disease terms
are written by its author and approved with it; daily doses are proposed by a catalog
administrator and approved by a reviewer who did not propose them; DRG tables go draft → in
review → approved → published, approved by a reviewer who took no part (each also guarded in
PostgreSQL, migration 0008). Province staff keep their province's own diseases and price
schedules (informational for the simulation: the pre-check decides on billed amounts).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import LABEL_VALIDATOR, HospitalLevel
from apps.core.audit import audit_record, history_delete, history_save
from apps.core.bulk import (
    BulkFileRejected,
    CheckedStream,
    collect_errors,
    detect_encoding,
    encoding_error,
    header_errors,
    row_error,
    staging_copy_csv,
    staging_create,
)
from apps.core.codes import (
    ICD9_PROCEDURE_CODE,
    ICD9_PROCEDURE_HELP,
    ICD10_CODE,
    ICD10_HELP,
    SERVICE_CODE,
    CodeError,
    normalise_code,
    normalise_text,
    parse_icd10_prefixes,
    validate_catalog_code,
    validate_region_code,
)
from apps.core.errors import Conflict, Forbidden, ValidationFailed, english, require_reason
from apps.core.history import history_bulk_record
from apps.core.mail import awaiting_approval_notify, mail_language, portal_url
from apps.core.models import AuditAction
from apps.core.permissions import CATALOG_EDITORS, require_province, require_role
from apps.core.roles import Role

from . import sql
from .models import (
    BenefitPolicy,
    CareSetting,
    DailyDose,
    DiagnosisCode,
    Disease,
    DrgAreaRate,
    DrgGroup,
    DrgVersion,
    LocalItem,
    PolicyDiseaseTerm,
    PolicyParticipant,
    ProcedureCode,
    Province,
    Scheme,
    ServicePrice,
)
from .selectors import diseases_listable, overlapping_approved

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


def _field_error(field: str, message: Any, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(
        format_lazy("{field}: {message}", field=field, message=message),
        errors=[{"field": field, "code": code, "message": english(message)}],
    )


def check_policy_values(values: dict[str, Any]) -> None:
    if values["scheme"] not in Scheme.values:
        raise _field_error("scheme", format_lazy(_("one of {choices}"), choices=", ".join(Scheme.values)))
    if values["setting"] not in CareSetting.values:
        raise _field_error("setting", format_lazy(_("one of {choices}"), choices=", ".join(CareSetting.values)))
    if values.get("hospital_level") and values["hospital_level"] not in HospitalLevel.values:
        raise _field_error("hospital_level", format_lazy(_("blank or one of {choices}"), choices=", ".join(HospitalLevel.values)))
    if values.get("effective_to") is not None and values["effective_to"] <= values["effective_from"]:
        raise _field_error("effective_to", _("must be after effective_from (exclusive end)"), code="range_reversed")
    for name in ("deductible_fen", "annual_cap_fen"):
        if isinstance(values[name], bool) or not isinstance(values[name], int) or values[name] < 0:
            raise _field_error(name, _("a non-negative whole number of fen"))
    for name in POLICY_FIELDS:
        if name.startswith(("ratio_", "default_self_pay", "cross_province_ratio")):
            ratio = Decimal(str(values[name]))
            if not (0 <= ratio <= 1) or ratio.as_tuple().exponent < -4:  # type: ignore[operator]
                raise _field_error(name, _("a ratio between 0 and 1 with at most 4 decimals"))
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


def _policy_status(value: str) -> Any:
    return BenefitPolicy.Status(value).label if value in BenefitPolicy.Status.values else value


def _refuse_participant(policy: BenefitPolicy, user: Any, *, verb: str) -> None:
    uid = getattr(user, "pk", None)
    if uid is None:
        return
    if uid in (policy.created_by_id, policy.submitted_by_id) or PolicyParticipant.objects.filter(policy=policy, user_id=uid).exists():
        text = (
            _("you drafted, edited or submitted policy {id}: another person approves it")
            if verb == "approves"
            else _("you drafted, edited or submitted policy {id}: another person reviews it")
        )
        raise Conflict(format_lazy(text, id=policy.pk), code="same_user_cannot_approve")


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
        raise _field_error(sorted(unknown)[0], _("unknown field"))
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
        raise Conflict(
            format_lazy(_("policy {id} is {status}; only drafts can be changed"), id=policy.pk, status=_policy_status(policy.status)),
            code="policy_not_draft",
        )


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
        raise _field_error(sorted(unknown)[0], _("unknown field"))
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
    _notify_approvers(policy)
    return policy


def _notify_approvers(policy: BenefitPolicy) -> None:
    """A submitted policy awaits a province_staff of its province who took no part in it: each
    gets one mail per submission (``policy.submitted:<id>:<submitted_at>``), in this transaction."""
    facts = {
        "id": policy.pk,
        "province": policy.province.name,
        "scheme": policy.scheme,
        "setting": policy.setting,
        "date": policy.effective_from.isoformat(),
        "url": portal_url(reverse("admin:benefits_benefitpolicy_change", args=[policy.pk])),
    }
    with mail_language():
        subject = gettext("Benefit policy #%(id)s of %(province)s awaits your approval") % facts
        body = (
            gettext(
                "Benefit policy #%(id)s (%(scheme)s, %(setting)s, from %(date)s) of %(province)s was submitted.\n"
                "Approve or send it back: %(url)s\n"
            )
            % facts
        )
    awaiting_approval_notify(
        key=f"policy.submitted:{policy.pk}:{policy.submitted_at.isoformat() if policy.submitted_at else ''}",
        roles=POLICY_EDITORS,
        province=policy.province.code,
        exclude=[
            policy.created_by_id,
            policy.submitted_by_id,
            *PolicyParticipant.objects.filter(policy=policy).values_list("user_id", flat=True),
        ],
        subject=subject,
        body=body,
    )


def _ensure_submitted(policy: BenefitPolicy) -> None:
    if policy.status != BenefitPolicy.Status.SUBMITTED:
        raise Conflict(
            format_lazy(
                _("policy {id} is {status}; only submitted policies are reviewed"), id=policy.pk, status=_policy_status(policy.status)
            ),
            code="policy_not_submitted",
        )


@transaction.atomic
def policy_reject(*, policy: BenefitPolicy, user: Any, reason: str) -> BenefitPolicy:
    """Submitted → back to draft with a reason, by a province_staff of the province who took no
    part in it (409 same_user_cannot_approve before the role check, as for approval)."""
    policy = _lock(policy)
    _refuse_participant(policy, user, verb="reviews")
    require_role(user, *POLICY_EDITORS)
    require_province(user, policy.province.code)
    require_reason(reason, detail=_("sending a policy back needs a reason"))
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
            format_lazy(
                _(
                    "policy {id} ({other_from}–{other_to}) is approved for the same province, scheme, setting and hospital "
                    "level and overlaps {start}–{end}"
                ),
                id=other.pk,
                other_from=other.effective_from,
                other_to=other.effective_to or _("open-ended"),
                start=policy.effective_from,
                end=policy.effective_to or _("open-ended"),
            ),
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
            raise Conflict(_("a person who took part in a policy cannot approve it"), code="same_user_cannot_approve") from exc
        # a concurrent approval won the race; the exclusion constraint says so
        raise Conflict(format_lazy(_("policy {id} overlaps an approved policy"), id=policy.pk), code="policy_overlap") from exc
    audit_record(action=AuditAction.POLICY_APPROVED, actor=user, obj=policy, detail=_policy_detail(policy))
    return policy


def policy_actions_for(*, policy: BenefitPolicy, user: Any) -> list[str]:
    """Which of submit, approve and send back ``user`` may take on ``policy`` now (the check before
    the action, so a page offers only these). Same rules as the actions, which check again."""
    from apps.core.permissions import has_role, staff_province

    if not has_role(user, *POLICY_EDITORS):
        return []
    own = "" if getattr(user, "is_superuser", False) else staff_province(user)
    if own and own != policy.province.code:
        return []
    uid = getattr(user, "pk", None)
    took_part = uid is not None and (
        uid in (policy.created_by_id, policy.submitted_by_id) or PolicyParticipant.objects.filter(policy=policy, user_id=uid).exists()
    )
    if policy.status == BenefitPolicy.Status.DRAFT:
        return ["submit"]
    if policy.status == BenefitPolicy.Status.SUBMITTED and not took_part:
        return ["approve", "send_back"]
    return []


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
        raise _field_error("code", _("1–32 ASCII characters"))
    unknown = set(fields) - set(LOCAL_ITEM_FIELDS)
    if unknown:
        raise _field_error(sorted(unknown)[0], _("unknown field"))
    if fields.get("sunset_date") is None:
        raise _field_error("sunset_date", _("every local item needs a sunset date"), code="required")
    if fields.get("effective_from") is None:
        raise _field_error("effective_from", _("required"), code="required")
    if fields["sunset_date"] <= fields["effective_from"]:
        raise _field_error("sunset_date", _("must be after effective_from"), code="range_reversed")
    if fields.get("category", "02") not in ("01", "02"):
        raise _field_error("category", _("a local item is 甲 (01) or 乙 (02)"))
    if fields.get("restriction_hospital_level") and fields["restriction_hospital_level"] not in HospitalLevel.values:
        raise _field_error(
            "restriction_hospital_level", format_lazy(_("blank or one of {choices}"), choices=", ".join(HospitalLevel.values))
        )
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
        raise BulkFileRejected(
            format_lazy(_("{error_count} bad rows; nothing was imported"), error_count=error_count), errors=errors, error_count=error_count
        )
    before = DiagnosisCode.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(sql.icd10_upsert(table=staging.table, columns=columns))
    created = DiagnosisCode.objects.count() - before
    return ReferenceImportResult(rows=staging.rows, created=created, updated=staging.rows - created)


@transaction.atomic
def icd9cm3_import(*, stream: IO[bytes]) -> ReferenceImportResult:
    """Load (upsert by code) the ICD-9-CM-3 NHSA edition (no header, 11 columns: edition,
    chapter range, chapter, category, name, sub-category, name, detail, name, code, name);
    all-or-nothing through the same bulk loader and row errors as :func:`icd10_import`."""
    checked = CheckedStream(stream)
    staging = staging_create(table="icd9cm3_staging", columns=list(sql.ICD9_COLUMNS))
    staging.header_lines = 0
    staging_copy_csv(staging=staging, stream=checked, body=checked.chunks())
    columns = {name: str(staging.col(name)) for name in sql.ICD9_COLUMNS}
    lengths = {f.name: int(f.max_length) for f in ProcedureCode._meta.concrete_fields if f.name in columns and f.max_length}
    errors, error_count = collect_errors(
        sql.reference_checks(
            table=staging.table,
            line=staging.line_sql,
            columns=columns,
            code_sql=sql.icd9_code,
            code_pattern=ICD9_PROCEDURE_CODE.pattern,
            code_help=ICD9_PROCEDURE_HELP,
            name_help=sql.REFERENCE_MESSAGES["procedure_name_is_empty"],
            max_lengths=lengths,
        )
    )
    if error_count:
        raise BulkFileRejected(
            format_lazy(_("{error_count} bad rows; nothing was imported"), error_count=error_count), errors=errors, error_count=error_count
        )
    before = ProcedureCode.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.reference_upsert(
                target="benefits_procedurecode", names=sql.ICD9_COLUMNS, table=staging.table, columns=columns, code_sql=sql.icd9_code
            )
        )
    created = ProcedureCode.objects.count() - before
    return ReferenceImportResult(rows=staging.rows, created=created, updated=staging.rows - created)


# --- small CSV files (DRG tables, price schedules) -----------------------------------------

SMALL_FILE_MAX_BYTES = 32 * 1024 * 1024


def _read_rows(stream: IO[bytes], *, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(physical line, row) of a small CSV file with a header (UTF-8 with or without BOM, or
    GB18030, as every import here); a missing column or an unreadable file is a BulkFileRejected."""
    data = stream.read(SMALL_FILE_MAX_BYTES + 1)
    if len(data) > SMALL_FILE_MAX_BYTES:
        raise BulkFileRejected(
            _("the file is too large"),
            errors=[
                row_error(
                    line=1,
                    column="",
                    code="too_large",
                    message=format_lazy(_("at most {SMALL_FILE_MAX_BYTES} bytes"), SMALL_FILE_MAX_BYTES=SMALL_FILE_MAX_BYTES),
                )
            ],
        )
    encoding = detect_encoding(data[: 64 * 1024])
    try:
        text = data[encoding.skip :].decode(encoding.python)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise encoding_error(line, format_lazy(_("line {line} is not valid {label}"), line=line, label=encoding.label)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    # Other columns are read past; a repeated one would leave only its last cell to be read.
    errors = header_errors(header, allowed=None, required=required, missing_code="missing_column")
    if errors:
        raise BulkFileRejected(_("the header row does not match the layout"), errors=errors)
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:  # more cells than the header
            raise BulkFileRejected(
                _("a row has more cells than the header"),
                errors=[row_error(line=reader.line_num, column="", code="malformed_row", message=_("more cells than the header"))],
            )
        rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    return rows


def _fen(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 15 else None


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


# --- disease lists and policy disease terms --------------------------------------------------


def _prefixes(value: Any) -> tuple[str, ...]:
    text = ";".join(value) if isinstance(value, list | tuple) else str(value or "")
    prefixes = parse_icd10_prefixes(text)
    if not prefixes:
        raise _field_error("icd10_prefixes", _("one or more ICD-10 code prefixes such as I10, E11 or C34.1"), code="code_format")
    return prefixes


@transaction.atomic
def disease_save(
    *, user: Any, province: Province, code: str, name: str, icd10_prefixes: Any, kind: str = "chronic_special", reason: str = ""
) -> Disease:
    """Create or change one of a province's own listed diseases (the national list is a data
    file). Province staff of that province only (403 wrong_province). Raises ValidationFailed."""
    require_role(user, *POLICY_EDITORS)
    require_province(user, province.code)
    code = normalise_code(code).lower()
    if not code or len(code) > 32 or not code.isascii():
        raise _field_error("code", _("1–32 ASCII characters"))
    if kind not in Disease.Kind.values:
        raise _field_error("kind", format_lazy(_("one of {choices}"), choices=", ".join(Disease.Kind.values)))
    name = normalise_text(name)
    if not name:
        raise _field_error("name", _("required"), code="required")
    if Disease.objects.filter(province__isnull=True, code=code).exists():
        raise _field_error("code", format_lazy(_("{code} is a disease of the national list"), code=code), code="unique")
    disease = Disease.objects.filter(province=province, code=code).first() or Disease(province=province, code=code)
    created = disease.pk is None
    disease.name, disease.kind, disease.icd10_prefixes = name, kind, list(_prefixes(icd10_prefixes))
    history_save(disease, user=user, reason=reason or ("created" if created else "edited"))
    audit_record(
        action=AuditAction.DISEASE_SAVED,
        actor=user,
        obj=disease,
        reason=reason,
        detail={"code": code, "created": created, "icd10_prefixes": disease.icd10_prefixes},
    )
    return disease


def _term_ratio(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    ratio = Decimal(str(value))
    if not (0 <= ratio <= 1) or ratio.as_tuple().exponent < -4:  # type: ignore[operator]
        raise _field_error("ratio", _("a ratio between 0 and 1 with at most 4 decimals"))
    return ratio


def _term_fen(field: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _field_error(field, _("a non-negative whole number of fen"))
    return value


@transaction.atomic
def policy_disease_terms_set(*, policy: BenefitPolicy, user: Any, terms: list[dict[str, Any]], reason: str = "") -> list[PolicyDiseaseTerm]:
    """Make ``terms`` the disease terms of a draft policy: ``[{disease: code, deductible_fen?,
    ratio?, annual_cap_fen?}]`` (blank = the policy's own value). Only the person who drafted the
    policy sets them, so the approver — someone else — approves terms she did not write.

    A disease is one of the national list or of the policy's province; a chronic_outpatient
    policy lists chronic or special outpatient diseases. Raises 409 policy_not_draft, Forbidden,
    ValidationFailed.
    """
    require_role(user, *POLICY_EDITORS)
    policy = _lock(policy)
    require_province(user, policy.province.code)
    _ensure_draft(policy)
    if policy.created_by_id != getattr(user, "pk", None):
        raise Forbidden(format_lazy(_("only the person who drafted policy {id} sets its disease terms"), id=policy.pk))
    known = {d.code: d for d in diseases_listable(province=policy.province)}
    rows: list[PolicyDiseaseTerm] = []
    seen: set[str] = set()
    for index, term in enumerate(terms):
        unknown_keys = set(term) - {"disease", "deductible_fen", "ratio", "annual_cap_fen"}
        if unknown_keys:
            raise _field_error(f"terms.{index}.{sorted(unknown_keys)[0]}", _("unknown field"))
        code = str(term.get("disease", "")).strip().lower()
        disease = known.get(code)
        if disease is None:
            raise _field_error(
                f"terms.{index}.disease",
                format_lazy(_("no listed disease {code!r} for province {province}"), code=code, province=policy.province.code),
                code="unknown_disease",
            )
        if code in seen:
            raise _field_error(f"terms.{index}.disease", format_lazy(_("{code} is listed twice"), code=code), code="duplicate")
        if policy.setting == CareSetting.CHRONIC_OUTPATIENT and disease.kind != Disease.Kind.CHRONIC_SPECIAL:
            raise _field_error(f"terms.{index}.disease", _("a chronic_outpatient policy lists chronic or special outpatient diseases"))
        seen.add(code)
        rows.append(
            PolicyDiseaseTerm(
                policy=policy,
                disease=disease,
                deductible_fen=_term_fen(f"terms.{index}.deductible_fen", term.get("deductible_fen")),
                ratio=_term_ratio(term.get("ratio")),
                annual_cap_fen=_term_fen(f"terms.{index}.annual_cap_fen", term.get("annual_cap_fen")),
            )
        )
    for old in PolicyDiseaseTerm.objects.filter(policy=policy):
        history_delete(old, user=user, reason=reason or "disease terms replaced")
    for row in rows:
        history_save(row, user=user, reason=reason or "disease terms set")
    audit_record(
        action=AuditAction.POLICY_DISEASES_SET,
        actor=user,
        obj=policy,
        reason=reason,
        detail={"diseases": sorted(seen)},
    )
    return rows


# --- daily doses -----------------------------------------------------------------------------


@transaction.atomic
def daily_dose_propose(*, user: Any, code: str, units_per_day: Any, note: str = "") -> DailyDose:
    """Propose how many units of national item ``code`` make one day's dose (catalog
    administrators). Raises Forbidden, ValidationFailed."""
    require_role(user, *CATALOG_EDITORS)
    try:
        code = validate_catalog_code(code)
    except CodeError as exc:
        raise _field_error("code", exc.reason, code="code_format") from exc
    try:
        units = Decimal(str(units_per_day))
    except ArithmeticError as exc:
        raise _field_error("units_per_day", _("a positive number with at most 4 decimals")) from exc
    if not units.is_finite() or units <= 0 or units.as_tuple().exponent < -4 or units >= 10**8:  # type: ignore[operator]
        raise _field_error("units_per_day", _("a positive number with at most 4 decimals"))
    dose = DailyDose(code=code, units_per_day=units, note=normalise_text(note), proposed_by=user)
    history_save(dose, user=user, reason="proposed")
    audit_record(action=AuditAction.DAILY_DOSE_PROPOSED, actor=user, obj=dose, detail={"code": code, "units_per_day": str(units)})
    return dose


@transaction.atomic
def daily_dose_approve(*, dose: DailyDose, user: Any) -> DailyDose:
    """Approve a proposed dose; the approved one of the same code before it is superseded.

    The proposer never approves her own (409 same_user_cannot_approve, before any role check;
    also a CHECK); the approver is a catalog reviewer (403). Raises 409 daily_dose_not_proposed.
    """
    DailyDose.objects.select_for_update().filter(pk=dose.pk).values_list("pk").get()
    dose.refresh_from_db()
    if dose.proposed_by_id == getattr(user, "pk", None):
        raise Conflict(_("the person who proposed a daily dose cannot approve it"), code="same_user_cannot_approve")
    require_role(user, Role.CATALOG_REVIEWER)
    if dose.status != DailyDose.Status.PROPOSED:
        raise Conflict(
            format_lazy(_("daily dose {id} is {status}"), id=dose.pk, status=DailyDose.Status(dose.status).label),
            code="daily_dose_not_proposed",
        )
    for previous in DailyDose.objects.select_for_update().filter(code=dose.code, status=DailyDose.Status.APPROVED):
        previous.status = DailyDose.Status.SUPERSEDED
        history_save(previous, user=user, reason=f"superseded by daily dose {dose.pk}", update_fields=["status"])
    dose.status, dose.approved_by, dose.approved_at = DailyDose.Status.APPROVED, user, timezone.now()
    history_save(dose, user=user, reason="approved")
    audit_record(
        action=AuditAction.DAILY_DOSE_APPROVED, actor=user, obj=dose, detail={"code": dose.code, "units_per_day": str(dose.units_per_day)}
    )
    return dose


# --- provincial price schedules ---------------------------------------------------------------


@transaction.atomic
def service_prices_import(*, user: Any, province: Province, effective_from: dt.date, stream: IO[bytes]) -> dict[str, int]:
    """A province's prices of medical service items from ``effective_from`` on: a CSV with
    ``code,price_fen`` (fen per pricing unit). A code's open-ended earlier price ends at
    ``effective_from`` (ranges are [from, to)); a price of that code starting on or after
    ``effective_from`` is a conflict. All or nothing: a bad row changes nothing and
    every bad row is listed (``code_format``, ``not_fen``, ``duplicate_code``, ``price_overlap``).
    Province staff of that province only. Returns {rows, closed}."""
    require_role(user, *POLICY_EDITORS)
    require_province(user, province.code)
    rows = _read_rows(stream, required=("code", "price_fen"))
    errors: list[dict[str, Any]] = []
    prices: dict[str, tuple[int, int]] = {}
    for line, row in rows:
        code = normalise_code(row["code"])
        if not SERVICE_CODE.match(code):
            errors.append(
                row_error(
                    line=line,
                    column="code",
                    code="code_format",
                    message=_("medical service item codes are 15 digits, optionally -<local suffix>"),
                )
            )
            continue
        price = _fen(row["price_fen"])
        if price is None:
            errors.append(
                row_error(
                    line=line,
                    column="price_fen",
                    code="not_fen",
                    message=format_lazy(_("{price_fen!r} is not a whole, non-negative number of fen"), price_fen=row["price_fen"]),
                )
            )
            continue
        if code in prices:
            errors.append(
                row_error(
                    line=line,
                    column="code",
                    code="duplicate_code",
                    message=format_lazy(_("{code} repeats line {line}"), code=code, line=prices[code][0]),
                )
            )
            continue
        prices[code] = (line, price)
    later = ServicePrice.objects.filter(province=province, code__in=list(prices), effective_from__gte=effective_from).values_list(
        "code", "effective_from"
    )
    for code, starts in later:
        errors.append(
            row_error(
                line=prices[code][0],
                column="code",
                code="price_overlap",
                message=format_lazy(_("{code} already has a price from {starts}"), code=code, starts=starts),
            )
        )
    if errors:
        errors.sort(key=lambda e: e["line"])
        raise BulkFileRejected(format_lazy(_("{count} bad rows; nothing was imported"), count=len(errors)), errors=errors)
    if not prices:
        raise ValidationFailed(_("the file has no prices"), errors=[row_error(line=1, column="", code="empty", message=_("no rows"))])
    open_ended = ServicePrice.objects.select_for_update().filter(
        province=province, code__in=list(prices), effective_from__lt=effective_from, effective_to__isnull=True
    )
    closed_ids = list(open_ended.values_list("pk", flat=True))
    reason = f"price schedule from {effective_from}"
    if closed_ids:
        history_bulk_record(
            model=ServicePrice, where_sql="id = ANY(%s)", params=[closed_ids], history_type="~", user_id=user.pk, reason=reason
        )
        ServicePrice.objects.filter(pk__in=closed_ids).update(effective_to=effective_from)
    created = ServicePrice.objects.bulk_create(
        ServicePrice(province=province, code=code, price_fen=price, effective_from=effective_from)
        for code, (_line, price) in prices.items()
    )
    history_bulk_record(
        model=ServicePrice, where_sql="id = ANY(%s)", params=[[p.pk for p in created]], history_type="+", user_id=user.pk, reason=reason
    )
    audit_record(
        action=AuditAction.PRICES_IMPORTED,
        actor=user,
        obj=province,
        province=province.code,
        detail={"effective_from": effective_from.isoformat(), "rows": len(created), "closed": len(closed_ids)},
    )
    return {"rows": len(created), "closed": len(closed_ids)}


# --- DRG tables --------------------------------------------------------------------------------

DRG_GROUP = re.compile(r"^[A-Z]{2}[0-9A-Z]{2}$")  # CHS-DRG: MDC letter, ADRG letter, two characters (GB21, RE19, FM1A)
DrgStatus = DrgVersion.Status


def _drg_status(version: DrgVersion) -> Any:
    return DrgStatus(version.status).label


def _drg_lock(version: DrgVersion) -> DrgVersion:
    DrgVersion.objects.select_for_update().filter(pk=version.pk).values_list("pk").get()
    version.refresh_from_db()
    return version


def _drg_ensure_draft(version: DrgVersion) -> None:
    if version.status != DrgStatus.DRAFT:
        raise Conflict(
            format_lazy(_("DRG table {label} is {status}; only drafts can be changed"), label=version.label, status=_drg_status(version)),
            code="drg_version_not_draft",
        )


def _drg_took_part(version: DrgVersion, user: Any) -> None:
    if user.pk not in version.editor_ids:
        version.editor_ids = [*version.editor_ids, user.pk]


@transaction.atomic
def drg_version_create(*, user: Any, label: str, effective_from: dt.date, based_on: DrgVersion | None = None, note: str = "") -> DrgVersion:
    """A draft DRG table; with ``based_on`` (a published table) its groups and area rates are
    copied set-based. Catalog administrators. Raises ValidationFailed (label taken, based_on not
    published)."""
    require_role(user, *CATALOG_EDITORS)
    try:
        LABEL_VALIDATOR(label or "")
    except DjangoValidationError as exc:
        raise _field_error("label", _("letters, digits, . _ - (e.g. CHS-DRG-2.0-2026)")) from exc
    if DrgVersion.objects.filter(label=label).exists():
        raise _field_error("label", format_lazy(_("a DRG table labelled {label} exists"), label=label), code="unique")
    if based_on is not None and based_on.status != DrgStatus.PUBLISHED:
        raise _field_error("based_on", _("based_on must be a published DRG table"))
    version = DrgVersion(label=label, effective_from=effective_from, based_on=based_on, note=note, created_by=user, editor_ids=[user.pk])
    history_save(version, user=user, reason=f"copied from {based_on.label}" if based_on else "created empty")
    if based_on is not None:
        with connection.cursor() as cursor:
            cursor.execute(sql.DRG_COPY_GROUPS_SQL, [version.pk, based_on.pk])
            cursor.execute(sql.DRG_COPY_RATES_SQL, [version.pk, based_on.pk])
        for model in (DrgGroup, DrgAreaRate):
            history_bulk_record(
                model=model,
                where_sql="version_id = %s",
                params=[version.pk],
                history_type="+",
                user_id=user.pk,
                reason=f"copied from {based_on.label}",
            )
    audit_record(
        action=AuditAction.DRG_VERSION_CREATED,
        actor=user,
        obj=version,
        detail={"effective_from": effective_from.isoformat(), "based_on": based_on.label if based_on else None},
    )
    return version


def _replace_rows(*, version: DrgVersion, model: type[DrgGroup] | type[DrgAreaRate], rows: list[Any], user: Any, reason: str) -> None:
    history_bulk_record(model=model, where_sql="version_id = %s", params=[version.pk], history_type="-", user_id=user.pk, reason=reason)
    model.objects.filter(version=version).delete()
    model.objects.bulk_create(rows)
    history_bulk_record(model=model, where_sql="version_id = %s", params=[version.pk], history_type="+", user_id=user.pk, reason=reason)


@transaction.atomic
def drg_groups_import(*, version: DrgVersion, user: Any, stream: IO[bytes]) -> int:
    """Make a CSV ``code,name,weight`` the groups of a draft DRG table. All or nothing, every bad
    row listed (``code_format``, ``missing_field``, ``invalid`` weight, ``duplicate_code``).
    Raises 409 drg_version_not_draft, Forbidden, BulkFileRejected. Returns the number of groups."""
    require_role(user, *CATALOG_EDITORS)
    version = _drg_lock(version)
    _drg_ensure_draft(version)
    errors: list[dict[str, Any]] = []
    groups: dict[str, DrgGroup] = {}
    first_line: dict[str, int] = {}
    for line, row in _read_rows(stream, required=("code", "name", "weight")):
        code, name = normalise_code(row["code"]), normalise_text(row["name"])
        if not DRG_GROUP.match(code):
            errors.append(
                row_error(line=line, column="code", code="code_format", message=_("CHS-DRG group codes are 4 characters, e.g. GB21"))
            )
            continue
        if not name or len(name) > 255:
            errors.append(
                row_error(
                    line=line, column="name", code="missing_field" if not name else "too_long", message=_("a name of 1–255 characters")
                )
            )
            continue
        weight = _decimal(row["weight"], places=4, below=Decimal(10_000))
        if weight is None or weight <= 0:
            errors.append(
                row_error(line=line, column="weight", code="invalid", message=_("a positive relative weight with at most 4 decimals"))
            )
            continue
        if code in groups:
            errors.append(
                row_error(
                    line=line,
                    column="code",
                    code="duplicate_code",
                    message=format_lazy(_("{code} repeats line {line}"), code=code, line=first_line[code]),
                )
            )
            continue
        first_line[code] = line
        groups[code] = DrgGroup(version=version, code=code, name=name, weight=weight)
    if errors or not groups:
        raise BulkFileRejected(
            format_lazy(_("{count} bad rows; nothing was imported"), count=len(errors)),
            errors=errors or [row_error(line=1, column="", code="empty", message=_("no groups"))],
        )
    _replace_rows(version=version, model=DrgGroup, rows=list(groups.values()), user=user, reason="groups imported")
    _drg_took_part(version, user)
    history_save(version, user=user, reason=f"{len(groups)} groups imported", update_fields=["editor_ids"])
    audit_record(action=AuditAction.DRG_VERSION_EDITED, actor=user, obj=version, detail={"groups": len(groups)})
    return len(groups)


@transaction.atomic
def drg_area_rates_import(*, version: DrgVersion, user: Any, stream: IO[bytes]) -> int:
    """Make a CSV ``area_code,base_rate_fen,out_of_town_from`` the area rates of a draft DRG table
    (each area pays out-of-town inpatient claims by DRG from that date, weight × base rate).
    All or nothing with row errors (``code_format``, ``not_fen``, ``date_format``,
    ``duplicate_code``). Returns the number of areas."""
    require_role(user, *CATALOG_EDITORS)
    version = _drg_lock(version)
    _drg_ensure_draft(version)
    errors: list[dict[str, Any]] = []
    rates: dict[str, DrgAreaRate] = {}
    first_line: dict[str, int] = {}
    for line, row in _read_rows(stream, required=("area_code", "base_rate_fen", "out_of_town_from")):
        try:
            area = validate_region_code(row["area_code"])
        except CodeError as exc:
            errors.append(row_error(line=line, column="area_code", code="code_format", message=exc.reason))
            continue
        rate = _fen(row["base_rate_fen"])
        if not rate:
            errors.append(row_error(line=line, column="base_rate_fen", code="not_fen", message=_("a positive whole number of fen")))
            continue
        starts = _date(row["out_of_town_from"])
        if starts is None:
            errors.append(row_error(line=line, column="out_of_town_from", code="date_format", message=_("a date YYYY-MM-DD")))
            continue
        if area in rates:
            errors.append(
                row_error(
                    line=line,
                    column="area_code",
                    code="duplicate_code",
                    message=format_lazy(_("{area} repeats line {line}"), area=area, line=first_line[area]),
                )
            )
            continue
        first_line[area] = line
        rates[area] = DrgAreaRate(version=version, area_code=area, base_rate_fen=rate, out_of_town_from=starts)
    if errors or not rates:
        raise BulkFileRejected(
            format_lazy(_("{count} bad rows; nothing was imported"), count=len(errors)),
            errors=errors or [row_error(line=1, column="", code="empty", message=_("no areas"))],
        )
    _replace_rows(version=version, model=DrgAreaRate, rows=list(rates.values()), user=user, reason="area rates imported")
    _drg_took_part(version, user)
    history_save(version, user=user, reason=f"{len(rates)} area rates imported", update_fields=["editor_ids"])
    audit_record(action=AuditAction.DRG_VERSION_EDITED, actor=user, obj=version, detail={"area_rates": len(rates)})
    return len(rates)


def _drg_transition(version: DrgVersion, *, user: Any, action: AuditAction, reason: str, **fields: Any) -> DrgVersion:
    for name, value in fields.items():
        setattr(version, name, value)
    history_save(version, user=user, reason=reason)
    audit_record(action=action, actor=user, obj=version, reason=reason, detail={"effective_from": version.effective_from.isoformat()})
    return version


@transaction.atomic
def drg_version_submit(*, version: DrgVersion, user: Any) -> DrgVersion:
    """Draft → in review. Refuses a table without groups or without area rates."""
    require_role(user, *CATALOG_EDITORS)
    version = _drg_lock(version)
    _drg_ensure_draft(version)
    if not DrgGroup.objects.filter(version=version).exists() or not DrgAreaRate.objects.filter(version=version).exists():
        raise ValidationFailed(
            format_lazy(_("DRG table {label} needs groups and area rates before review"), label=version.label),
            code="drg_version_incomplete",
        )
    _drg_took_part(version, user)
    return _drg_transition(
        version,
        user=user,
        action=AuditAction.DRG_VERSION_SUBMITTED,
        reason="submitted",
        status=DrgStatus.IN_REVIEW,
        submitted_by=user,
        submitted_at=timezone.now(),
        rejection_reason="",
    )


@transaction.atomic
def drg_version_approve(*, version: DrgVersion, user: Any) -> DrgVersion:
    """In review → approved by a catalog reviewer who took no part (409 same_user_cannot_approve
    for anyone who created, edited or submitted it, before any role check; also CHECKs)."""
    version = _drg_lock(version)
    if getattr(user, "pk", None) in version.editor_ids:
        raise Conflict(
            format_lazy(_("you took part in DRG table {label} and cannot approve it"), label=version.label), code="same_user_cannot_approve"
        )
    require_role(user, Role.CATALOG_REVIEWER)
    if version.status != DrgStatus.IN_REVIEW:
        raise Conflict(
            format_lazy(_("DRG table {label} is {status}, not in review"), label=version.label, status=_drg_status(version)),
            code="drg_version_not_in_review",
        )
    return _drg_transition(
        version,
        user=user,
        action=AuditAction.DRG_VERSION_APPROVED,
        reason="approved",
        status=DrgStatus.APPROVED,
        approved_by=user,
        approved_at=timezone.now(),
    )


@transaction.atomic
def drg_version_reject(*, version: DrgVersion, user: Any, reason: str) -> DrgVersion:
    """In review or approved → back to draft, with a reason, by a reviewer who took no part."""
    version = _drg_lock(version)
    if getattr(user, "pk", None) in version.editor_ids:
        raise Conflict(
            format_lazy(_("you took part in DRG table {label} and cannot review it"), label=version.label), code="same_user_cannot_approve"
        )
    require_role(user, Role.CATALOG_REVIEWER)
    require_reason(reason, detail="a rejection needs a reason")
    if version.status not in (DrgStatus.IN_REVIEW, DrgStatus.APPROVED):
        raise Conflict(
            format_lazy(_("DRG table {label} is {status}, not in review"), label=version.label, status=_drg_status(version)),
            code="drg_version_not_in_review",
        )
    return _drg_transition(
        version,
        user=user,
        action=AuditAction.DRG_VERSION_REJECTED,
        reason=reason,
        status=DrgStatus.DRAFT,
        rejection_reason=reason,
        approved_by=None,
        approved_at=None,
    )


@transaction.atomic
def drg_version_publish(*, version: DrgVersion, user: Any) -> DrgVersion:
    """Approved → published (immutable from then on; triggers). One published table per date."""
    require_role(user, *CATALOG_EDITORS)
    version = _drg_lock(version)
    if version.status != DrgStatus.APPROVED:
        raise Conflict(
            format_lazy(
                _("DRG table {label} is {status}; only approved tables are published"), label=version.label, status=_drg_status(version)
            ),
            code="drg_version_not_approved",
        )
    if DrgVersion.objects.filter(status=DrgStatus.PUBLISHED, effective_from=version.effective_from).exists():
        raise Conflict(
            format_lazy(_("a published DRG table already takes effect on {date}"), date=version.effective_from), code="effective_date_taken"
        )
    return _drg_transition(
        version,
        user=user,
        action=AuditAction.DRG_VERSION_PUBLISHED,
        reason="published",
        status=DrgStatus.PUBLISHED,
        published_by=user,
        published_at=timezone.now(),
    )


def _decimal(value: str, *, places: int, below: Decimal) -> Decimal | None:
    try:
        number = Decimal(value) if value.isascii() else None
    except ArithmeticError:
        return None
    if number is None or not number.is_finite() or number.as_tuple().exponent < -places or abs(number) >= below:  # type: ignore[operator]
        return None
    return number
