from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_role_groups(**kwargs: Any) -> None:
    """One group per role with the model permissions of ROLE_PERMISSIONS (after every migrate)."""
    from django.contrib.auth.models import Group, Permission

    from .roles import ROLE_PERMISSIONS

    for role, apps in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = Permission.objects.none()
        for target, actions in apps.items():
            # "app" grants the actions on every model of the app, "app.model" on that model only.
            app_label, _dot, model = target.partition(".")
            for action in actions:
                if model:
                    wanted = wanted | Permission.objects.filter(content_type__app_label=app_label, codename=f"{action}_{model}")
                else:
                    wanted = wanted | Permission.objects.filter(content_type__app_label=app_label, codename__startswith=f"{action}_")
        group.permissions.set(wanted)


def pin_function_search_paths(using: str = "default", **kwargs: Any) -> None:
    """Every plpgsql function of ours runs with the schema first and pg_temp last (see dbroles)."""
    from .dbroles import functions_pin_search_path

    functions_pin_search_path(using=using)


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = _("Portal settings and audit")

    def ready(self) -> None:
        post_migrate.connect(sync_role_groups, dispatch_uid="core.sync_role_groups")
        post_migrate.connect(pin_function_search_paths, sender=self, dispatch_uid="core.pin_function_search_paths")
        from .third_party_labels import label_third_party_apps, label_totp_devices

        label_totp_devices()
        label_third_party_apps()
        from . import tasks  # noqa: F401  (registers core.run_job, which job_enqueue looks up by name)
