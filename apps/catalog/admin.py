"""Catalog admin: drafts are edited through the services; published releases are read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import PortalAdmin, PortalHistoryAdmin
from apps.core.detail import REQUIRED, Action, DetailActionsMixin
from apps.core.errors import DomainError
from apps.core.reasons import error_message, error_tags

from . import services
from .models import ITEM_CONTENT_FIELDS, CatalogItem, CatalogRelease, ReleaseChange
from .selectors import release_losses


class NewDraftForm(forms.ModelForm):  # type: ignore[type-arg]
    """A new draft starts from the release in force when it takes effect, unless the person
    chooses another published release or an empty draft."""

    start_from = forms.ChoiceField(
        label=_("Start from"),
        help_text=_("The draft gets a copy of that release's items; its review then shows only what you change."),
    )

    class Meta:
        model = CatalogRelease
        fields = ["label", "effective_from"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        published = CatalogRelease.objects.filter(status=CatalogRelease.Status.PUBLISHED).order_by("-effective_from")
        self.fields["start_from"].choices = [  # type: ignore[attr-defined]
            (services.IN_FORCE, _("the release in force when the draft takes effect (recommended)")),
            *[
                (str(r.pk), _("published release %(label)s (from %(date)s)") % {"label": r.label, "date": r.effective_from})
                for r in published
            ],
            (START_EMPTY, _("nothing: an empty draft")),
        ]
        self.fields["start_from"].initial = services.IN_FORCE

    def based_on(self) -> Any:
        choice = self.cleaned_data["start_from"]
        if choice == START_EMPTY:
            return None
        if choice == services.IN_FORCE:
            return services.IN_FORCE
        return CatalogRelease.objects.get(pk=int(choice), status=CatalogRelease.Status.PUBLISHED)


START_EMPTY = "empty"


@admin.register(CatalogRelease)
class CatalogReleaseAdmin(DetailActionsMixin, PortalHistoryAdmin):
    """A release's change page is its detail page: the buttons this user may use (submit,
    approve, reject, publish; each behind a confirmation step, a reason required to reject) and
    its timeline (apps.core.detail). No bulk workflow actions."""

    list_display = ["label", "effective_from", "status", "item_total", "submitted_by", "approved_by", "published_at", "review_link"]
    list_filter = ["status"]
    search_fields = ["label"]
    ordering = ["-effective_from"]
    actions = None
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
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:catalog_catalogrelease_import", args=[obj.pk]), _("upload a file into this draft")
        )

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
                    raise DomainError(_("choose a file to upload"))
                job = import_enqueue(
                    release=release,
                    upload=upload,
                    fmt=request.POST.get("format", ""),
                    mode=request.POST.get("mode", "merge"),
                    user=request.user,
                )
            except DomainError as exc:
                messages.error(request, error_message(exc, subject=release.label), extra_tags=error_tags(exc))
                return redirect(request.path)
            # No "queued" banner: the job page says what happened (it may already have failed).
            return redirect("staff:job", pk=job.pk)
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
        return format_html('<a href="{}">{}</a>', reverse("catalog:release-review", args=[obj.label]), _("review"))

    def get_readonly_fields(self, request: HttpRequest, obj: CatalogRelease | None = None) -> Any:
        if obj is None:
            return []
        if obj.status != CatalogRelease.Status.DRAFT:
            return [f.name for f in CatalogRelease._meta.concrete_fields]
        return self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: CatalogRelease | None = None) -> bool:
        # Only a draft's details are edited; a release in review or later is read, and moved by its buttons.
        if obj is not None and obj.status != CatalogRelease.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: CatalogRelease | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = NewDraftForm
            kwargs["fields"] = ["label", "effective_from", "start_from"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: CatalogRelease | None = None) -> Any:
        if obj is None:
            return ["label", "effective_from", "start_from"]
        return super().get_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: CatalogRelease | None = None) -> bool:
        return obj is not None and obj.status == CatalogRelease.Status.DRAFT and super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: CatalogRelease) -> None:
        # Through the service: the release's row locked first, and an audit event.
        services.release_delete_draft(release=obj, user=request.user, reason="deleted in admin")

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
            based_on: Any = form.based_on() if isinstance(form, NewDraftForm) else services.IN_FORCE
            created = services.release_create_draft(
                label=obj.label, effective_from=obj.effective_from, user=request.user, based_on=based_on
            )
            obj.pk = created.pk

    def detail_summary(self, request: HttpRequest, obj: CatalogRelease) -> list[tuple[Any, Any]]:
        return [
            (_("release"), obj.label),
            (_("status"), obj.get_status_display()),
            (_("takes effect"), obj.effective_from),
            (_("items"), self.item_total(obj)),
            (_("submitted by"), obj.submitted_by or "—"),
            (_("approved by"), obj.approved_by or "—"),
        ]

    def detail_actions(self, request: HttpRequest, obj: CatalogRelease) -> list[Action]:
        user = request.user
        names = services.release_actions_for(release=obj, user=user)
        # A draft that removes items or empties fields against the release before it is submitted
        # only once the person ticked that she saw the counts (as on the review page).
        losses = release_losses(release=obj) if "submit" in names else {}
        losing = bool(losses.get("removed") or losses.get("cleared_fields"))
        offered = {
            "submit": Action(
                "submit",
                _("Submit for review"),
                lambda reason: services.release_submit(release=obj, user=user, confirm_removals=losing),
                explain=_("The draft is frozen for review; a reviewer who took no part in it approves it."),
                done=_("submitted for review"),
                warning=(
                    _(
                        "Against the release before it, this draft removes %(removed)s item(s) and empties "
                        "%(cleared)s field(s) of %(items)s item(s)."
                    )
                    % {"removed": losses["removed"], "cleared": losses["cleared_fields"], "items": losses["cleared_items"]}
                    if losing
                    else ""
                ),
                confirm=_("I checked the removed items and emptied fields: submit anyway") if losing else "",
            ),
            "approve": Action(
                "approve",
                _("Approve"),
                lambda reason: services.release_approve(release=obj, user=user),
                explain=_("A catalog administrator may then publish it."),
                done=_("approved"),
            ),
            "reject": Action(
                "reject",
                _("Send back to draft"),
                lambda reason: services.release_reject(release=obj, user=user, reason=reason),
                reason=REQUIRED,
                danger=True,
                explain=_("The release goes back to draft; its editors read your reason."),
                done=_("sent back to draft"),
            ),
            "publish": Action(
                "publish",
                _("Publish"),
                lambda reason: services.release_publish(release=obj, user=user),
                explain=_("The release becomes immutable, its diff and export files are stored and every hospital is notified."),
                done=_("published"),
            ),
        }
        return [offered[name] for name in names]


class ReleaseFilter(admin.SimpleListFilter):
    """Items of one release, by default the release in force today (a list of every release's
    items mixes versions of the same code); "all releases" on request."""

    title = _("release")
    parameter_name = "release"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        releases = CatalogRelease.objects.order_by("-effective_from").values_list("pk", "label", "status")
        status_label = dict(CatalogRelease.Status.choices)
        return [
            (self.ALL, _("all releases")),
            *[(str(pk), f"{label} ({status_label.get(status, status)})") for pk, label, status in releases],
        ]

    def default(self) -> str:
        from django.utils import timezone

        from .selectors import release_in_force

        release = release_in_force(on_date=timezone.localdate())
        return str(release.pk) if release is not None else self.ALL

    def value(self) -> Any:
        return super().value() or self.default()

    def queryset(self, request: HttpRequest, queryset: QuerySet[CatalogItem]) -> QuerySet[CatalogItem]:
        value = self.value()
        if value == self.ALL or not str(value).isdigit():
            return queryset
        return queryset.filter(release_id=int(value))

    def choices(self, changelist: Any) -> Any:
        value = self.value()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


@admin.register(CatalogItem)
class CatalogItemAdmin(PortalHistoryAdmin):
    list_display = ["code", "name", "kind", "category", "release", "manufacturer"]
    list_filter = ["kind", "category", ReleaseFilter]
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
