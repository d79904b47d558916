"""Hospitals admin: the registry and API keys (shown once). Every write goes through services.py.
Webhook endpoints, notices and deliveries are in the notices app's admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.core.admin import AddThroughServiceMixin, PortalAdmin, PortalHistoryAdmin

from . import services
from .models import ApiKey, Hospital

HOSPITAL_PROVINCE = ("hospital__province__code",)


def _issue_keys(model_admin: PortalAdmin | PortalHistoryAdmin, request: HttpRequest, hospitals: list[Hospital], name: str) -> None:
    for hospital in hospitals:
        issued = model_admin.run_service(
            request, hospital.code, lambda h=hospital: services.api_key_issue(hospital=h, user=request.user, name=name), _("key issued")
        )
        if issued is not None:
            _key, full = issued
            model_admin.message_user(
                request,
                _("API key for %(code)s (shown this once, copy it now): %(key)s") % {"code": hospital.code, "key": full},
                messages.WARNING,
            )


@admin.register(Hospital)
class HospitalAdmin(AddThroughServiceMixin, PortalHistoryAdmin):
    list_display = ["code", "name", "province", "region", "level", "active", "created_at"]
    list_filter = ["active", "level", "province"]
    search_fields = ["=code", "name", "contact_name"]
    list_select_related = ["province", "region"]
    province_fields = ("province__code",)
    actions = ["issue_api_key", "deactivate", "activate"]

    def get_readonly_fields(self, request: HttpRequest, obj: Hospital | None = None) -> Any:
        # The code fixes the province; "active" changes only through the actions.
        return ["code", "province", "active", "created_at"] if obj is not None else ["active", "created_at"]

    def save_model(self, request: HttpRequest, obj: Hospital, form: Any, change: bool) -> None:
        if change:
            services.hospital_update(
                hospital=obj, user=request.user, reason="edited in admin", **{name: getattr(obj, name) for name in form.changed_data}
            )
            return
        hospital = services.hospital_register(
            code=obj.code,
            name=obj.name,
            province_code=obj.province.code,
            level=obj.level,
            region_code=obj.region.code if obj.region else "",
            contact_name=obj.contact_name,
            contact_email=obj.contact_email,
            contact_phone=obj.contact_phone,
            user=request.user,
            reason="registered in admin",
        )
        obj.pk = hospital.pk

    @admin.action(description=_("Issue an API key (shown once)"))
    def issue_api_key(self, request: HttpRequest, queryset: QuerySet[Hospital]) -> None:
        _issue_keys(self, request, list(queryset.select_related("province")), "issued in admin")

    @admin.action(description=_("Deactivate (their keys stop working)"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Hospital]) -> None:
        self._set_active(request, queryset, active=False, done=_("deactivated"))

    @admin.action(description=_("Activate"))
    def activate(self, request: HttpRequest, queryset: QuerySet[Hospital]) -> None:
        self._set_active(request, queryset, active=True, done=_("activated"))

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Hospital], *, active: bool, done: Any) -> None:
        for hospital in queryset.select_related("province"):
            self.run_service(
                request,
                hospital.code,
                lambda h=hospital: services.hospital_set_active(hospital=h, active=active, user=request.user),
                done,
            )


@admin.register(ApiKey)
class ApiKeyAdmin(PortalHistoryAdmin):
    """Keys are issued and revoked by actions only; the secret is never stored, so never shown."""

    list_display = ["prefix", "hospital", "name", "created_at", "created_by", "revoked_at", "last_used_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "hospital__province"]
    search_fields = ["=prefix", "hospital__code", "name"]
    list_select_related = ["hospital", "created_by"]
    readonly_fields = ["prefix", "hospital", "name", "created_at", "created_by", "revoked_at", "revoked_by", "last_used_at"]
    exclude = ["secret_sha256"]
    province_fields = HOSPITAL_PROVINCE
    actions = ["issue_key", "revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issue keys with the action (here or on hospitals): the key is shown once

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoked keys stay for audit

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)  # the list's actions only

    @admin.action(description=_("Issue a new key for the same hospital (shown once)"))
    def issue_key(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        hospitals = {key.hospital_id: key.hospital for key in queryset.select_related("hospital__province")}
        _issue_keys(self, request, list(hospitals.values()), "issued in admin")

    @admin.action(description=_("Revoke"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            self.run_service(
                request,
                key.prefix,
                lambda k=key: services.api_key_revoke(key=k, user=request.user, reason="revoked in admin"),
                _("revoked"),
            )
