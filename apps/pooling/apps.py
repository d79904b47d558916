from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
from django.utils.translation import gettext_lazy as _


def _ensure_accounts_after_migrate(**kwargs: Any) -> None:
    from django.db import connections

    from .models import FundAccount

    # A partial migrate (e.g. `migrate catalog 0002` on a new database) runs this before the
    # pooling tables exist: there is nothing to ensure yet.
    connection = connections[kwargs.get("using") or "default"]
    if FundAccount._meta.db_table not in connection.introspection.table_names():
        return
    from .services import accounts_ensure

    accounts_ensure()


def _region_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created or kwargs.get("raw"):
        return
    from django.db import transaction

    from .services import accounts_ensure

    transaction.on_commit(accounts_ensure)


def _clearing_recorded(sender: Any, *, period: str, pairs: list[tuple[str, str, int, int]], source: str, **kwargs: Any) -> None:
    from .services import clearing_record

    clearing_record(period=period, pairs=pairs, source=source)


class PoolingConfig(AppConfig):
    name = "apps.pooling"
    label = "pooling"
    verbose_name = _("Pooling adjustment funds")

    def ready(self) -> None:
        from apps.benefits.models import PoolingRegion, Province

        # Every province (and pooling region) has its accounts: after migrate, and as soon as a
        # province or region is added later.
        post_migrate.connect(_ensure_accounts_after_migrate, sender=self, dispatch_uid="pooling.ensure_accounts")
        post_save.connect(_region_saved, sender=PoolingRegion, dispatch_uid="pooling.region_accounts")
        post_save.connect(_region_saved, sender=Province, dispatch_uid="pooling.province_accounts")

        from apps.core.jobs import register_job_kind

        from . import services, signals, tasks  # noqa: F401  (tasks: registers pooling.after_clearing, looked up by name)

        signals.clearing_recorded.connect(_clearing_recorded, dispatch_uid="pooling.clearing_recorded")
        register_job_kind(kind=services.FIGURES_IMPORT_JOB, handler=services.figures_import_job_handler)
        register_job_kind(kind=services.ADJUSTMENT_JOB, handler=services.adjustment_job_handler)
