from django.apps import AppConfig


class HospitalsConfig(AppConfig):
    name = "apps.hospitals"
    label = "hospitals"
    verbose_name = "Hospitals and API keys"

    def ready(self) -> None:
        from apps.catalog.signals import release_published, release_publishing
        from apps.core.jobs import register_job_kind

        from .mapping_services import JOB_KIND, mappings_job_handler
        from .services import publish_generation_advance
        from .tasks import queue_recheck_on_publish

        register_job_kind(kind=JOB_KIND, handler=mappings_job_handler)
        # After the publish commits: re-check every hospital's code mappings against it.
        release_published.connect(queue_recheck_on_publish, dispatch_uid="hospitals.recheck_mappings_on_publish")
        # Inside the publish transaction: the replica serves the catalog API only once it has
        # replayed this publish (apps.core.replica).
        release_publishing.connect(publish_generation_advance, dispatch_uid="hospitals.publish_generation_advance")
