from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "apps.catalog"
    label = "catalog"
    verbose_name = "National catalog"

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind

        from .importers.services import JOB_KIND, import_job_handler

        register_job_kind(kind=JOB_KIND, handler=import_job_handler)
        # Importing the search module connects its publish receiver (the release's search rows
        # are written in the publishing transaction).
        from . import search  # noqa: F401
