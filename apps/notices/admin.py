"""Notices admin: webhook endpoints (secret shown once, in a message), the outbox, deliveries with
their attempts (full error detail: staff only), acknowledgements. Every write goes through
services.py; notices, deliveries, attempts and acknowledgements are records, read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.core.admin import AddThroughServiceMixin, PortalAdmin, PortalHistoryAdmin
from apps.core.errors import DomainError
from apps.core.permissions import require_province
from apps.core.reasons import error_message, error_tags

from . import services
from .models import ChangeNotice, DeliveryAttempt, ItemUsage, NoticeCounter, NoticeDelivery, ReleaseAcknowledgement, WebhookEndpoint

HOSPITAL_PROVINCE = ("hospital__province__code",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AddThroughServiceMixin, PortalHistoryAdmin):
    """The signing secret is shown once, in a message, when created or rotated; never on a page."""

    list_display = ["id", "hospital", "url", "active", "failing_since", "disabled_reason", "deleted_at", "created_at"]
    list_filter = ["active", ("deleted_at", admin.EmptyFieldListFilter), "hospital__province"]
    search_fields = ["hospital__code", "url"]
    list_select_related = ["hospital"]
    fields = [
        "hospital",
        "url",
        "event_types",
        "active",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "previous_secret_expires_at",
        "deleted_at",
    ]
    province_fields = HOSPITAL_PROVINCE
    actions = ["rotate_secret", "rotate_secret_retire_old_now", "enable", "delete_endpoints"]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        state = ["active", "disabled_reason", "disabled_at", "failing_since", "previous_secret_expires_at", "deleted_at"]
        return [*state, "hospital", "url", "event_types"] if obj is not None else state

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if change:
            return  # endpoints change through the actions (rotate, enable)
        require_province(request.user, obj.hospital.province.code)
        endpoint, secret = services.endpoint_create(
            hospital=obj.hospital, url=obj.url, event_types=obj.event_types or (), user=request.user
        )
        obj.pk = endpoint.pk
        self.message_user(
            request,
            _("Signing secret of endpoint %(id)s (shown this once): %(secret)s") % {"id": endpoint.pk, "secret": secret},
            messages.WARNING,
        )

    def _rotate(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint], *, retire_old_now: bool) -> None:
        for endpoint in queryset:
            secret = self.run_service(
                request,
                _("endpoint %(id)s") % {"id": endpoint.pk},
                lambda e=endpoint: services.endpoint_rotate_secret(endpoint=e, user=request.user, retire_old_now=retire_old_now),
                _("rotated"),
            )
            if secret:
                self.message_user(
                    request, _("New secret of endpoint %(id)s (shown this once): %(secret)s") % {"id": endpoint.pk, "secret": secret}
                )

    @admin.action(description=_("Rotate the signing secret (new one shown once; the old one signs for 24 h more)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._rotate(request, queryset, retire_old_now=False)

    @admin.action(description=_("Rotate the signing secret and retire the old one now (leaked secret)"))
    def rotate_secret_retire_old_now(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._rotate(request, queryset, retire_old_now=True)

    @admin.action(description=_("Delete (stops deliveries; the record stays)"))
    def delete_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.filter(deleted_at__isnull=True):
            self.run_service(
                request,
                _("endpoint %(id)s") % {"id": endpoint.pk},
                lambda e=endpoint: services.endpoint_delete(endpoint=e, user=request.user),
                _("deleted"),
            )

    @admin.action(description=_("Re-enable"))
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            self.run_service(
                request,
                _("endpoint %(id)s") % {"id": endpoint.pk},
                lambda e=endpoint: services.endpoint_enable(endpoint=e, user=request.user),
                _("enabled"),
            )


def _replay(model_admin: PortalAdmin | PortalHistoryAdmin, request: HttpRequest, delivery_ids: list[int]) -> None:
    count = 0
    step = services.REPLAY_MAX_IDS  # the service takes at most this many per call
    for start in range(0, len(delivery_ids), step):
        try:
            count += services.deliveries_replay(delivery_ids=delivery_ids[start : start + step], user=request.user)
        except DomainError as exc:
            model_admin.message_user(request, error_message(exc), messages.ERROR, extra_tags=error_tags(exc))
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
    # Staff read the full error (transport detail); hospitals only ever get last_error_code.
    list_display = [
        "id",
        "notice",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "last_error_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
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
    list_display = ["id", "delivery", "attempted_at", "status_code", "latency_ms", "error_code", "error"]
    list_filter = ["status_code", "error_code", "delivery__notice__hospital__province"]
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
    list_display = ["hospital", "last_seq"]
    search_fields = ["hospital__code"]
    list_select_related = ["hospital"]
    province_fields = HOSPITAL_PROVINCE
    read_only = True
