"""Catalog admin: drafts are edited through the services; published releases are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import PortalAdmin, PortalHistoryAdmin
from apps.core.errors import DomainError
from apps.core.reasons import error_message, error_tags

from . import services
from .models import ITEM_CONTENT_FIELDS, CatalogItem, CatalogRelease, ReleaseChange


def _run(request: HttpRequest, action: Any, releases: QuerySet[CatalogRelease], verb: str) -> None:
    for release in releases:
        try:
            action(release=release, user=request.user)
            messages.success(request, f"{release.label}: {verb}")
        except DomainError as exc:
            messages.error(request, error_message(exc, subject=release.label), extra_tags=error_tags(exc))


@admin.register(CatalogRelease)
class CatalogReleaseAdmin(PortalHistoryAdmin):
    list_display = ["label", "effective_from", "status", "item_total", "submitted_by", "approved_by", "published_at", "review_link"]
    list_filter = ["status"]
    search_fields = ["label"]
    ordering = ["-effective_from"]
    actions = ["submit", "approve", "publish"]
    list_select_related = ["submitted_by", "approved_by"]
    readonly_fields = [
        "status",
        "based_on",
        "previous",
        "created_by",
        "submitted_by",
        "submitted_at",
        "approved_by",
        "approved_at",
        "published_by",
        "published_at",
        "rejection_reason",
        "counts",
        "diff_counts",
        "sha256",
        "exports",
        "import_link",
    ]

    @admin.display(description=_("bulk import"))
    def import_link(self, obj: CatalogRelease) -> str:
        if obj.pk is None:
            return "—"
        return format_html('<a href="{}">upload a file into this draft</a>', reverse("admin:catalog_catalogrelease_import", args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        from django.urls import path

        return [
            path("<int:pk>/import/", self.admin_site.admin_view(self.import_view), name="catalog_catalogrelease_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Upload form on a draft: queues the import job and lists this release's import jobs."""
        from apps.core.models import Job

        from .importers.formats import FORMATS
        from .importers.services import JOB_KIND, MODES, import_enqueue

        release = get_object_or_404(CatalogRelease, pk=pk)
        if request.method == "POST":
            upload = request.FILES.get("file")
            try:
                if upload is None:
                    raise DomainError("choose a file to upload")
                job = import_enqueue(
                    release=release,
                    upload=upload,
                    fmt=request.POST.get("format", ""),
                    mode=request.POST.get("mode", "merge"),
                    user=request.user,
                )
                messages.success(request, _("%(release)s: import queued as job #%(job)s") % {"release": release.label, "job": job.pk})
            except DomainError as exc:
                messages.error(request, error_message(exc, subject=release.label), extra_tags=error_tags(exc))
            return redirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "release": release,
            "formats": FORMATS,
            "modes": MODES,
            "jobs": Job.objects.filter(kind=JOB_KIND, params__release=release.label).order_by("-created_at")[:20],
            "title": _("Import into %(release)s") % {"release": release.label},
        }
        return render(request, "admin/catalog/catalogrelease/import.html", context)

    @admin.display(description=_("items"))
    def item_total(self, obj: CatalogRelease) -> Any:
        return obj.counts.get("total", "—") if obj.counts else obj.items.count()

    @admin.display(description=_("review"))
    def review_link(self, obj: CatalogRelease) -> str:
        return format_html('<a href="{}">review</a>', reverse("catalog:release-review", args=[obj.label]))

    def get_readonly_fields(self, request: HttpRequest, obj: CatalogRelease | None = None) -> Any:
        if obj is not None and obj.status != CatalogRelease.Status.DRAFT:
            return [f.name for f in CatalogRelease._meta.concrete_fields]
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: CatalogRelease | None = None) -> bool:
        return obj is not None and obj.status == CatalogRelease.Status.DRAFT and super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: CatalogRelease, form: Any, change: bool) -> None:
        if change:
            # Through the service: the editor takes part in the release (and then never approves it).
            services.release_update_draft(
                release=CatalogRelease.objects.get(pk=obj.pk),
                user=request.user,
                label=obj.label,
                effective_from=obj.effective_from,
                reason=request.POST.get("_change_reason", "") or "edited in admin",
            )
        else:
            created = services.release_create_draft(label=obj.label, effective_from=obj.effective_from, user=request.user)
            obj.pk = created.pk

    @admin.action(description=_("Submit for review"))
    def submit(self, request: HttpRequest, queryset: QuerySet[CatalogRelease]) -> None:
        _run(request, services.release_submit, queryset, _("submitted"))

    @admin.action(description=_("Approve (second person)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[CatalogRelease]) -> None:
        _run(request, services.release_approve, queryset, _("approved"))

    @admin.action(description=_("Publish"))
    def publish(self, request: HttpRequest, queryset: QuerySet[CatalogRelease]) -> None:
        _run(request, services.release_publish, queryset, _("published"))


@admin.register(CatalogItem)
class CatalogItemAdmin(PortalHistoryAdmin):
    list_display = ["code", "name", "kind", "category", "release", "manufacturer"]
    list_filter = ["kind", "category", "release"]
    search_fields = ["=code", "name", "generic_name"]
    list_select_related = ["release"]
    show_full_result_count = False
    readonly_fields = ["kind", "category_path"]

    def get_readonly_fields(self, request: HttpRequest, obj: CatalogItem | None = None) -> Any:
        if obj is not None and obj.release.status != CatalogRelease.Status.DRAFT:
            return [f.name for f in CatalogItem._meta.concrete_fields]
        return self.readonly_fields

    def get_form(self, request: HttpRequest, obj: CatalogItem | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "release" in form.base_fields:
            form.base_fields["release"].queryset = CatalogRelease.objects.filter(status=CatalogRelease.Status.DRAFT)  # type: ignore[attr-defined]
        return form

    def has_change_permission(self, request: HttpRequest, obj: CatalogItem | None = None) -> bool:
        if obj is not None and obj.release.status != CatalogRelease.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: CatalogItem | None = None) -> bool:
        if obj is not None and obj.release.status != CatalogRelease.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: CatalogItem, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data.get(f, getattr(obj, f)) for f in ("code", *ITEM_CONTENT_FIELDS) if f not in ("kind", "category_path")}
        saved = services.item_put(
            release=obj.release, data=data, user=request.user, reason=form.cleaned_data.get("change_reason", "admin edit")
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CatalogItem) -> None:
        services.item_delete(release=obj.release, code=obj.code, user=request.user, reason="deleted in admin")


@admin.register(ReleaseChange)
class ReleaseChangeAdmin(PortalAdmin):
    """The stored diff of a published release (immutable, written by release_publish)."""

    list_display = ["release", "code", "change", "fields", "successors"]
    list_filter = ["change", "release"]
    search_fields = ["=code"]
    list_select_related = ["release"]
    show_full_result_count = False
    read_only = True
