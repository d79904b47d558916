"""The admin pages of third-party apps, in the reader's language.

- Users and groups: Django stores permission names in English ("Can add catalog item") when it
  migrates; the permission pickers label each permission from its app, model and action instead
  (``permission_label``), so they read in Chinese under zh-hans.
- TOTP devices (django-otp): the fieldset titles and the search hint are plain English strings.
- Scheduled tasks (django-celery-beat): the portal schedules with crontabs (monthly runs, daily
  reminders, editable here) and intervals (the sweeps of ``CELERY_BEAT_SCHEDULE``); the clocked
  and solar schedule pages it never uses are not offered. A crontab reads in the reader's
  language (cron-descriptor's own Chinese) and its time zone is chosen from the two the portal
  means (Asia/Shanghai, UTC) instead of some 600 world zone names.

Imported by ``apps.core.admin``, after the apps' own admin modules registered their classes.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.http import HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

PERMISSION_ACTIONS = {
    "add": _("Can add {model}"),
    "change": _("Can change {model}"),
    "delete": _("Can delete {model}"),
    "view": _("Can view {model}"),
}


def _model_name(model: type[models.Model] | None, fallback: str) -> str:
    if model is None:
        return fallback
    original = getattr(model, "instance_type", None)  # a simple-history model: history of its model
    if original is not None:
        return str(format_lazy(_("history of {model}"), model=original._meta.verbose_name))
    return str(model._meta.verbose_name)


def permission_label(permission: Permission) -> str:
    """'app | model | action' in the active language, built from the model's labels."""
    content_type = permission.content_type
    model = content_type.model_class()
    model_name = _model_name(model, content_type.model)
    action, _sep, codename_model = permission.codename.partition("_")
    if action in PERMISSION_ACTIONS and model is not None and codename_model == model._meta.model_name:
        name = str(format_lazy(PERMISSION_ACTIONS[action], model=model_name))
    else:
        name = gettext(permission.name)  # a custom permission: its name is a msgid of ours
    app = apps.app_configs.get(content_type.app_label)
    return f"{app.verbose_name if app else content_type.app_label} | {model_name} | {name}"


class PermissionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return permission_label(obj)


class _PermissionLabels:
    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in ("permissions", "user_permissions"):
            kwargs["form_class"] = PermissionChoiceField
            kwargs.setdefault("queryset", Permission.objects.select_related("content_type"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


def _reregister(model: type[models.Model], admin_class: type[admin.ModelAdmin]) -> None:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, admin_class)


User = apps.get_model("auth", "User")
if admin.site.is_registered(User) and type(admin.site._registry[User]) is UserAdmin:

    class PortalUserAdmin(_PermissionLabels, UserAdmin):  # type: ignore[type-arg]
        pass

    _reregister(User, PortalUserAdmin)

if admin.site.is_registered(Group) and type(admin.site._registry[Group]) is GroupAdmin:

    class PortalGroupAdmin(_PermissionLabels, GroupAdmin):  # type: ignore[misc]
        pass

    _reregister(Group, PortalGroupAdmin)


if apps.is_installed("django_otp.plugins.otp_totp"):
    from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTP_FIELDSETS = {
        "Identity": _("Identity"),
        "Timestamps": _("Timestamps"),
        "Configuration": _("Configuration"),
        "State": _("State"),
        "Throttling": _("Throttling"),
    }

    class PortalTOTPDeviceAdmin(TOTPDeviceAdmin):
        search_help_text = _("Search by the user's user name or email address")

        def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
            return [(TOTP_FIELDSETS.get(name, name) if name else name, options) for name, options in super().get_fieldsets(request, obj)]

    _reregister(TOTPDevice, PortalTOTPDeviceAdmin)


if apps.is_installed("django_celery_beat"):
    from django_celery_beat.admin import CrontabScheduleAdmin, IntervalScheduleAdmin, PeriodicTaskAdmin
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

    for unused in (ClockedSchedule, SolarSchedule):
        if admin.site.is_registered(unused):
            admin.site.unregister(unused)

    # The portal's scheduled tasks by their Celery name (config.settings.base and the migrations
    # that add crontab entries).
    TASK_LABELS = {
        "notices.deliver_due": _("deliver due change notices"),
        "notices.remind_unacknowledged": _("remind hospitals of releases they have not acknowledged"),
        "core.jobs_recover": _("recover jobs of stopped workers"),
        "core.send_due_email": _("send the emails waiting in the outbox"),
        "catalog.search_index_due": _("rebuild a lost search index"),
        "pooling.daily_checks": _("advance top-ups and budget alerts (daily)"),
        "pooling.adjustment_previous_month": _("risk adjustment of the previous month (10th of each month)"),
        "reconciliation.run_previous_month": _("reconciliation of the previous month (5th of each month)"),
        "celery.backend_cleanup": _("clean up stored task results"),
        "pooling.ledger_partitions_ensure": _("create this and next month's ledger partitions (daily)"),
        "reconciliation.settlement_partitions_ensure": _("create this and next month's settlement partitions (daily)"),
    }

    TIME_ZONES = [("Asia/Shanghai", _("Beijing time (Asia/Shanghai)")), ("UTC", _("Coordinated Universal Time (UTC)"))]

    def crontab_description(crontab: CrontabSchedule) -> str:
        """The crontab in words, in the reader's language (cron-descriptor ships Chinese)."""
        from cron_descriptor import ExpressionDescriptor, Options

        options = Options()
        options.locale_code = "zh_CN" if (get_language() or "").startswith("zh") else "en_US"
        options.use_24hour_time_format = True
        expression = f"{crontab.minute} {crontab.hour} {crontab.day_of_month} {crontab.month_of_year} {crontab.day_of_week}"
        try:
            words = ExpressionDescriptor(expression, options).get_description()
        except Exception:  # noqa: BLE001 - an expression cron-descriptor cannot read: show it as written
            words = expression
        zone = dict(TIME_ZONES).get(str(crontab.timezone), str(crontab.timezone))
        return f"{words}（{zone}）" if options.locale_code == "zh_CN" else f"{words} ({zone})"

    class CrontabForm(forms.ModelForm):
        timezone = forms.ChoiceField(choices=TIME_ZONES, label=_("time zone"), initial="Asia/Shanghai")

        class Meta:
            model = CrontabSchedule
            fields = ["minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone"]

    class PortalCrontabScheduleAdmin(CrontabScheduleAdmin):
        form = CrontabForm
        inlines: list[Any] = []
        list_display = ("__str__", "in_words")
        fields = ("in_words", "minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")
        readonly_fields = ("in_words",)

        @admin.display(description=_("in words"))
        def in_words(self, obj: CrontabSchedule) -> str:
            return crontab_description(obj) if obj.pk else "—"

    class PortalIntervalScheduleAdmin(IntervalScheduleAdmin):
        inlines: list[Any] = []

    class PortalPeriodicTaskAdmin(PeriodicTaskAdmin):
        change_form_template = "admin/portal/periodictask_change_form.html"
        list_display = ("task_shown", "enabled", "schedule_in_words", "start_time", "last_run_at", "one_off")

        @admin.display(description=_("task"), ordering="name")
        def task_shown(self, obj: PeriodicTask) -> str:
            """What the task does, in the reader's language (the stored name is an English key)."""
            label = TASK_LABELS.get(obj.task)
            return str(label) if label is not None else obj.name

        @admin.display(description=_("schedule"))
        def schedule_in_words(self, obj: PeriodicTask) -> str:
            if obj.crontab_id:
                return crontab_description(obj.crontab)
            return str(obj.interval or obj.solar or obj.clocked or "—")

        def crontab_translation(self, obj: PeriodicTask) -> str:
            return crontab_description(obj.crontab) if obj.crontab_id else ""

        def changeform_view(self, request: HttpRequest, object_id: Any = None, form_url: str = "", extra_context: Any = None) -> Any:
            extra = {"readable_crontabs": {c.pk: crontab_description(c) for c in CrontabSchedule.objects.all()}, **(extra_context or {})}
            return admin.ModelAdmin.changeform_view(self, request, object_id, form_url, extra)

    _reregister(CrontabSchedule, PortalCrontabScheduleAdmin)
    _reregister(IntervalSchedule, PortalIntervalScheduleAdmin)
    _reregister(PeriodicTask, PortalPeriodicTaskAdmin)
