from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReconciliationConfig(AppConfig):
    name = "apps.reconciliation"
    label = "reconciliation"
    verbose_name = _("Reconciliation between provinces")

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind

        from . import selectors, services

        register_job_kind(
            kind=services.IMPORT_JOB, handler=services.settlement_import_job_handler, reader=selectors.settlement_import_job_reader
        )
        # A run is national; province-bound readers see its job cut down to their province.
        register_job_kind(
            kind=services.RUN_JOB,
            handler=services.reconciliation_job_handler,
            reader=selectors.reconciliation_job_reader,
            provinces_see_national=True,
        )
