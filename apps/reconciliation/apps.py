from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "apps.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation between provinces"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind

        from . import services

        register_job_kind(kind=services.IMPORT_JOB, handler=services.settlement_import_job_handler)
        register_job_kind(kind=services.RUN_JOB, handler=services.reconciliation_job_handler)
