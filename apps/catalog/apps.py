from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "apps.catalog"
    label = "catalog"
    verbose_name = _("National catalog")

    def ready(self) -> None:
        from apps.core.jobs import register_job_kind

        from .importers.services import JOB_KIND, import_job_handler

        register_job_kind(kind=JOB_KIND, handler=import_job_handler)
        # An item's history row goes into its release's partition, made at the first one.
        from simple_history.signals import pre_create_historical_record

        from .models import CatalogItem
        from .sql import item_history_partition_ready

        pre_create_historical_record.connect(
            item_history_partition_ready, sender=CatalogItem.history.model, dispatch_uid="catalog_item_history_partition"
        )
        # Importing the search module connects its receiver: a published release's search rows
        # are written by a worker right after the publish commits.
        from . import search, tasks  # noqa: F401  (tasks: registers catalog.search_index, looked up by name)
