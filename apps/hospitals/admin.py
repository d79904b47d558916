"""Hospitals admin: the registry, API keys (shown once), webhook endpoints (secret shown once),
the notice outbox and its deliveries. Every write goes through the services in services.py /
notices.py; notices, deliveries, attempts and acknowledgements are records, read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.core.admin import AddThroughServiceMixin, PortalAdmin, PortalHistoryAdmin
from apps.core.errors import DomainError

from . import notices, services
from .models import (
    ApiKey,
    ChangeNotice,
    DeliveryAttempt,
    Hospital,
    ItemUsage,
    NoticeCounter,
    NoticeDelivery,
    ReleaseAcknowledgement,
    WebhookEndpoint,
)

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


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AddThroughServiceMixin, PortalHistoryAdmin):
    """The signing secret is shown once, in a message, when created or rotated; never on a page."""

    list_display = ["id", "hospital", "url", "active", "failing_since", "disabled_reason", "created_at"]
    list_filter = ["active", "hospital__province"]
    search_fields = ["hospital__code", "url"]
    list_select_related = ["hospital"]
    fields = ["hospital", "url", "event_types", "active", "disabled_reason", "disabled_at", "failing_since", "previous_secret_expires_at"]
    province_fields = HOSPITAL_PROVINCE
    actions = ["rotate_secret", "enable"]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        state = ["active", "disabled_reason", "disabled_at", "failing_since", "previous_secret_expires_at"]
        return [*state, "hospital", "url", "event_types"] if obj is not None else state

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if change:
            return  # endpoints change through the actions (rotate, enable)
        from apps.core.permissions import require_province

        require_province(request.user, obj.hospital.province.code)
        endpoint, secret = notices.endpoint_create(hospital=obj.hospital, url=obj.url, event_types=obj.event_types or (), user=request.user)
        obj.pk = endpoint.pk
        self.message_user(
            request,
            _("Signing secret of endpoint %(id)s (shown this once): %(secret)s") % {"id": endpoint.pk, "secret": secret},
            messages.WARNING,
        )

    @admin.action(description=_("Rotate the signing secret (new one shown once)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            secret = self.run_service(
                request,
                f"endpoint {endpoint.pk}",
                lambda e=endpoint: notices.endpoint_rotate_secret(endpoint=e, user=request.user),
                _("rotated"),
            )
            if secret:
                self.message_user(
                    request, _("New secret of endpoint %(id)s (shown this once): %(secret)s") % {"id": endpoint.pk, "secret": secret}
                )

    @admin.action(description=_("Re-enable"))
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            self.run_service(
                request, f"endpoint {endpoint.pk}", lambda e=endpoint: notices.endpoint_enable(endpoint=e, user=request.user), _("enabled")
            )


def _replay(model_admin: PortalAdmin | PortalHistoryAdmin, request: HttpRequest, delivery_ids: list[int]) -> None:
    try:
        count = notices.deliveries_replay(delivery_ids=delivery_ids, user=request.user)
    except DomainError as exc:
        model_admin.message_user(request, f"{exc.detail} ({exc.code})", messages.ERROR)
        return
    model_admin.message_user(request, _("%(count)d deliveries queued again (pending ones are left alone)") % {"count": count})


@admin.register(ChangeNotice)
class ChangeNoticeAdmin(PortalAdmin):
    list_display = ["webhook_id", "hospital", "seq", "event_type", "release", "created_at"]
    list_filter = ["event_type", "hospital__province"]
    search_fields = ["=webhook_id", "hospital__code", "release__label"]
    list_select_related = ["hospital", "release"]
    province_fields = HOSPITAL_PROVINCE
    read_only = True


@admin.register(NoticeDelivery)
class NoticeDeliveryAdmin(PortalHistoryAdmin):
    list_display = ["id", "notice", "endpoint", "state", "attempts", "last_status", "last_error", "next_attempt_at", "delivered_at"]
    list_filter = ["state", "notice__hospital__province"]
    search_fields = ["notice__hospital__code", "notice__webhook_id", "endpoint__url"]
    list_select_related = ["notice", "endpoint"]
    province_fields = ("notice__hospital__province__code",)
    read_only = True
    actions = ["replay"]

    @admin.action(description=_("Replay selected (failed or delivered) deliveries"))
    def replay(self, request: HttpRequest, queryset: QuerySet[NoticeDelivery]) -> None:
        _replay(self, request, list(queryset.values_list("pk", flat=True)))


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(PortalAdmin):
    list_display = ["id", "delivery", "attempted_at", "status_code", "latency_ms", "error"]
    list_filter = ["status_code", "delivery__notice__hospital__province"]
    search_fields = ["delivery__notice__hospital__code", "error"]
    list_select_related = ["delivery"]
    province_fields = ("delivery__notice__hospital__province__code",)
    read_only = True
    actions = ["replay"]

    @admin.action(description=_("Replay the deliveries of the selected attempts"))
    def replay(self, request: HttpRequest, queryset: QuerySet[DeliveryAttempt]) -> None:
        _replay(self, request, sorted(set(queryset.values_list("delivery_id", flat=True))))


@admin.register(ReleaseAcknowledgement)
class ReleaseAcknowledgementAdmin(PortalHistoryAdmin):
    list_display = ["hospital", "release", "loaded_at", "items_count", "acknowledged_at"]
    list_filter = ["release", "hospital__province"]
    search_fields = ["hospital__code", "release__label"]
    list_select_related = ["hospital", "release"]
    province_fields = HOSPITAL_PROVINCE
    read_only = True


@admin.register(ItemUsage)
class ItemUsageAdmin(PortalAdmin):
    list_display = ["hospital", "code", "reported_at"]
    search_fields = ["hospital__code", "=code"]
    list_filter = ["hospital__province"]
    list_select_related = ["hospital"]
    province_fields = HOSPITAL_PROVINCE
    read_only = True


@admin.register(NoticeCounter)
class NoticeCounterAdmin(PortalAdmin):
    list_display = ["hospital", "last_seq", "last_release"]
    search_fields = ["hospital__code"]
    list_select_related = ["hospital", "last_release"]
    province_fields = HOSPITAL_PROVINCE
    read_only = True
