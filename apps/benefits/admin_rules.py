"""Admin of the pre-check's rules: disease lists and policy disease terms, daily doses, service
price schedules, DRG tables and the ICD-9-CM-3 reference. Every write goes through a service
(two people where money is decided); pages only parse forms and show the result."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import AddThroughServiceMixin, PortalAdmin, PortalHistoryAdmin, scoped_province
from apps.core.errors import DomainError
from apps.core.money import format_yuan, yuan_to_fen
from apps.core.reasons import error_message, row_error_label

from . import services
from .models import (
    BenefitPolicy,
    DailyDose,
    Disease,
    DrgAreaRate,
    DrgGroup,
    DrgVersion,
    PolicyDiseaseTerm,
    ProcedureCode,
    Province,
    ServicePrice,
)


def _upload_page(
    request: HttpRequest, admin_site: Any, *, title: Any, help_text: Any, form: forms.Form, errors: list[Any], back: str
) -> Any:
    context = {**admin_site.each_context(request), "title": title, "help_text": help_text, "form": form, "row_errors": errors, "back": back}
    return TemplateResponse(request, "benefits/upload.html", context)


# --- diseases -----------------------------------------------------------------------------------


class DiseaseForm(forms.ModelForm):  # type: ignore[type-arg]
    # Here only a province's own diseases are kept; the national list is a data file.
    province = forms.ModelChoiceField(Province.objects.all(), label=_("Province"))
    prefixes = forms.CharField(label=_("ICD-10 prefixes"), help_text=_("separated by ; or , — e.g. I10;I11 or C34.1"))

    class Meta:
        model = Disease
        fields = ["province", "code", "name", "kind"]


@admin.register(Disease)
class DiseaseAdmin(AddThroughServiceMixin, PortalHistoryAdmin):
    """National diseases (the data file) are visible to all and changed by no one here; a
    province's own diseases are its staff's."""

    # By name: a listed disease's code (``diabetes``) is an identifier for files and the API, not a label.
    list_display = ["name", "kind", "province", "prefix_list", "cross_province"]
    list_filter = ["kind", "cross_province", "province"]
    search_fields = ["code", "name"]
    province_fields = ("province__code",)
    national_rows_field = "province"
    form = DiseaseForm

    @admin.display(description=_("ICD-10 prefixes"))
    def prefix_list(self, obj: Disease) -> str:
        return "; ".join(obj.icd10_prefixes)

    def has_change_permission(self, request: HttpRequest, obj: Disease | None = None) -> bool:
        if obj is not None and obj.province_id is None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields["prefixes"].initial = "; ".join(obj.icd10_prefixes)
        return form

    def save_model(self, request: HttpRequest, obj: Disease, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = services.disease_save(
            user=request.user, province=data["province"], code=data["code"], name=data["name"], kind=data["kind"],
            icd10_prefixes=data["prefixes"], reason="admin",
        )  # fmt: skip
        obj.pk = saved.pk


class DiseaseTermsForm(forms.Form):
    terms = forms.CharField(
        label=_("Disease terms"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 70}),
        help_text=_("one disease per row: disease code, ratio (0–1, blank = the policy's), deductible in yuan, annual cap in yuan"),
    )

    def clean_terms(self) -> list[dict[str, Any]]:
        parsed = []
        for number, row in enumerate(self.cleaned_data["terms"].splitlines(), start=1):
            if not row.strip():
                continue
            cells = [cell.strip() for cell in row.split(",")] + ["", "", ""]
            try:
                parsed.append(
                    {
                        "disease": cells[0],
                        "ratio": Decimal(cells[1]) if cells[1] else None,
                        "deductible_fen": yuan_to_fen(cells[2]) if cells[2] else None,
                        "annual_cap_fen": yuan_to_fen(cells[3]) if cells[3] else None,
                    }
                )
            except (ValueError, InvalidOperation) as exc:
                raise forms.ValidationError(_("row %(n)s: expected disease,ratio,deductible yuan,cap yuan") % {"n": number}) from exc
        return parsed


def disease_terms_view(model_admin: Any, request: HttpRequest, pk: int) -> HttpResponse:
    """The disease terms of one draft policy, replaced as a whole by its author."""
    policy = get_object_or_404(model_admin.get_queryset(request), pk=pk)
    current = "\n".join(
        ",".join(
            [
                term.disease.code,
                "" if term.ratio is None else str(term.ratio),
                "" if term.deductible_fen is None else f"{term.deductible_fen / 100:.2f}",
                "" if term.annual_cap_fen is None else f"{term.annual_cap_fen / 100:.2f}",
            ]
        )
        for term in PolicyDiseaseTerm.objects.filter(policy=policy).select_related("disease")
    )
    form = DiseaseTermsForm(request.POST or None, initial={"terms": current})
    errors: list[Any] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_disease_terms_set(policy=policy, user=request.user, terms=form.cleaned_data["terms"], reason="set in admin")
            return HttpResponseRedirect(reverse("admin:benefits_benefitpolicy_change", args=[policy.pk]))
        except DomainError as exc:
            errors = [error_message(exc), *(f"{e.get('field', '')}: {e.get('message', '')}" for e in exc.errors)]
    listable = Disease.objects.filter(province__isnull=True) | Disease.objects.filter(province_id=policy.province_id)
    help_text = _("Listed diseases: %(codes)s") % {"codes": ", ".join(f"{d.code} ({d.name})" for d in listable.order_by("code"))}
    back = reverse("admin:benefits_benefitpolicy_change", args=[policy.pk])
    return _upload_page(
        request,
        model_admin.admin_site,
        title=_("Disease terms of %(p)s") % {"p": policy},
        help_text=help_text,
        form=form,
        errors=errors,
        back=back,
    )


def disease_terms_urls(model_admin: Any) -> list[URLPattern]:
    view = model_admin.admin_site.admin_view(lambda request, pk: disease_terms_view(model_admin, request, pk))
    return [path("<int:pk>/diseases/", view, name="benefits_benefitpolicy_diseases")]


@admin.display(description=_("disease terms"))
def disease_terms_link(obj: BenefitPolicy) -> str:
    """The policy's disease terms as text, and the page that sets them (no inline: terms are
    replaced as a whole by one service call, never row by row)."""
    if obj.pk is None:
        return "—"
    ratio, deductible, cap = _("ratio"), _("deductible"), _("cap")
    terms = [
        f"{t.disease.code} ({t.disease.name}): "
        + ", ".join(
            part
            for part in (
                f"{ratio} {t.ratio}" if t.ratio is not None else "",
                f"{deductible} {format_yuan(t.deductible_fen)}" if t.deductible_fen is not None else "",
                f"{cap} {format_yuan(t.annual_cap_fen)}" if t.annual_cap_fen is not None else "",
            )
            if part
        )
        for t in PolicyDiseaseTerm.objects.filter(policy=obj).select_related("disease")
    ]
    return format_html(
        '{}<br><a href="{}">{}</a>',
        "; ".join(terms) or _("none"),
        reverse("admin:benefits_benefitpolicy_diseases", args=[obj.pk]),
        _("set the disease terms"),
    )


# --- daily doses -------------------------------------------------------------------------------


class DailyDoseForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = DailyDose
        fields = ["code", "units_per_day", "note"]


@admin.register(DailyDose)
class DailyDoseAdmin(AddThroughServiceMixin, PortalHistoryAdmin):
    list_display = ["code", "units_per_day", "status", "proposed_by", "approved_by", "approved_at"]
    list_filter = ["status"]
    search_fields = ["code"]
    actions = ["approve"]
    form = DailyDoseForm

    def has_change_permission(self, request: HttpRequest, obj: DailyDose | None = None) -> bool:
        if obj is not None:
            return False  # a dose is proposed once and approved as proposed
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: DailyDose, form: Any, change: bool) -> None:
        data = form.cleaned_data
        obj.pk = services.daily_dose_propose(
            user=request.user, code=data["code"], units_per_day=data["units_per_day"], note=data["note"]
        ).pk

    @admin.action(description=_("Approve selected daily doses (a reviewer who did not propose them)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[DailyDose]) -> None:
        for dose in queryset:
            self.run_service(request, f"{dose.code}", lambda d=dose: services.daily_dose_approve(dose=d, user=request.user), _("approved"))


# --- service prices --------------------------------------------------------------------------------


class PriceImportForm(forms.Form):
    province = forms.ModelChoiceField(Province.objects.all(), to_field_name="code", label=_("Province"))
    effective_from = forms.DateField(label=_("In force from"), initial=dt.date.today)
    file = forms.FileField(label=_("CSV file"), help_text=_("header code,price_fen (fen per pricing unit); UTF-8 or GB18030"))


@admin.register(ServicePrice)
class ServicePriceAdmin(PortalHistoryAdmin):
    list_display = ["province", "code", "price_yuan", "effective_from", "effective_to"]
    list_filter = ["province"]
    search_fields = ["code"]
    province_fields = ("province__code",)
    read_only = True
    change_list_template = "admin/benefits/serviceprice/change_list.html"

    @admin.display(description=_("price (yuan)"), ordering="price_fen")
    def price_yuan(self, obj: ServicePrice) -> str:
        return format_yuan(obj.price_fen)

    def get_urls(self) -> list[URLPattern]:
        extra = [path("import/", self.admin_site.admin_view(self.import_view), name="benefits_serviceprice_import")]
        return extra + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        form = PriceImportForm(request.POST or None, request.FILES or None)
        province = scoped_province(request)
        if province:
            form.fields["province"].queryset = Province.objects.filter(code=province)  # type: ignore[attr-defined]
        errors: list[Any] = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = services.service_prices_import(
                    user=request.user, province=data["province"], effective_from=data["effective_from"], stream=data["file"]
                )
                self.message_user(request, _("%(rows)s prices imported, %(closed)s earlier prices closed") % result)
                return HttpResponseRedirect(reverse("admin:benefits_serviceprice_changelist"))
            except DomainError as exc:
                errors = [
                    error_message(exc),
                    *(row_error_label(e) for e in exc.errors),
                ]
        back = reverse("admin:benefits_serviceprice_changelist")
        return _upload_page(request, self.admin_site, title=_("Import a price schedule"), help_text="", form=form, errors=errors, back=back)


# --- DRG tables ----------------------------------------------------------------------------------


class DrgGroupInline(admin.TabularInline):  # type: ignore[type-arg]
    model = DrgGroup
    fields = ["code", "name", "weight"]
    readonly_fields = ["code", "name", "weight"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DrgAreaRateInline(DrgGroupInline):
    model = DrgAreaRate  # type: ignore[assignment]
    fields = ["area_code", "base_rate_fen", "out_of_town_from"]
    readonly_fields = ["area_code", "base_rate_fen", "out_of_town_from"]


class DrgVersionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = DrgVersion
        fields = ["label", "effective_from", "based_on", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "based_on" in self.fields:
            self.fields["based_on"].queryset = DrgVersion.objects.filter(status=DrgVersion.Status.PUBLISHED)  # type: ignore[attr-defined]


class DrgUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))


DRG_UPLOADS = {
    "groups": (services.drg_groups_import, _("DRG groups: header code,name,weight")),
    "rates": (services.drg_area_rates_import, _("Area rates: header area_code,base_rate_fen,out_of_town_from (YYYY-MM-DD)")),
}


@admin.register(DrgVersion)
class DrgVersionAdmin(AddThroughServiceMixin, PortalHistoryAdmin):
    """DRG tables: created and filled by catalog administrators, approved by a reviewer who took
    no part, published like a catalog release; read-only from review on."""

    list_display = ["label", "effective_from", "status", "group_count", "area_count", "submitted_by", "approved_by", "published_at"]
    list_filter = ["status"]
    search_fields = ["label"]
    actions = ["submit", "approve", "publish"]
    inlines = [DrgGroupInline, DrgAreaRateInline]
    form = DrgVersionForm
    readonly_fields = [
        "status", "uploads", "created_by", "submitted_by", "submitted_at", "approved_by", "approved_at",
        "published_by", "published_at", "rejection_reason",
    ]  # fmt: skip

    @admin.display(description=_("groups"))
    def group_count(self, obj: DrgVersion) -> int:
        return obj.groups.count()

    @admin.display(description=_("areas"))
    def area_count(self, obj: DrgVersion) -> int:
        return obj.area_rates.count()

    @admin.display(description=_("upload"))
    def uploads(self, obj: DrgVersion) -> str:
        if obj.pk is None or obj.status != DrgVersion.Status.DRAFT:
            return "—"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:benefits_drgversion_upload", args=[obj.pk, "groups"]),
            _("groups"),
            reverse("admin:benefits_drgversion_upload", args=[obj.pk, "rates"]),
            _("area rates"),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ["label", "effective_from", "based_on", "note", *self.readonly_fields]
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: DrgVersion, form: Any, change: bool) -> None:
        if change:
            return  # nothing is edited on the page itself: uploads and actions go through services
        data = form.cleaned_data
        created = services.drg_version_create(
            user=request.user,
            label=data["label"],
            effective_from=data["effective_from"],
            based_on=data.get("based_on"),
            note=data.get("note", ""),
        )
        obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The inlines are read-only; rows come from the service's copy or the uploads."""

    def get_urls(self) -> list[URLPattern]:
        extra = [path("<int:pk>/upload/<str:what>/", self.admin_site.admin_view(self.upload_view), name="benefits_drgversion_upload")]
        return extra + super().get_urls()

    def upload_view(self, request: HttpRequest, pk: int, what: str) -> HttpResponse:
        version = get_object_or_404(DrgVersion, pk=pk)
        if what not in DRG_UPLOADS:
            raise Http404(what)
        service, help_text = DRG_UPLOADS[what]
        form = DrgUploadForm(request.POST or None, request.FILES or None)
        errors: list[Any] = []
        if request.method == "POST" and form.is_valid():
            try:
                count = service(version=version, user=request.user, stream=form.cleaned_data["file"])
                self.message_user(request, _("%(n)s rows imported") % {"n": count})
                return HttpResponseRedirect(reverse("admin:benefits_drgversion_change", args=[version.pk]))
            except DomainError as exc:
                errors = [
                    error_message(exc),
                    *(row_error_label(e) for e in exc.errors),
                ]
        back = reverse("admin:benefits_drgversion_change", args=[version.pk])
        return _upload_page(
            request, self.admin_site, title=f"{version.label}: {help_text}", help_text="", form=form, errors=errors, back=back
        )

    def _each(self, request: HttpRequest, queryset: QuerySet[DrgVersion], call: Any, verb: Any) -> None:
        for version in queryset:
            self.run_service(request, version.label, lambda v=version: call(version=v, user=request.user), verb)

    @admin.action(description=_("Submit selected DRG tables for review"))
    def submit(self, request: HttpRequest, queryset: QuerySet[DrgVersion]) -> None:
        self._each(request, queryset, services.drg_version_submit, _("submitted"))

    @admin.action(description=_("Approve selected DRG tables (a reviewer who took no part)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[DrgVersion]) -> None:
        self._each(request, queryset, services.drg_version_approve, _("approved"))

    @admin.action(description=_("Publish selected approved DRG tables"))
    def publish(self, request: HttpRequest, queryset: QuerySet[DrgVersion]) -> None:
        self._each(request, queryset, services.drg_version_publish, _("published"))


# --- ICD-9-CM-3 reference -------------------------------------------------------------------------


@admin.register(ProcedureCode)
class ProcedureCodeAdmin(PortalAdmin):
    list_display = ["code", "name", "detail_code", "chapter_range"]
    search_fields = ["code", "name"]
    read_only = True
