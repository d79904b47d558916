"""Benefits admin: province staff see and keep only their province; writes go through services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import HospitalLevel
from apps.core.admin import PortalAdmin, PortalHistoryAdmin
from apps.core.codes import CodeError, normalise_code, validate_catalog_code
from apps.core.detail import REQUIRED, Action, DetailActionsMixin
from apps.core.errors import DomainError
from apps.core.money import format_yuan, yuan_to_fen
from apps.core.permissions import require_province, require_role, staff_province
from apps.core.reasons import error_message

from . import admin_rules, services
from .adjudication import REASON_LABELS, Claim
from .models import BenefitPolicy, CareSetting, DiagnosisCode, LocalItem, PoolingRegion, Province, Scheme
from .selectors import local_items_lapsing
from .simulation import SimulatedLine, Simulation, simulate


class ProvinceScopedAdmin(PortalHistoryAdmin):
    """Province-scoped staff see only rows of their own province (``province`` FK)."""

    province_fields = ("province__code",)
    list_select_related = ["province"]


def _domain_to_form_error(exc: DomainError) -> ValidationError:
    return ValidationError([f"{e.get('field', '')}: {e.get('message', '')}" for e in exc.errors] or [exc.localized()])


class ReferenceDataAdmin(PortalHistoryAdmin):
    """Provinces and regions come from the data migration (GB/T 2260); only a superuser edits them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Province)
class ProvinceAdmin(ReferenceDataAdmin):
    list_display = ["code", "name", "pooling_model"]  # the Chinese name people read; name_en stays searchable
    search_fields = ["code", "name", "name_en"]
    list_filter = ["pooling_model"]
    province_fields = ("code",)
    # A province changes pooling model only through pooling's PoolingModelChange (its regional
    # accounts consolidated by approved transfers first), never by editing this field.
    readonly_fields = ["pooling_model"]


@admin.register(PoolingRegion)
class PoolingRegionAdmin(ReferenceDataAdmin):
    list_display = ["code", "name", "province"]
    search_fields = ["code", "name"]
    list_filter = ["province"]
    list_select_related = ["province"]
    province_fields = ("province__code",)
    list_per_page = 400  # every GB/T 2260 pooling region (364) on one page


@admin.register(BenefitPolicy)
class BenefitPolicyAdmin(DetailActionsMixin, ProvinceScopedAdmin):
    """A policy's change page is its detail page: the buttons this user may use (submit,
    approve, send back with a reason; each behind a confirmation step) and its timeline."""

    list_display = [
        "province",
        "scheme",
        "setting",
        "hospital_level",
        "effective_from",
        "effective_to",
        "status",
        "created_by",
        "approved_by",
    ]
    list_filter = ["status", "scheme", "setting", "province"]
    readonly_fields = ["status", "created_by", "created_at", "submitted_by", "submitted_at", "approved_by", "approved_at"]
    actions = None

    def has_change_permission(self, request: HttpRequest, obj: BenefitPolicy | None = None) -> bool:
        if obj is not None and obj.status != BenefitPolicy.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: BenefitPolicy | None = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), admin_rules.disease_terms_link]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)

        class PolicyForm(base):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                data = super().clean()
                try:
                    require_role(request.user, *services.POLICY_EDITORS)
                    if data.get("province") is not None:
                        require_province(request.user, data["province"].code)
                    values = {name: data.get(name, getattr(self.instance, name)) for name in services.POLICY_FIELDS}
                    services.check_policy_values(values)
                except DomainError as exc:
                    raise _domain_to_form_error(exc) from exc
                return data

        return PolicyForm

    def save_model(self, request: HttpRequest, obj: BenefitPolicy, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data.get(name, getattr(obj, name)) for name in services.POLICY_FIELDS}
        if change:
            saved = services.policy_update_draft(policy=obj, user=request.user, reason="edited in admin", **values)
        else:
            saved = services.policy_create_draft(user=request.user, province=form.cleaned_data["province"], **values)
        obj.pk = saved.pk

    def detail_summary(self, request: HttpRequest, obj: BenefitPolicy) -> list[tuple[Any, Any]]:
        return [
            (_("policy"), str(obj)),
            (_("status"), obj.get_status_display()),
            (_("deductible"), format_yuan(obj.deductible_fen)),
            (_("annual cap"), format_yuan(obj.annual_cap_fen)),
        ]

    def detail_actions(self, request: HttpRequest, obj: BenefitPolicy) -> list[Action]:
        user = request.user
        offered = {
            "submit": Action(
                "submit",
                _("Submit for approval"),
                lambda reason: services.policy_submit(policy=obj, user=user),
                explain=_("A colleague of the province who did not draft, edit or submit it approves it."),
                done=_("submitted"),
            ),
            "approve": Action(
                "approve",
                _("Approve"),
                lambda reason: services.policy_approve(policy=obj, user=user),
                explain=_("The policy is in force over its dates from now on."),
                done=_("approved"),
            ),
            "send_back": Action(
                "send_back",
                _("Send back to draft"),
                lambda reason: services.policy_reject(policy=obj, user=user, reason=reason),
                reason=REQUIRED,
                danger=True,
                explain=_("The policy goes back to draft; its editors read your reason."),
                done=_("sent back to draft"),
            ),
        }
        return [offered[name] for name in services.policy_actions_for(policy=obj, user=user)]

    def get_urls(self) -> list[URLPattern]:
        extra = [path("simulate/", self.admin_site.admin_view(self.simulate_view), name="benefits_simulate")]
        return extra + admin_rules.disease_terms_urls(self) + super().get_urls()

    def simulate_view(self, request: HttpRequest) -> HttpResponse:
        form = SimulationForm(request.POST or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Simulate: at home vs away"),
            "form": form,
            "reason_labels": REASON_LABELS,
        }
        if request.method == "POST" and form.is_valid():
            try:
                context["simulation"] = form.simulate()
            except DomainError as exc:
                context["error"] = error_message(exc)
        return TemplateResponse(request, "benefits/simulate.html", context)


class SimulationForm(forms.Form):
    home_province = forms.ModelChoiceField(Province.objects.all(), to_field_name="code", label=_("Home province"))
    destination_province = forms.ModelChoiceField(Province.objects.all(), to_field_name="code", label=_("Destination province"))
    date_of_service = forms.DateField(initial=dt.date.today, label=_("Date of service"))
    scheme = forms.ChoiceField(choices=Scheme.choices, label=_("Scheme"))
    setting = forms.ChoiceField(choices=CareSetting.choices, label=_("Setting"))
    hospital_level = forms.ChoiceField(choices=HospitalLevel.choices, initial=HospitalLevel.L3A, label=_("Hospital level"))
    registered = forms.BooleanField(required=False, label=_("Registered"), help_text=_("filed for cross-province care"))
    diagnoses = forms.CharField(required=False, label=_("Diagnoses"), help_text=_("ICD-10 codes separated by commas"))
    deductible_used_yuan = forms.DecimalField(min_value=0, decimal_places=2, initial=0, label=_("Deductible already met (yuan)"))
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        label=_("Lines"),
        help_text=_("one line per row: code,quantity[,amount in yuan] — service items are priced by each province's schedule"),
    )

    def clean_lines(self) -> list[SimulatedLine]:
        parsed = []
        for number, row in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not row.strip():
                continue
            cells = [part.strip() for part in row.split(",")]
            try:
                if len(cells) not in (2, 3):
                    raise ValueError(row)
                amount = yuan_to_fen(cells[2]) if len(cells) == 3 and cells[2] else None
                parsed.append(SimulatedLine(line_no=number, code=normalise_code(cells[0]), quantity=Decimal(cells[1]), amount_fen=amount))
            except (ValueError, ArithmeticError) as exc:
                raise ValidationError(_("row %(n)s: expected code,quantity[,amount in yuan]") % {"n": number}) from exc
        if not parsed:
            raise ValidationError(_("at least one line"))
        return parsed

    def simulate(self) -> Simulation:
        data = self.cleaned_data
        home = data["home_province"].code
        base = Claim(
            home_province=home,
            destination_province=home,
            date_of_service=data["date_of_service"],
            scheme=data["scheme"],
            setting=data["setting"],
            hospital_level=data["hospital_level"],
            registered=data["registered"],
            diagnoses=tuple(d.strip() for d in data["diagnoses"].split(",") if d.strip()),
            deductible_used_fen=yuan_to_fen(data["deductible_used_yuan"]),
            lines=(),
        )
        return simulate(claim=base, lines=data["lines"], destination_province=data["destination_province"].code)


@admin.register(LocalItem)
class LocalItemAdmin(ProvinceScopedAdmin):
    list_display = ["province", "code", "name", "category", "effective_from", "sunset_date", "national_code"]
    list_filter = ["province", "category"]
    search_fields = ["code", "name", "national_code"]
    ordering = ["sunset_date"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)

        class LocalItemForm(base):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                data = super().clean()
                try:
                    require_role(request.user, *services.POLICY_EDITORS)
                    if data.get("province") is not None:
                        require_province(request.user, data["province"].code)
                    if data.get("national_code"):
                        data["national_code"] = validate_catalog_code(data["national_code"])
                except DomainError as exc:
                    raise _domain_to_form_error(exc) from exc
                except CodeError as exc:
                    raise ValidationError({"national_code": exc.reason}) from exc
                return data

        return LocalItemForm

    def save_model(self, request: HttpRequest, obj: LocalItem, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data.get(name, getattr(obj, name)) for name in services.LOCAL_ITEM_FIELDS}
        saved = services.local_item_save(user=request.user, province=form.cleaned_data["province"], code=obj.code, reason="admin", **fields)
        obj.pk = saved.pk

    def get_urls(self) -> list[URLPattern]:
        extra = [path("sunset/", self.admin_site.admin_view(self.sunset_view), name="benefits_sunset_report")]
        return extra + super().get_urls()

    def sunset_view(self, request: HttpRequest) -> HttpResponse:
        """What lapses in the next N days (default 90), per province, soonest first."""
        try:
            days = max(1, min(int(request.GET.get("days", 90)), 3660))
        except ValueError:
            days = 90
        today = dt.date.today()
        items = local_items_lapsing(today=today, days=days, province_code=staff_province(request.user))
        by_province: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            by_province.setdefault(str(item.province), []).append({"item": item, "days_left": (item.sunset_date - today).days})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Local items lapsing in the next %(days)s days") % {"days": days},
            "days": days,
            "today": today,
            "by_province": by_province,
        }
        return TemplateResponse(request, "benefits/sunset_report.html", context)


@admin.register(DiagnosisCode)
class DiagnosisCodeAdmin(PortalAdmin):
    list_display = ["code", "name", "category_code", "chapter_range"]
    search_fields = ["code", "name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
