"""Admin building blocks every app uses, and the admin of core's own models.

``ProvinceScopedAdmin`` is the one place province scoping lives: staff of one province
(``staff_province(user)``) see, open, act on and read the history of only the rows whose
``province_fields`` name their province. It also makes auditors read-only everywhere and hides
workflow actions from users without the model's change permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from .errors import DomainError
from .forms import yuan_formfield
from .jobs import job_view, jobs_visible_to
from .models import AuditAction, AuditEvent, Job, OutgoingEmail, StaffProfile
from .permissions import reads_money, staff_province, staff_role
from .reasons import actor_label, error_message, error_tags, reason_label
from .roles import Role
from .selectors import audit_csv_rows, audit_readable_by
from .services import staff_set_role

# Foreign-key choices narrowed to the user's province: {model label (lower case): path to its province code}.
SCOPED_CHOICES: dict[str, str] = {
    "benefits.province": "code",
    "benefits.poolingregion": "province__code",
    "hospitals.hospital": "province__code",
}


def _scoped_path(model: Any, lookup: str) -> str | None:
    """The SCOPED_CHOICES path of the related model a list filter ``lookup`` ends on, if any."""
    try:
        fields = get_fields_from_path(model, lookup)
    except Exception:  # noqa: BLE001 - not a relation path: leave the filter alone
        return None
    related = getattr(fields[-1], "related_model", None)
    return SCOPED_CHOICES.get(related._meta.label_lower) if related is not None else None


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A related-object filter whose choices a province-bound user may see: her province (or its
    regions, hospitals). Its output is hidden by Django when one choice is left."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        province = scoped_province(request)
        path = SCOPED_CHOICES.get(field.related_model._meta.label_lower)
        if not province or not path:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        related = field.related_model._default_manager.filter(**{path: province})
        if ordering:
            related = related.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in related]


def scoped_province(request: HttpRequest) -> str:
    """The province a user is bound to ('' for national staff and superusers)."""
    if getattr(request.user, "is_superuser", False):
        return ""
    return staff_province(request.user)


def is_auditor(request: HttpRequest) -> bool:
    return not getattr(request.user, "is_superuser", False) and staff_role(request.user) == Role.AUDITOR


class ProvinceScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Mixin for every portal ModelAdmin (put it first in the bases).

    - ``province_fields``: paths to a province code, e.g. ``("province__code",)`` or
      ``("from_account__province__code", "to_account__province__code")``; a row is the
      province's when any of them matches. Empty = national data, not scoped.
    - ``national_rows_field``: rows where this path is NULL are national and visible to all.
    - ``read_only``: records written only by services (no add/change/delete in admin).
    Override ``scope_queryset`` when a model needs a different rule.
    """

    province_fields: tuple[str, ...] = ()
    national_rows_field: str | None = None
    read_only: bool = False

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any], province: str) -> QuerySet[Any]:
        if not self.province_fields:
            return queryset
        condition = Q()
        for field_path in self.province_fields:
            condition |= Q(**{field_path: province})
        if self.national_rows_field:
            condition |= Q(**{f"{self.national_rows_field}__isnull": True})
        return queryset.filter(condition)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        province = scoped_province(request)
        return self.scope_queryset(request, queryset, province) if province else queryset

    def in_scope(self, request: HttpRequest, object_id: Any) -> bool:
        return self.get_queryset(request).filter(pk=object_id).exists()

    # --- who may write ---------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not (self.read_only or is_auditor(request)) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not (self.read_only or is_auditor(request)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not (self.read_only or is_auditor(request)) and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """Workflow actions call services that check the rules; the list offers them only to
        users who may change this model at all (never to auditors)."""
        opts = self.model._meta
        if is_auditor(request) or not request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"):
            return {}
        actions = super().get_actions(request)
        if self.read_only:
            actions.pop("delete_selected", None)
        return actions

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Money columns (``*_fen``) are typed and shown in yuan (元), parsed exactly into fen."""
        yuan = yuan_formfield(db_field)
        return yuan if yuan is not None else super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Filters on a province, a region or a hospital offer a province-bound user her own only
        (and disappear when that leaves one choice)."""
        return [
            (entry, ScopedRelatedFieldListFilter) if isinstance(entry, str) and _scoped_path(self.model, entry) else entry
            for entry in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        province = scoped_province(request)
        path = SCOPED_CHOICES.get(db_field.related_model._meta.label_lower)
        if province and path:
            base = kwargs.get("queryset") or db_field.related_model._default_manager.all()
            kwargs["queryset"] = base.filter(**{path: province})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- history views (simple-history falls back to the last historical row otherwise) ------

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if scoped_province(request) and not self.in_scope(request, unquote(object_id)):
            raise Http404("no such object in your province")
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None) -> HttpResponse:
        if scoped_province(request) and not self.in_scope(request, unquote(object_id)):
            raise Http404("no such object in your province")
        return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]

    # --- helpers for actions -------------------------------------------------------------------

    def run_service(self, request: HttpRequest, label: str, call: Any, done: Any) -> Any:
        """Call one service for one row; report success or the domain error by the row's name."""
        try:
            result = call()
        except DomainError as exc:
            self.message_user(request, error_message(exc, subject=label), messages.ERROR, extra_tags=error_tags(exc))
            return None
        self.message_user(request, f"{label}: {done}", messages.SUCCESS)
        return result


class MoneyReadersAdmin(ProvinceScopedAdmin):
    """Admin of money (fund accounts, entries, transfers, settlements, reconciliation): who views
    it is the money allow-list (``apps.core.permissions.MONEY_READERS``), not the role's group
    permissions; writing still needs the group's add/change permission and the services' rules.
    Province-bound readers see their province's rows (``province_fields``)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return reads_money(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return reads_money(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return reads_money(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return reads_money(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return reads_money(request.user) and super().has_delete_permission(request, obj)


class AddThroughServiceMixin:
    """For an admin whose save_model creates the row through a service: a domain error on
    "add" comes back as a message on the add page instead of a server error."""

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().add_view(request, form_url, extra_context)  # type: ignore[misc]
        except DomainError as exc:
            self.message_user(request, error_message(exc), messages.ERROR, extra_tags=error_tags(exc))  # type: ignore[attr-defined]
            return HttpResponseRedirect(request.get_full_path())


class PortalAdmin(ProvinceScopedAdmin):
    """Scoped admin for models without simple-history."""


class PortalHistoryAdmin(ProvinceScopedAdmin, SimpleHistoryAdmin):  # type: ignore[misc]
    """Scoped admin with the simple-history views (read-only for auditors; reverting is disabled)."""


@admin.register(StaffProfile)
class StaffProfileAdmin(PortalHistoryAdmin):
    list_display = ["user", "role", "province_code"]
    list_filter = ["role", "province_code"]
    search_fields = ["user__username", "province_code"]
    list_select_related = ["user"]
    fields = ["user", "role", "province_code"]
    province_fields = ("province_code",)
    autocomplete_fields = ["user"]

    def get_readonly_fields(self, request: HttpRequest, obj: StaffProfile | None = None) -> Any:
        return ["user"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: StaffProfile, form: Any, change: bool) -> None:
        """Roles change through staff_set_role, so the user's group (and permissions) follow."""
        profile = staff_set_role(
            user=obj.user,
            role=form.cleaned_data["role"],
            province_code=form.cleaned_data.get("province_code", ""),
            reason="role changed in admin" if change else "role given in admin",
            actor=request.user,
        )
        obj.pk = profile.pk

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)

        class StaffProfileForm(base):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                from django.core.exceptions import ValidationError

                from .codes import CodeError, validate_province_code
                from .roles import PROVINCE_REQUIRED_ROLES

                data = super().clean()
                if data.get("role") in PROVINCE_REQUIRED_ROLES and not data.get("province_code"):
                    raise ValidationError({"province_code": _("this role works for one province: give its code")})
                if data.get("province_code"):
                    try:
                        data["province_code"] = validate_province_code(data["province_code"])
                    except CodeError as exc:
                        raise ValidationError({"province_code": exc.reason}) from exc
                return data

        return StaffProfileForm


JOB_FIELDS_SHOWN: tuple[str, ...] = (
    "kind",
    "state",
    "progress",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
    "error_count",
    "shown_errors",
    "shown_result",
)


@admin.register(Job)
class JobAdmin(PortalAdmin):
    """Background jobs (imports, reconciliation runs): progress only, written by the workers.
    Lists and pages follow ``jobs_visible_to``; a job's result and errors are shown as
    ``job_view`` lets the viewer see them (never the raw columns)."""

    list_display = ["id", "kind", "state", "progress", "error_count", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "state"]
    search_fields = ["kind", "created_by__username"]
    list_select_related = ["created_by"]
    fields = JOB_FIELDS_SHOWN
    readonly_fields = JOB_FIELDS_SHOWN
    read_only = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request) & jobs_visible_to(user=request.user)

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any], province: str) -> QuerySet[Any]:
        return queryset  # jobs_visible_to (above) is the one rule

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        job = super().get_object(request, object_id, from_field)
        if job is not None:
            try:
                job.shown = job_view(job=job, user=request.user)
            except DomainError as exc:
                raise PermissionDenied(exc.localized()) from exc
        return job

    @admin.display(description=_("errors"))
    def shown_errors(self, obj: Job) -> Any:
        shown = getattr(obj, "shown", None)
        return shown.errors if shown is not None else "—"

    @admin.display(description=_("result"))
    def shown_result(self, obj: Job) -> Any:
        shown = getattr(obj, "shown", None)
        return shown.result if shown is not None else "—"

    @admin.display(description=_("progress"))
    def progress(self, obj: Job) -> str:
        if obj.total:
            return f"{obj.done:,} / {obj.total:,} ({100 * obj.done // obj.total}%)"
        return f"{obj.done:,}"


class AuditActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in AuditAction.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(PortalAdmin):
    """The auditor's page: every action, filtered by actor, action, province and date, with a
    CSV export of exactly the filtered rows. Read-only (PostgreSQL refuses changes anyway)."""

    list_display = ["occurred_at", "actor_shown", "action_name", "object_kind", "object_id", "object_repr", "province_code", "reason_shown"]
    list_filter = [AuditActionFilter, "province_code", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["=actor_label", "=object_id", "object_repr"]
    date_hierarchy = "occurred_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_per_page = 100
    show_full_result_count = False
    read_only = True
    province_fields = ("province_code",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return audit_readable_by(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return audit_readable_by(request.user) or super().has_module_permission(request)

    @admin.display(description=_("object type"), ordering="object_type")
    def object_kind(self, obj: AuditEvent) -> str:
        """The model's name people read (the stored ``app.model`` stays in the CSV export and the filter)."""
        from django.apps import apps as django_apps

        try:
            return str(django_apps.get_model(obj.object_type)._meta.verbose_name)
        except (LookupError, ValueError):
            return obj.object_type

    @admin.display(description=_("reason"), ordering="reason")
    def reason_shown(self, obj: AuditEvent) -> str:
        return reason_label(obj.reason)

    @admin.display(description=_("actor"), ordering="actor_label")
    def actor_shown(self, obj: AuditEvent) -> str:
        return actor_label(obj.actor_label)

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, obj: AuditEvent) -> str:
        return obj.action_label

    def get_urls(self) -> list[Any]:
        export = path("export.csv", self.admin_site.admin_view(self.export_csv), name="core_auditevent_export")
        return [export, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        query = request.GET.urlencode()
        extra = {"export_url": reverse("admin:core_auditevent_export") + (f"?{query}" if query else ""), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def export_csv(self, request: HttpRequest) -> StreamingHttpResponse:
        """The rows the list shows under the same filters, as a streamed CSV file."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        events = self.get_changelist_instance(request).get_queryset(request)
        response = StreamingHttpResponse(audit_csv_rows(events), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{timezone.localdate():%Y%m%d}.csv"'
        return response


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(PortalAdmin):
    """The email outbox: what was sent to whom, and what still waits (with the last error)."""

    list_display = ["created_at", "key", "recipient", "subject", "sent_at", "attempts", "last_error"]
    list_filter = [("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["=recipient", "key"]
    readonly_fields = [f.name for f in OutgoingEmail._meta.fields]
    read_only = True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return audit_readable_by(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return audit_readable_by(request.user) or super().has_module_permission(request)


from . import third_party_admin  # noqa: E402,F401  (after every app's admin registered its classes)
