"""Writes on the hospital registry and API keys (webhooks and notices are the notices app's).

Every write is one transaction, records history with who and why, and marks cached API-key
verdicts stale (in the transaction and again on commit) so a revoked key or a deactivated
hospital is refused on the next request in every web process (the verdict cache is shared, see
``API_KEY_CACHE``; production refuses a per-process one).
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import Any

from django.core.cache import BaseCache, cache, caches
from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.benefits.models import PoolingRegion, Province
from apps.catalog.models import HospitalLevel
from apps.core import replica
from apps.core.audit import audit_record, history_save
from apps.core.codes import CodeError, validate_institution_code, validate_province_code
from apps.core.errors import NotFound, ValidationFailed
from apps.core.models import AuditAction
from apps.core.permissions import require_province

from .models import ApiKey, Hospital

# ---------------------------------------------------------------------------------------------
# Registry and API keys
# ---------------------------------------------------------------------------------------------

API_KEY_PREFIX_LENGTH = 10
_PREFIX_ALPHABET = string.ascii_letters + string.digits
API_KEY_CACHE = "api_keys"  # settings.CACHES alias: shared by every web process, or a dummy (no caching)
API_KEY_CACHE_SECONDS = 60  # bound on how stale a cached verdict may be if the cache is not told
# After a change the key's verdict is read from the database for this long: a request that read
# the old row before the commit cannot put its verdict back (readers only ``add``).
API_KEY_STALE_SECONDS = 2 * API_KEY_CACHE_SECONDS
STALE = {"stale": True}
LAST_USED_RESOLUTION_SECONDS = 60  # last_used_at is written at most once a minute per key


def api_key_cache() -> BaseCache:
    return caches[API_KEY_CACHE]


def api_key_cache_key(prefix: str) -> str:
    return f"hospitals:api-key:{prefix}"


def hash_secret(secret: str) -> str:
    """SHA-256 of the secret part; the secret is 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _forget_keys(prefixes: list[str]) -> None:
    # A stale marker rather than a delete: a concurrent request that read the row before our
    # commit adds its verdict only where nothing is cached, so it cannot undo the marker. Set
    # now and again after commit (the cache is shared, so every web process sees it).
    stale = {api_key_cache_key(p): STALE for p in prefixes}
    if not stale:
        return
    api_key_cache().set_many(stale, API_KEY_STALE_SECONDS)
    transaction.on_commit(lambda: api_key_cache().set_many(stale, API_KEY_STALE_SECONDS))


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "pk", None) is not None else None


@transaction.atomic
def hospital_register(
    *,
    code: str,
    name: str,
    province_code: str,
    level: str = HospitalLevel.UNRATED,
    region_code: str = "",
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    user: Any = None,
    reason: str = "registered",
) -> Hospital:
    """Add a hospital (H + 11 digits) or pharmacy (P + 11 digits) to the registry.

    The institution code's digits 2-7 are its region code, so digits 2-3 must be the province's
    prefix; the pooling region is taken from the code when it exists and none is given.
    Raises ValidationFailed (field named in ``errors``) for a bad code, unknown province,
    level or region, a code already registered; Forbidden (wrong_province) when a
    province-scoped user registers outside her province.
    """
    errors: list[dict[str, Any]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "code": "invalid", "message": message})

    try:
        code = validate_institution_code(code)
    except CodeError as exc:
        bad("code", exc.reason)
    try:
        province_code = validate_province_code(province_code)
    except CodeError as exc:
        bad("province", exc.reason)
    if level not in HospitalLevel.values:
        bad("level", f"level must be one of {' '.join(HospitalLevel.values)}")
    if not name.strip():
        bad("name", "a name is required")
    if errors:
        raise ValidationFailed(format_lazy(_("hospital {code}: {message}"), code=code, message=errors[0]["message"]), errors=errors)
    province = Province.objects.filter(code=province_code).first()
    if province is None:
        raise ValidationFailed(
            format_lazy(_("unknown province {province_code}"), province_code=province_code),
            errors=[{"field": "province", "code": "invalid", "message": "unknown"}],
        )
    if code[1:3] != province_code[:2]:
        raise ValidationFailed(
            format_lazy(
                _("institution code {code} belongs to province {province}, not {province_code}"),
                code=code,
                province=f"{code[1:3]}0000",
                province_code=province_code,
            ),
            errors=[{"field": "code", "code": "wrong_province", "message": "digits 2-3 must be the province prefix"}],
        )
    if user is not None:
        require_province(user, province_code)
    region = None
    if region_code:
        region = PoolingRegion.objects.filter(code=region_code, province=province).first()
        if region is None:
            raise ValidationFailed(
                format_lazy(_("no pooling region {region_code} in {province_code}"), region_code=region_code, province_code=province_code),
                errors=[{"field": "region", "code": "invalid", "message": "unknown"}],
            )
    else:
        region = PoolingRegion.objects.filter(code=code[1:5] + "00", province=province).first()
    if Hospital.objects.filter(code=code).exists():
        raise ValidationFailed(
            format_lazy(_("hospital {code} is registered already"), code=code),
            errors=[{"field": "code", "code": "duplicate_code", "message": "exists"}],
        )
    hospital = Hospital(
        code=code,
        name=name.strip(),
        province=province,
        region=region,
        level=level,
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
    )
    history_save(hospital, user=user, reason=reason)
    audit_record(action=AuditAction.HOSPITAL_REGISTERED, actor=user, obj=hospital, detail={"level": level, "name": hospital.name})
    return hospital


HOSPITAL_EDITABLE_FIELDS = ("name", "level", "region", "contact_name", "contact_email", "contact_phone")


@transaction.atomic
def hospital_update(*, hospital: Hospital, user: Any, reason: str = "", **fields: Any) -> Hospital:
    """Change a hospital's name, level, pooling region or contact; its code and province never change.

    Raises ValidationFailed for another field or an unknown level; Forbidden (wrong_province)."""
    if user is not None:
        require_province(user, hospital.province.code)
    unknown = sorted(set(fields) - set(HOSPITAL_EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(
            format_lazy(_("{field} cannot be changed"), field=unknown[0]),
            errors=[{"field": unknown[0], "code": "read_only", "message": "fixed"}],
        )
    if "level" in fields and fields["level"] not in HospitalLevel.values:
        raise ValidationFailed(
            _("unknown level"), errors=[{"field": "level", "code": "invalid", "message": " ".join(HospitalLevel.values)}]
        )
    for name, value in fields.items():
        setattr(hospital, name, value)
    history_save(hospital, user=user, reason=reason or "edited")
    changed = {name: str(getattr(hospital, name)) for name in fields}
    audit_record(action=AuditAction.HOSPITAL_CHANGED, actor=user, obj=hospital, reason=reason, detail=changed)
    return hospital


@transaction.atomic
def hospital_set_active(*, hospital: Hospital, active: bool, user: Any = None, reason: str = "") -> Hospital:
    """Activate or deactivate a hospital; a deactivated hospital's keys stop authenticating."""
    if user is not None:
        require_province(user, hospital.province.code)
    hospital.active = active
    history_save(hospital, user=user, reason=reason or ("activated" if active else "deactivated"), update_fields=["active"])
    audit_record(
        action=AuditAction.HOSPITAL_ACTIVATED if active else AuditAction.HOSPITAL_DEACTIVATED, actor=user, obj=hospital, reason=reason
    )
    _forget_keys(list(hospital.api_keys.values_list("prefix", flat=True)))
    return hospital


@transaction.atomic
def api_key_issue(*, hospital: Hospital, user: Any = None, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for ``hospital``; returns (key row, the full key ``prefix.secret``).

    The full key is returned once and never stored. Raises ValidationFailed for an inactive
    hospital; Forbidden (wrong_province) for a province-scoped user of another province.
    """
    if user is not None:
        require_province(user, hospital.province.code)
    if not hospital.active:
        raise ValidationFailed(format_lazy(_("hospital {code} is inactive; activate it before issuing keys"), code=hospital.code))
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(API_KEY_PREFIX_LENGTH))
    secret = secrets.token_urlsafe(32)
    key = ApiKey(hospital=hospital, prefix=prefix, secret_sha256=hash_secret(secret), name=name, created_by=_user_or_none(user))
    history_save(key, user=user, reason="issued")
    audit_record(
        action=AuditAction.API_KEY_ISSUED,
        actor=user,
        obj=key,
        province=hospital.province.code,
        detail={"hospital": hospital.code, "prefix": prefix, "name": name},
    )
    return key, f"{prefix}.{secret}"


@transaction.atomic
def api_key_revoke(*, key: ApiKey, user: Any = None, reason: str = "revoked") -> ApiKey:
    """Revoke one key (idempotent: the first revocation time is kept). Callers get 401
    ``api_key_revoked`` from then on."""
    key = ApiKey.objects.select_for_update().select_related("hospital__province").get(pk=key.pk)
    if user is not None and not getattr(user, "is_hospital", False):
        require_province(user, key.hospital.province.code)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.revoked_by = _user_or_none(user)
        history_save(key, user=user, reason=reason, update_fields=["revoked_at", "revoked_by"])
        audit_record(
            action=AuditAction.API_KEY_REVOKED,
            actor=user,
            obj=key,
            province=key.hospital.province.code,
            reason=reason,
            detail={"hospital": key.hospital.code, "prefix": key.prefix},
        )
    _forget_keys([key.prefix])
    return key


@transaction.atomic
def api_keys_revoke_for_hospital(*, hospital: Hospital, prefix: str = "", user: Any = None, reason: str = "revoked") -> int:
    """Revoke all live keys of ``hospital`` (or only the one with ``prefix``); returns how many.

    Raises NotFound (api_key_unknown) when ``prefix`` names no key of this hospital.
    """
    keys = ApiKey.objects.filter(hospital=hospital).order_by("pk")
    if prefix:
        keys = keys.filter(prefix=prefix)
        if not keys.exists():
            raise NotFound(
                format_lazy(_("hospital {code} has no key with prefix {prefix}"), code=hospital.code, prefix=prefix), code="api_key_unknown"
            )
    revoked = 0
    for key in keys.filter(revoked_at__isnull=True):
        api_key_revoke(key=key, user=user, reason=reason)
        revoked += 1
    return revoked


def api_key_touch(*, key_id: int, prefix: str) -> None:
    """Record use of a key, at most once per LAST_USED_RESOLUTION_SECONDS (one UPDATE, no read).

    ``cache.add`` is atomic, so of many concurrent requests only one writes.
    """
    if cache.add(f"hospitals:api-key-used:{prefix}", 1, LAST_USED_RESOLUTION_SECONDS):
        ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


def publish_generation_advance(sender: Any, release: Any, **kwargs: Any) -> None:
    """``release_publishing`` listener (inside the publish transaction): advance the publish
    generation that tells whether the read replica has this release yet (apps.core.replica)."""
    replica.generation_advance(name=replica.PUBLISH)
